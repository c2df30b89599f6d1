"""Small files through a real cluster: packed into shared chunks, each exact.

Uploads up to the gateway's --small_file_max go as records of pack chunks that
many concurrent uploads share (one replica pipeline, one commit). Each must
read back exactly, replace and delete as a file of its own does, and a file one
byte too large for packing still works the other way.
"""

import re

import pytest

from cluster import SMALL_FILE_MAX, Cluster, payload, sha256, wait_until
from test_concurrency import run_threads

FILES = 96
THREADS = 16


def gateway_counter(gw, name):
    r = gw.request("GET", "/metrics")
    assert r.status == 200, r
    total = 0.0
    for line in r.body.decode().splitlines():
        m = re.match(rf"{name}(\{{[^}}]*\}})? ([0-9.e+]+)$", line)
        if m:
            total += float(m.group(2))
    return total


def test_concurrent_small_files_share_pack_chunks_and_read_back_exactly(gw, ns):
    files = {f"{ns}/s{i}": payload(1 + (i * 4099) % 20000, seed=f"s{i}") for i in range(FILES)}
    paths = sorted(files)
    packed_before = gateway_counter(gw, "cairn_gateway_packed_files_total")
    batches_before = gateway_counter(gw, "cairn_gateway_pack_batches_total")

    def upload(t):
        for p in paths[t::THREADS]:
            r = gw.put(p, files[p])
            assert r.status == 201, (p, r)
            assert r.json()["sha256"] == sha256(files[p]), p

    run_threads(upload, THREADS)
    packed = gateway_counter(gw, "cairn_gateway_packed_files_total") - packed_before
    batches = gateway_counter(gw, "cairn_gateway_pack_batches_total") - batches_before
    assert packed == FILES
    assert batches < FILES, "concurrent small uploads should share pack chunks"
    handles = set()
    for p in paths:
        r = gw.get(p)
        assert r.status == 200 and r.body == files[p], p
        info = gw.fileinfo(p)
        assert info.status == 200, info
        handles.update(c["handle"] for c in info.json()["chunks"])
    assert len(handles) < FILES, handles

    # A range inside one packed file never shows its neighbours' bytes.
    p = paths[5]
    r = gw.get(p, {"Range": "bytes=1-3"})
    assert r.status == 206 and r.body == files[p][1:4], r


def test_a_packed_file_replaces_and_deletes_as_its_own(gw, ns):
    a, b = f"{ns}/a", f"{ns}/b"
    assert gw.put(a, b"first").status == 201
    assert gw.put(b, b"neighbour").status == 201
    assert gw.put(a, b"second, longer").status == 201
    assert gw.get(a).body == b"second, longer"
    assert gw.put(a, b"x", {"If-None-Match": "*"}).status == 412
    assert gw.delete(a).status in (200, 204)
    assert gw.get(a).status == 404
    assert gw.get(b).body == b"neighbour"


def test_files_at_and_past_the_small_file_limit(gw, ns):
    for size in (SMALL_FILE_MAX, SMALL_FILE_MAX + 1):
        path = f"{ns}/edge{size}"
        data = payload(size, seed=path)
        r = gw.put(path, data)
        assert r.status == 201, r
        assert gw.get(path).body == data


@pytest.fixture
def compacting_cluster(tmp_path):
    c = Cluster(tmp_path / "cluster",
                master_args=["--compaction_interval", "500ms", "--gc_grace", "1s"],
                gateway_args=["--compaction_interval", "500ms"])
    c.start()
    try:
        yield c
        assert not c.dead_daemons(), c.dead_daemons()
    finally:
        c.stop()


def test_compaction_rewrites_mostly_dead_pack_chunks_and_collects_them(compacting_cluster):
    gw = compacting_cluster.gw
    files = {f"/c/f{i:02d}": payload(100 + (i * 1999) % 9000, seed=f"c{i}") for i in range(64)}
    paths = sorted(files)

    def upload(t):
        for p in paths[t::THREADS]:
            assert gw.put(p, files[p]).status == 201, p

    run_threads(upload, THREADS)
    by_chunk = {}
    for p in paths:
        (chunk,) = gw.fileinfo(p).json()["chunks"]
        by_chunk.setdefault(chunk["handle"], []).append(p)
    shared = {h: ps for h, ps in by_chunk.items() if len(ps) >= 2}
    assert shared, by_chunk
    # Of each shared pack chunk only its smallest file stays: under half of
    # the chunk is live, so each is compacted.
    keep = {min(ps, key=lambda p: len(files[p])) for ps in shared.values()}
    keep |= {ps[0] for ps in by_chunk.values() if len(ps) == 1}
    for p in paths:
        if p not in keep:
            assert gw.delete(p).status in (200, 204), p

    def compacted():
        for h, ps in shared.items():
            (p,) = [p for p in ps if p in keep]
            (chunk,) = gw.fileinfo(p).json()["chunks"]
            if chunk["handle"] == h:
                return False
        return True

    wait_until(compacted, 60, "every mostly dead pack chunk compacted")
    compaction = gw.cluster().json()["compaction"]
    assert compaction["compactions"] >= len(shared), compaction
    assert compaction["rewritten_bytes"] > 0, compaction
    assert gateway_counter(gw, "cairn_gateway_compactions_total") >= len(shared)
    for p in keep:
        r = gw.get(p)
        assert r.status == 200 and r.body == files[p], p
    for p in paths:
        if p not in keep:
            assert gw.get(p).status == 404, p

    # The old chunks' replicas go after the grace period: the nodes then hold
    # exactly the replicas of the chunks files reference.
    def collected():
        c = gw.cluster().json()
        return sum(n["chunks"] for n in c["nodes"]) == 3 * c["totals"]["chunks"]

    wait_until(collected, 60, "the replicas of compacted chunks deleted")
    referenced = {gw.fileinfo(p).json()["chunks"][0]["handle"] for p in keep}
    assert gw.cluster().json()["totals"]["chunks"] == len(referenced)
