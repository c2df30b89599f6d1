"""Upgrade in place: a cluster written by the previous release opens with this one.

tests/upgrade/run.sh builds the previous release's daemons and runs this with
CAIRN_PREV_BIN_DIR (them) and CAIRN_BIN_DIR (this tree's). The previous
release writes files of every size class, a directory tree and a deleted file;
then every daemon is stopped and started again with this tree's binaries on
the same master metadata and chunkserver volumes. Every file must read back
byte for byte with the same chunks, every node must keep its id, replication
must be complete, and the upgraded cluster must take new files.

The previous release's metadata is format 1 (files as whole-chunk lists, chunk
records without reference counts); the first start migrates it to extents and
counts, so deleting or replacing an old file must release its chunks.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from cluster import (BIN_DIR, CHUNK, Cluster, assert_same_bytes, payload,  # noqa: E402
                     sha256, wait_until)

PREV_BIN_DIR = os.environ.get("CAIRN_PREV_BIN_DIR")

FILES = {
    "/up/empty": b"",
    "/up/small": payload(1000, 1),
    "/up/one-chunk": payload(CHUNK, 2),
    "/up/dir/sub/multi": payload(3 * CHUNK + 777, 3),
}


def _run_with(cluster, bin_dir):
    for d in cluster.daemons:
        d.binary = Path(bin_dir) / d.binary.name


def _chunks(gw, path):
    r = gw.fileinfo(path)
    assert r.status == 200, r
    return [(c["handle"], c["version"], c["size"]) for c in r.json()["chunks"]]


def _healthy(gw):
    r = gw.cluster()
    if r.status != 200:
        return None
    c = r.json()
    return c if not c["safe_mode"] and c["totals"]["under_replicated"] == 0 else None


def test_cluster_written_by_previous_release_opens_and_serves(tmp_path):
    assert PREV_BIN_DIR, "run through tests/upgrade/run.sh (CAIRN_PREV_BIN_DIR unset)"
    c = Cluster(tmp_path / "cluster")
    _run_with(c, PREV_BIN_DIR)
    c.start()
    try:
        c.wait_nodes_alive(3)
        for path, data in FILES.items():
            r = c.gw.put(path, data)
            assert r.status == 201, r
        r = c.gw.put("/up/deleted", payload(2 * CHUNK, 4))
        assert r.status == 201, r
        assert c.gw.delete("/up/deleted").status in (200, 204)
        assert c.gw.mkdir("/up/empty-dir").status in (200, 201)
        chunks_before = {p: _chunks(c.gw, p) for p in FILES}
        nodes_before = sorted((n["id"], n["zone"]) for n in c.nodes())
    finally:
        c.stop()

    _run_with(c, BIN_DIR)
    c.start()
    try:
        c.wait_nodes_alive(3)
        assert sorted((n["id"], n["zone"]) for n in c.nodes()) == nodes_before
        for path, data in FILES.items():
            r = c.gw.get(path)
            assert r.status == 200, r
            assert_same_bytes(r.body, data, path)
            assert r.header("X-Checksum-Sha256") == sha256(data)
            assert _chunks(c.gw, path) == chunks_before[path]
        assert c.gw.get("/up/deleted").status == 404
        listing = c.gw.list("/up")
        assert listing.status == 200, listing
        names = {e["path"] for e in listing.json()["entries"]}
        assert {"/up/empty-dir", "/up/dir", "/up/small"} <= names, names
        # Safe mode ends on the old replicas' reports; nothing is under-replicated.
        wait_until(lambda: _healthy(c.gw), 30, "safe mode off, no under-replicated chunk")
        new = payload(CHUNK + 5, 5)
        assert c.gw.put("/up/after-upgrade", new).status == 201
        r = c.gw.get("/up/after-upgrade")
        assert r.status == 200
        assert_same_bytes(r.body, new, "/up/after-upgrade")
        # A range across the migrated extents of an old file.
        multi = FILES["/up/dir/sub/multi"]
        r = c.gw.get("/up/dir/sub/multi",
                     {"Range": f"bytes={CHUNK - 3}-{2 * CHUNK + 2}"})
        assert r.status == 206, r
        assert_same_bytes(r.body, multi[CHUNK - 3:2 * CHUNK + 3], "range of /up/dir/sub/multi")
        # The migrated reference counts release an old file's chunks.
        known = c.gw.cluster().json()["totals"]["chunks"]
        assert c.gw.delete("/up/dir/sub/multi").status in (200, 204)
        assert c.gw.put("/up/one-chunk", b"replaced").status == 201
        after = c.gw.cluster().json()["totals"]["chunks"]
        # (the replacement swaps one chunk for one)
        assert after == known - len(chunks_before["/up/dir/sub/multi"]), (known, after)
        assert not c.dead_daemons()
    finally:
        c.stop()
