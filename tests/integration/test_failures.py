"""Daemon crashes: SIGKILL the master or chunkservers of a cluster of its own.

- A master restart (same root dir, same ports) loses no acknowledged file or
  namespace mutation; uploads interrupted by the crash are either absent or
  complete, never partial.
- With replication 3, reads keep working after one and after two of the three
  chunkservers die (a read fails over to a live replica), and a chunkserver
  restarted on its volume comes back with the same node id.
"""

import http.client
import threading

from cluster import CHUNK, assert_same_bytes, payload, sha256, wait_until

RECOVERY_TIMEOUT = 30.0


def upload_all(gw, files):
    for path, data in files.items():
        r = gw.put(path, data)
        assert r.status == 201, r


def assert_reads_back(gw, files):
    for path, data in files.items():
        g = gw.get(path)
        assert g.status == 200, g
        assert_same_bytes(g.body, data, path)
        assert g.header("X-Checksum-Sha256").lower() == sha256(data), g.headers


def poll_reads_back(gw, files, timeout=RECOVERY_TIMEOUT):
    """Waits until every file reads back; then checks every byte."""
    for path in files:
        wait_until(lambda: gw.get(path).status == 200, timeout,
                   f"GET {path} == 200")
    assert_reads_back(gw, files)


def test_master_restart_keeps_acknowledged_files(fresh_cluster):
    c = fresh_cluster
    gw = c.gw
    files = {f"/m/f{i}": payload(size, seed=700 + i) for i, size in
             enumerate([0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 12345])}
    upload_all(gw, files)
    # Acknowledged namespace mutations just before the crash.
    assert gw.mkdir("/m/empty/dir").status in (200, 201)
    assert gw.rename("/m/f1", "/m/renamed").status in (200, 201, 204)
    files["/m/renamed"] = files.pop("/m/f1")
    assert gw.delete("/m/f0").status in (200, 204)
    del files["/m/f0"]

    c.kill_master()
    c.restart_master()

    poll_reads_back(gw, files)
    assert gw.get("/m/f1").status == 404
    assert gw.get("/m/f0").status == 404
    r = gw.list("/m/empty")
    assert r.status == 200 and [e["name"] for e in r.json()["entries"]] == ["dir"], r
    r = gw.list("/m")
    assert r.status == 200, r
    assert [e["name"] for e in r.json()["entries"]] == [
        "empty", "f2", "f3", "f4", "renamed"], r

    # The restarted master takes new uploads once chunkservers report in.
    fresh = payload(CHUNK + 5, seed=799)
    wait_until(lambda: gw.put("/m/after", fresh).status == 201,
               RECOVERY_TIMEOUT, "PUT after master restart == 201")
    assert_reads_back(gw, {"/m/after": fresh})

    def all_replicas_reported():
        info = gw.fileinfo("/m/f4").json()
        return all(len({r["node_id"] for r in chunk["replicas"]}) == 3
                   for chunk in info["chunks"]) and info

    wait_until(all_replicas_reported, RECOVERY_TIMEOUT,
               "fileinfo /m/f4 to list 3 replicas per chunk again")


def test_master_crash_during_uploads(fresh_cluster):
    """Uploads racing a master SIGKILL: acknowledged ones all survive; the
    others are absent or complete."""
    c = fresh_cluster
    gw = c.gw
    acked = {}
    attempted = {}
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def uploader(t):
        i = 0
        while not stop.is_set():
            path = f"/crash/t{t}/f{i}"
            data = payload(CHUNK // 3 + 77_777 * (i % 7), seed=t * 1000 + i)
            with lock:
                attempted[path] = data
            try:
                r = gw.put(path, data)
            except (OSError, http.client.HTTPException):
                r = None  # connection trouble while the master is down
            except Exception as e:
                errors.append(repr(e))
                return
            if r is not None and r.status == 201:
                with lock:
                    acked[path] = data
            i += 1

    threads = [threading.Thread(target=uploader, args=(t,), daemon=True)
               for t in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: len(acked) >= 6, RECOVERY_TIMEOUT, "6 acknowledged uploads")
    c.kill_master()
    with lock:
        acked_before_kill = dict(acked)
    c.restart_master()
    stop.set()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "uploader still running after deadline"
    assert not errors, errors
    print(f"{len(acked)} of {len(attempted)} uploads acknowledged, "
          f"{len(acked_before_kill)} before the kill")

    poll_reads_back(gw, acked)
    for path, data in attempted.items():
        if path in acked:
            continue
        g = gw.get(path)
        assert g.status in (200, 404), g
        if g.status == 200:  # committed, reply lost: must be whole
            assert_same_bytes(g.body, data, f"unacknowledged {path}")
    assert set(acked_before_kill) <= set(acked)


def first_replica_node(gw, path):
    info = gw.fileinfo(path).json()
    return info["chunks"][0]["replicas"][0]["node_id"]


def chunkserver_index(c, node_id):
    """Index in c.chunkservers of the node with this id (matched by port)."""
    by_id = {n["id"]: n["address"] for n in c.nodes()}
    addr = by_id[node_id]
    for i, cs in enumerate(c.chunkservers):
        if cs.grpc.rsplit(":", 1)[1] == addr.rsplit(":", 1)[1]:
            return i
    raise AssertionError(f"node {node_id} at {addr} is none of "
                         f"{[cs.grpc for cs in c.chunkservers]}")


def failover_files():
    return {f"/cs/f{i}": payload(size, seed=800 + i) for i, size in
            enumerate([1, CHUNK + 1, 4 * CHUNK + 999])}


def test_reads_fail_over_when_a_chunkserver_dies(fresh_cluster):
    c = fresh_cluster
    gw = c.gw
    files = failover_files()
    upload_all(gw, files)
    node_ids_before = {n["address"]: n["id"] for n in c.nodes()}

    # Kill the node listed first for a chunk, so a read must fail over.
    victim_id = first_replica_node(gw, "/cs/f2")
    victim = chunkserver_index(c, victim_id)
    c.kill_chunkserver(victim)

    assert_reads_back(gw, files)  # immediately: no waiting for detection
    data = files["/cs/f2"]
    r = gw.get("/cs/f2", {"Range": f"bytes={CHUNK - 10}-{2 * CHUNK + 10}"})
    assert r.status == 206, r
    assert_same_bytes(r.body, data[CHUNK - 10:2 * CHUNK + 11], "range")

    # Back on its volume: same node id, full service again.
    c.restart_chunkserver(victim)
    c.wait_nodes_alive(3)
    assert {n["address"]: n["id"] for n in c.nodes()} == node_ids_before
    c.wait_gateway_ready()
    assert_reads_back(gw, files)
    fresh = payload(2 * CHUNK, seed=899)
    wait_until(lambda: gw.put("/cs/after", fresh).status == 201,
               RECOVERY_TIMEOUT, "PUT after chunkserver restart == 201")
    assert_reads_back(gw, {"/cs/after": fresh})
    info = gw.fileinfo("/cs/after").json()
    for chunk in info["chunks"]:
        assert victim_id in {r["node_id"] for r in chunk["replicas"]}, chunk


def test_reads_survive_losing_two_of_three_chunkservers(fresh_cluster):
    c = fresh_cluster
    gw = c.gw
    files = failover_files()
    upload_all(gw, files)
    c.kill_chunkserver(0)
    c.kill_chunkserver(1)
    assert_reads_back(gw, files)
    r = gw.head("/cs/f2")
    assert r.status == 200, r
    assert r.header("Content-Length") == str(len(files["/cs/f2"]))

    # One live chunkserver cannot hold 3 replicas: the upload fails with 503
    # and, being atomic, leaves no visible file.
    r = gw.put("/cs/doomed", payload(CHUNK + 1, seed=898))
    assert r.status == 503, r
    assert "error" in r.json(), r
    assert gw.get("/cs/doomed").status == 404
    r = gw.list("/cs")
    assert r.status == 200, r
    assert sorted(e["name"] for e in r.json()["entries"]) == ["f0", "f1", "f2"]
