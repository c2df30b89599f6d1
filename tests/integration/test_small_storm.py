"""SIGKILL storm during a small-file storm (DESIGN.md §10).

Writers PUT small files (packed: group commit) and delete some of their own
acknowledged ones, so that compaction, which runs every second here, has pack
chunks to rewrite; meanwhile each daemon in turn (every chunkserver, the
gateway, the master) is killed with SIGKILL and started again. Afterwards:

- every acknowledged file (201) reads back with exactly its bytes, unless a
  later acknowledged delete removed it;
- every file in the namespace is one a writer sent, and reads back exactly
  what was sent: no file is visible whose bytes are not durable;
- no file whose delete was acknowledged is there.

A delete that got no answer may have happened or not; its file is checked only
for its bytes if it is there.

Bounded: CAIRN_STORM_SECONDS (default 40) of chaos.
"""

import os
import random
import threading
import time
import traceback

import pytest

from cluster import Cluster, files_target, http_request, payload, wait_until

STORM_SECONDS = float(os.environ.get("CAIRN_STORM_SECONDS", "40"))
WRITERS = 8
CHUNKSERVERS = 4  # one down still leaves three for a new pack chunk


@pytest.fixture
def storm_cluster(tmp_path):
    c = Cluster(tmp_path / "cluster", num_chunkservers=CHUNKSERVERS,
                master_args=["--stale_after", "1s", "--dead_after", "4s", "--gc_grace", "1s",
                             "--compaction_interval", "1s"],
                gateway_args=["--compaction_interval", "1s"])
    c.start()
    try:
        yield c
    finally:
        c.stop()


def request(c, method, path, body=None):
    """One request to whichever gateway runs now; None if it could not be made."""
    try:
        return http_request(c.gateway.http, method, files_target(path), body=body, timeout=20)
    except OSError:
        return None


def test_sigkill_storm_during_small_uploads_loses_nothing_acknowledged(storm_cluster):
    c = storm_cluster
    rng = random.Random(int(os.environ.get("CAIRN_STORM_SEED", "7")))
    lock = threading.Lock()
    stop = threading.Event()
    sent = {}         # path -> bytes of every PUT attempted
    acked = {}        # path -> bytes, while its PUT got 201 and no delete was acknowledged
    deleted = set()   # paths whose delete was acknowledged
    unsure = set()    # paths whose delete got no answer: it may have happened
    stats = {"puts_ok": 0, "puts_failed": 0, "deletes_ok": 0, "kills": 0}
    crashed = []

    def writer(wid):
        r = random.Random(wid)
        mine = []
        i = 0
        while not stop.is_set():
            path = f"/storm/w{wid}/f{i}"
            data = payload(r.randrange(1, 20000), f"{wid}-{i}")
            i += 1
            with lock:
                sent[path] = data
            res = request(c, "PUT", path, data)
            if res is not None and res.status == 201:
                with lock:
                    acked[path] = data
                    stats["puts_ok"] += 1
                mine.append(path)
            else:
                with lock:
                    stats["puts_failed"] += 1
                time.sleep(0.05)
            # Delete two of every three acknowledged files: pack chunks go
            # mostly dead, and compaction rewrites them during the storm.
            if len(mine) >= 3 and r.random() < 0.67:
                victim = mine.pop(r.randrange(len(mine)))
                res = request(c, "DELETE", victim)
                if res is not None and res.status in (200, 204):
                    with lock:
                        acked.pop(victim, None)
                        deleted.add(victim)
                        stats["deletes_ok"] += 1
                elif res is not None and res.status == 404:
                    raise AssertionError(f"{victim} was acknowledged, then not found")
                else:
                    # No answer (the gateway died mid-call, or the master was
                    # away): the delete may have been committed or not.
                    with lock:
                        acked.pop(victim, None)
                        unsure.add(victim)

    def guarded(wid):
        try:
            writer(wid)
        except BaseException:  # noqa: B902 -- any escape is a test failure
            with lock:
                crashed.append(traceback.format_exc())
            stop.set()

    threads = [threading.Thread(target=guarded, args=(w,), name=f"writer{w}")
               for w in range(WRITERS)]
    for t in threads:
        t.start()
    victims = [f"cs{i}" for i in range(CHUNKSERVERS)] + ["gateway", "master"]
    deadline = time.monotonic() + STORM_SECONDS
    try:
        while time.monotonic() < deadline and not stop.is_set():
            time.sleep(rng.uniform(1.0, 3.0))
            victim = victims[stats["kills"] % len(victims)]
            stats["kills"] += 1
            if victim == "master":
                c.kill_master()
                time.sleep(rng.uniform(0.2, 1.0))
                c.restart_master()
            elif victim == "gateway":
                c.gateway.kill()
                time.sleep(rng.uniform(0.2, 1.0))
                c.gateway.start(reuse_ports=True)
            else:
                i = int(victim[2:])
                c.kill_chunkserver(i)
                time.sleep(rng.uniform(0.2, 1.0))
                c.restart_chunkserver(i)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    print(f"storm: {stats}")
    assert not crashed, "\n".join(crashed)
    assert stats["puts_ok"] > 50, stats
    assert stats["deletes_ok"] > 10, stats

    c.wait_gateway_ready(timeout=60)
    c.wait_nodes_alive(CHUNKSERVERS, timeout=60)

    def read(path):
        def ok():
            res = request(c, "GET", path)
            return res if res is not None and res.status in (200, 404) else None
        return wait_until(ok, 60, f"GET {path} answered")

    for path, data in sorted(acked.items()):
        res = read(path)
        assert res.status == 200, f"acknowledged {path} lost: {res}"
        assert res.body == data, f"acknowledged {path} reads other bytes"
    visible = []
    start_after = ""
    while True:
        listed = c.gw._query("/api/v1/list", path="/storm", recursive="true",
                             start_after=start_after)
        assert listed.status == 200, listed
        page = listed.json()
        visible += [e["path"] for e in page["entries"] if e["type"] != "dir"]
        if not page.get("truncated"):
            break
        start_after = page["next_start_after"]
    assert len(visible) >= len(acked), (len(visible), len(acked))
    for path in visible:
        assert path in sent, f"{path} was never sent"
        assert path not in deleted, f"{path} is back after its delete was acknowledged"
        res = read(path)
        assert res.status == 200 and res.body == sent[path], f"{path} is visible, not its bytes"
    assert not c.dead_daemons(), c.dead_daemons()
