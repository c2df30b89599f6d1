"""Upload, download, ranges, HEAD and conditional PUT through the gateway.

The cluster runs with --chunk_size 1MiB and --replication 3 over three
chunkservers in zones z1, z2, z3, so every chunk must sit on all three.
"""

import math

import pytest

from cluster import CHUNK, REPLICATION, assert_same_bytes, payload, sha256

SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 12345]


def assert_fileinfo(info, path, data, nodes):
    """fileinfo: length, sha256, one entry per chunk, replicas in distinct zones."""
    size = len(data)
    assert info["path"] == path
    assert info["size"] == size
    assert info["sha256"] == sha256(data)
    assert info["replication"] == REPLICATION
    chunks = info["chunks"]
    assert len(chunks) == math.ceil(size / CHUNK), chunks
    by_id = {n["id"]: n for n in nodes}
    handles = set()
    for i, chunk in enumerate(chunks):
        assert chunk["index"] == i, chunk
        assert chunk["size"] == min(CHUNK, size - i * CHUNK), chunk
        handles.add(chunk["handle"])
        replicas = chunk["replicas"]
        ids = [r["node_id"] for r in replicas]
        zones = [r["zone"] for r in replicas]
        assert len(replicas) == REPLICATION, chunk
        assert len(set(ids)) == REPLICATION, f"replicas share a node: {chunk}"
        assert len(set(zones)) == REPLICATION, f"replicas share a zone: {chunk}"
        for r in replicas:
            assert r["node_id"] in by_id, f"unknown node in {r}; nodes {nodes}"
            node = by_id[r["node_id"]]
            assert r["zone"] == node["zone"], (r, node)
            assert r["address"] == node["address"], (r, node)
    assert len(handles) == len(chunks), f"chunk handles repeat: {chunks}"


def assert_full_get(r, data):
    assert r.status == 200, r
    assert_same_bytes(r.body, data)
    assert r.header("Content-Length") == str(len(data)), r.headers
    assert (r.header("X-Checksum-Sha256") or "").lower() == sha256(data), r.headers
    assert r.header("ETag"), r.headers


@pytest.mark.parametrize("size", SIZES,
                         ids=["0", "1", "chunk-1", "chunk", "chunk+1",
                              "5chunks+12345"])
def test_roundtrip(cluster, gw, ns, size):
    data = payload(size, seed=size)
    path = f"{ns}/dir/file.bin"

    r = gw.put(path, data)
    assert r.status == 201, r
    created = r.json()
    assert created["path"] == path, created
    assert created["size"] == size, created
    assert created["sha256"] == sha256(data), created
    nchunks = math.ceil(size / CHUNK)
    chunks = created["chunks"]
    assert (chunks if isinstance(chunks, int) else len(chunks)) == nchunks, created

    assert_full_get(gw.get(path), data)

    r = gw.fileinfo(path)
    assert r.status == 200, r
    assert_fileinfo(r.json(), path, data, cluster.nodes())


def test_chunked_transfer_encoding_upload(gw, ns):
    """A body sent without Content-Length (e.g. `curl -T -`) is stored whole."""
    data = payload(2 * CHUNK + 777, seed=11)
    pieces = (data[i:i + 100_000] for i in range(0, len(data), 100_000))
    r = gw.request("PUT", f"/api/v1/files{ns}/streamed", pieces)
    assert r.status == 201, r
    assert r.json()["size"] == len(data)
    assert_full_get(gw.get(f"{ns}/streamed"), data)


# --- ranges ----------------------------------------------------------------

RSIZE = 3 * CHUNK + 500


@pytest.fixture(scope="module")
def range_file(_shared_cluster):
    data = payload(RSIZE, seed=2)
    path = "/test_ranges/file"
    gw = _shared_cluster.gw
    r = gw.put(path, data)
    assert r.status == 201, r
    g = gw.get(path)
    assert_full_get(g, data)
    return path, data, g.header("ETag")


RANGES = {
    "first_byte": ("bytes=0-0", 0, 0),
    "last_byte": (f"bytes={RSIZE - 1}-{RSIZE - 1}", RSIZE - 1, RSIZE - 1),
    "across_boundary": (f"bytes={CHUNK - 100}-{CHUNK + 99}", CHUNK - 100, CHUNK + 99),
    "across_two_boundaries": (f"bytes=1000-{2 * CHUNK + 5}", 1000, 2 * CHUNK + 5),
    "exactly_second_chunk": (f"bytes={CHUNK}-{2 * CHUNK - 1}", CHUNK, 2 * CHUNK - 1),
    "suffix": ("bytes=-100", RSIZE - 100, RSIZE - 1),
    "suffix_longer_than_file": (f"bytes=-{RSIZE + 10}", 0, RSIZE - 1),
    "open_ended": (f"bytes={CHUNK + 7}-", CHUNK + 7, RSIZE - 1),
    "end_past_eof": (f"bytes={RSIZE - 10}-{RSIZE + 1000}", RSIZE - 10, RSIZE - 1),
}


@pytest.mark.parametrize("name", list(RANGES))
def test_range(gw, range_file, name):
    path, data, etag = range_file
    spec, first, last = RANGES[name]
    r = gw.get(path, {"Range": spec})
    assert r.status == 206, r
    assert_same_bytes(r.body, data[first:last + 1], f"body for {spec}")
    assert r.header("Content-Range") == f"bytes {first}-{last}/{RSIZE}", r.headers
    assert r.header("Content-Length") == str(last - first + 1), r.headers
    assert r.header("ETag") == etag, r.headers


@pytest.mark.parametrize("spec", [f"bytes={RSIZE}-", f"bytes={RSIZE + 5}-{RSIZE + 10}",
                                  "bytes=-0"])
def test_range_unsatisfiable(gw, range_file, spec):
    path, _, _ = range_file
    r = gw.get(path, {"Range": spec})
    assert r.status == 416, r
    cr = r.header("Content-Range")
    if cr is not None:  # RFC 9110: SHOULD be "bytes */<length>"
        assert cr == f"bytes */{RSIZE}", r.headers


def test_range_on_empty_file_is_unsatisfiable(gw, ns):
    assert gw.put(f"{ns}/empty", b"").status == 201
    r = gw.get(f"{ns}/empty", {"Range": "bytes=0-0"})
    assert r.status == 416, r


@pytest.mark.parametrize("spec", ["bytes=abc", "bytes=5-2", "bytes="])
def test_malformed_range_is_ignored_or_rejected(gw, range_file, spec):
    """RFC 9110 says ignore an invalid Range; a 400/416 is tolerated too."""
    path, data, _ = range_file
    r = gw.get(path, {"Range": spec})
    assert r.status in (200, 400, 416), r
    if r.status == 200:
        assert_same_bytes(r.body, data)


def test_unknown_range_unit_is_ignored(gw, range_file):
    """RFC 9110 §14.2: a server MUST ignore a Range with a unit it does not know."""
    path, data, _ = range_file
    r = gw.get(path, {"Range": "items=0-1"})
    # cpp-httplib 0.11 (Debian's) answers 416 to a Range header it cannot parse
    # before any handler runs; the gateway itself ignores such headers
    # (ParseRange unit test). Accept either until the HTTP layer changes.
    assert r.status in (200, 416), r
    if r.status == 200:
        assert_same_bytes(r.body, data)


def test_head_matches_get(gw, range_file):
    path, data, _ = range_file
    g = gw.get(path)
    h = gw.head(path)
    assert h.status == 200, h
    assert h.body == b""
    for name in ("Content-Length", "ETag", "X-Checksum-Sha256"):
        assert h.header(name) is not None, (name, h.headers)
        assert h.header(name) == g.header(name), (name, h.headers, g.headers)
    assert h.header("Content-Length") == str(len(data))
    assert h.header("X-Checksum-Sha256").lower() == sha256(data)


# --- conditional PUT and replace -------------------------------------------


def test_if_none_match_star(gw, ns):
    path = f"{ns}/once"
    first = payload(CHUNK + 3, seed=41)
    r = gw.put(path, first, {"If-None-Match": "*"})
    assert r.status == 201, r

    r = gw.put(path, payload(100, seed=42), {"If-None-Match": "*"})
    assert r.status == 412, r
    err = r.json()["error"]
    assert err["code"] and err["message"], err
    assert_full_get(gw.get(path), first)


def test_replace_with_smaller_and_larger(gw, ns):
    path = f"{ns}/f"
    versions = [payload(2 * CHUNK + 1, seed=51), payload(10, seed=52),
                payload(3 * CHUNK + 9, seed=53)]
    etags = []
    for data in versions:
        r = gw.put(path, data)
        assert r.status == 201, r
        assert r.json()["sha256"] == sha256(data)
        g = gw.get(path)
        assert_full_get(g, data)
        etags.append(g.header("ETag"))
        info = gw.fileinfo(path).json()
        assert info["size"] == len(data) and info["sha256"] == sha256(data), info
        assert len(info["chunks"]) == math.ceil(len(data) / CHUNK), info
    assert len(set(etags)) == len(etags), f"ETag did not change on replace: {etags}"
