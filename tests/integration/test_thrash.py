"""Thrash test: random SIGKILL/restart of chunkservers and one master restart
while clients upload and download. Downloads during the chaos are verified
by SHA-256 (some must be); at the end every acknowledged file reads back with
the right SHA-256 and every chunk is back to full replication. An exception in
a client thread fails the test.

Bounded: CAIRN_THRASH_SECONDS (default 60) of chaos, then a recovery deadline.
Run longer on demand, e.g. CAIRN_THRASH_SECONDS=900.
"""

import os
import random
import threading
import time
import traceback

import pytest

from cluster import Cluster, payload, sha256, wait_until

CHAOS_SECONDS = float(os.environ.get("CAIRN_THRASH_SECONDS", "60"))
CHUNKSERVERS = 5
MAX_DOWN = 2  # replication - 1: some replica of every chunk stays up
MIB = 1 << 20


@pytest.fixture
def thrash_cluster(tmp_path):
    c = Cluster(tmp_path / "cluster", num_chunkservers=CHUNKSERVERS,
                master_args=["--stale_after", "1s", "--dead_after", "4s", "--gc_grace", "2s"])
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_thrash(thrash_cluster):
    c = thrash_cluster
    rng = random.Random(int(os.environ.get("CAIRN_THRASH_SEED", "1234")))
    print(f"thrash: seed {os.environ.get('CAIRN_THRASH_SEED', '1234')}, {CHAOS_SECONDS}s of chaos")
    acked = {}  # path -> sha256 of what a 201 acknowledged
    lock = threading.Lock()
    stop = threading.Event()
    stats = {"uploads_ok": 0, "uploads_failed": 0, "reads_verified": 0, "reads_failed": 0,
             "chunkserver_kills": 0, "chunkserver_restarts": 0, "master_restarts": 0}
    errors = []
    reasons = {}
    crashed = []  # tracebacks of client threads that died

    def guarded(target, *args):
        """Runs a client loop; an exception it raises is recorded, and stops the chaos."""
        def run():
            try:
                target(*args)
            except BaseException:  # noqa: B902 -- any escape is a test failure
                with lock:
                    crashed.append(f"{threading.current_thread().name}: {traceback.format_exc()}")
                stop.set()
        return threading.Thread(target=run, name=f"{target.__name__}{args}")

    def error(message):
        with lock:
            errors.append(message)

    def count(key):
        with lock:
            stats[key] += 1

    def note(reason):
        with lock:
            reasons[reason] = reasons.get(reason, 0) + 1

    def uploader(wid):
        r = random.Random(wid)
        i = 0
        while not stop.is_set():
            size = r.choice([0, 1, 1000, MIB - 1, MIB, MIB + 1, 3 * MIB + 17, r.randrange(4 * MIB)])
            data = payload(size, wid * 100000 + i)
            path = f"/thrash/w{wid}/f{i}"
            i += 1
            try:
                resp = c.gw.put(path, data)
            except Exception as e:  # connection reset while the gateway's peers die
                count("uploads_failed")
                note(f"upload {type(e).__name__}")
                time.sleep(0.05)
                continue
            if resp.status == 201:
                got = resp.json().get("sha256")
                if got != sha256(data):
                    error(f"{path}: 201 with sha256 {got}, want {sha256(data)}")
                with lock:
                    acked[path] = sha256(data)
                count("uploads_ok")
            elif resp.status in (503, 507):
                count("uploads_failed")
                note(f"upload {resp.status} {resp.json()['error']['message'][:70]}")
                time.sleep(0.05)
            else:
                error(f"{path}: unexpected upload status {resp.status} {resp.body[:200]!r}")

    def reader():
        r = random.Random(99)
        while not stop.is_set():
            with lock:
                paths = list(acked.items())
            if not paths:
                time.sleep(0.05)
                continue
            path, digest = r.choice(paths)
            try:
                resp = c.gw.get(path)
            except Exception as e:
                count("reads_failed")
                note(f"read {type(e).__name__}")
                time.sleep(0.05)
                continue
            if resp.status == 200:
                if sha256(resp.body) != digest:
                    # A truncated body is a failed read (the connection broke);
                    # a full-length body with other bytes would be corruption.
                    if resp.header("Content-Length") and len(resp.body) == int(resp.header("Content-Length")):
                        error(f"{path}: served wrong bytes")
                    count("reads_failed")
                else:
                    count("reads_verified")
            else:
                count("reads_failed")
                note(f"read {resp.status} {resp.body[:70].decode(errors='replace')}")
                time.sleep(0.05)

    workers = [guarded(uploader, w) for w in range(3)]
    workers.append(guarded(reader))
    for t in workers:
        t.start()

    down = set()
    deadline = time.monotonic() + CHAOS_SECONDS
    master_restart_at = time.monotonic() + CHAOS_SECONDS / 2
    try:
        while time.monotonic() < deadline and not stop.is_set():
            time.sleep(rng.uniform(0.5, 2.5))
            if master_restart_at and time.monotonic() >= master_restart_at:
                c.kill_master()
                c.restart_master()
                count("master_restarts")
                master_restart_at = None
                continue
            if down and (len(down) >= MAX_DOWN or rng.random() < 0.5):
                i = rng.choice(sorted(down))
                c.restart_chunkserver(i)
                down.discard(i)
                count("chunkserver_restarts")
            else:
                i = rng.choice([j for j in range(CHUNKSERVERS) if j not in down])
                c.kill_chunkserver(i)
                down.add(i)
                count("chunkserver_kills")
    finally:
        stop.set()
        for t in workers:
            t.join()
        for i in sorted(down):
            c.restart_chunkserver(i)
            count("chunkserver_restarts")

    print("thrash:", stats, f"acknowledged files: {len(acked)}")
    for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:10]:
        print(f"thrash:   {n:5d} x {reason}")
    assert not crashed, "client thread(s) raised:\n" + "\n".join(crashed)
    assert not errors, errors[:10]
    assert stats["uploads_ok"] > 0
    # Downloads whose SHA-256 matched what was acknowledged, during the chaos.
    assert stats["reads_verified"] > 0, stats

    # Every chunk back to full replication.
    def fully_replicated():
        r = c.gw.cluster()
        if r.status != 200:
            return None
        body = r.json()
        t = body["totals"]
        if body.get("safe_mode") or t["under_replicated"] or t["alive"] < CHUNKSERVERS:
            return None
        return body

    start = time.monotonic()
    wait_until(fully_replicated, 120, "every chunk fully replicated after the thrash")
    print(f"thrash: full replication {time.monotonic() - start:.1f}s after the chaos ended")

    # Every acknowledged file reads back, byte for byte, with 3 distinct replicas per chunk.
    verified = 0
    for path, digest in sorted(acked.items()):
        resp = c.gw.get(path)
        assert resp.status == 200, (path, resp)
        assert sha256(resp.body) == digest, path
        assert resp.header("X-Checksum-Sha256") == digest, path
        verified += 1
        info = c.gw.fileinfo(path).json()
        for chunk in info.get("chunks", []):
            ids = {r["node_id"] for r in chunk["replicas"]}
            assert len(ids) >= 3, (path, chunk)
    print(f"thrash: {verified} of {len(acked)} acknowledged files verified after recovery")
    assert verified == len(acked) > 0
