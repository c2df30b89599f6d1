"""Namespace operations: mkdir, list, rename, delete, conflicts and 404s.

Errors must be JSON {"error": {"code", "message"}} with the doc/design.md §4
status codes.
"""

import pytest

from cluster import ZONES, assert_same_bytes, payload, sha256


def assert_error(r, status, code=None):
    assert r.status == status, r
    if r.method == "HEAD":
        return
    ctype = r.header("Content-Type") or ""
    assert ctype.startswith("application/json"), r
    err = r.json().get("error")
    assert isinstance(err, dict), r
    assert isinstance(err.get("code"), str) and err["code"], r
    assert isinstance(err.get("message"), str), r
    if code is not None:
        assert err["code"] == code, r


def ok(r, *statuses):
    assert r.status in (statuses or (200, 201, 204)), r
    return r


def put(gw, path, data):
    r = gw.put(path, data)
    assert r.status == 201, r


def entries(gw, path, recursive=False):
    r = gw.list(path, recursive)
    assert r.status == 200, r
    body = r.json()
    assert body["path"] == path, body
    return body["entries"]


def test_mkdir_creates_parents(gw, ns):
    ok(gw.mkdir(f"{ns}/a/b/c"))
    assert [(e["name"], e["type"], e["path"]) for e in entries(gw, ns)] == [
        ("a", "dir", f"{ns}/a")]
    assert [e["name"] for e in entries(gw, f"{ns}/a")] == ["b"]
    assert [e["name"] for e in entries(gw, f"{ns}/a/b")] == ["c"]
    assert entries(gw, f"{ns}/a/b/c") == []


def test_list_is_sorted_and_typed(gw, ns):
    files = ["b", "a", "C", "aa", "a-b", "z", "10", "9", "é", "_x", "a.b",
             "with space", "日本"]
    dirs = ["m", "B"]
    for name in files:
        put(gw, f"{ns}/{name}", name.encode() * 3)
    for name in dirs:
        ok(gw.mkdir(f"{ns}/{name}"))
    put(gw, f"{ns}/m/inner/deep.txt", b"deep")

    listed = entries(gw, ns)
    names = [e["name"] for e in listed]
    # Code-point order equals UTF-8 byte order, the order of a sorted key scan.
    assert names == sorted(files + dirs), names
    for e in listed:
        assert e["path"] == f"{ns}/{e['name']}", e
        if e["name"] in dirs:
            assert e["type"] == "dir", e
        else:
            assert e["type"] == "file", e
            assert e["size"] == len(e["name"].encode()) * 3, e
            assert isinstance(e["mtime"], (int, float, str)) and e["mtime"], e

    rec = entries(gw, ns, recursive=True)
    file_paths = {e["path"] for e in rec if e["type"] == "file"}
    assert file_paths == {f"{ns}/{n}" for n in files} | {f"{ns}/m/inner/deep.txt"}
    dir_paths = {e["path"] for e in rec if e["type"] == "dir"}
    assert dir_paths <= {f"{ns}/m", f"{ns}/B", f"{ns}/m/inner"}, dir_paths


def test_rename_file(gw, ns):
    data = payload(1_500_000, seed=61)
    put(gw, f"{ns}/src/f", data)
    ok(gw.mkdir(f"{ns}/dst"))
    ok(gw.rename(f"{ns}/src/f", f"{ns}/dst/g"))

    assert_error(gw.get(f"{ns}/src/f"), 404)
    g = gw.get(f"{ns}/dst/g")
    assert g.status == 200, g
    assert_same_bytes(g.body, data)
    assert gw.fileinfo(f"{ns}/dst/g").json()["sha256"] == sha256(data)
    assert entries(gw, f"{ns}/src") == []
    assert [e["name"] for e in entries(gw, f"{ns}/dst")] == ["g"]


def test_rename_directory_moves_children(gw, ns):
    tree = {"x": payload(10, 71), "sub/y": payload(1_100_000, 72),
            "sub/deeper/z": payload(0, 73)}
    for rel, data in tree.items():
        put(gw, f"{ns}/d1/{rel}", data)
    ok(gw.rename(f"{ns}/d1", f"{ns}/d2"))

    assert [e["name"] for e in entries(gw, ns)] == ["d2"]
    assert_error(gw.list(f"{ns}/d1"), 404)
    for rel, data in tree.items():
        assert_error(gw.get(f"{ns}/d1/{rel}"), 404)
        g = gw.get(f"{ns}/d2/{rel}")
        assert g.status == 200, g
        assert_same_bytes(g.body, data, rel)
    assert [e["name"] for e in entries(gw, f"{ns}/d2/sub")] == ["deeper", "y"]


def test_rename_directory_into_itself_is_rejected(gw, ns):
    put(gw, f"{ns}/d/f", b"x")
    r = gw.rename(f"{ns}/d", f"{ns}/d/inside")
    assert r.status in (400, 409), r
    assert_error(r, r.status)
    assert gw.get(f"{ns}/d/f").body == b"x"
    assert [e["name"] for e in entries(gw, f"{ns}/d")] == ["f"]


def test_delete_file(gw, ns):
    put(gw, f"{ns}/f", b"bye")
    put(gw, f"{ns}/keep", b"stay")
    ok(gw.delete(f"{ns}/f"))
    assert_error(gw.get(f"{ns}/f"), 404)
    assert_error(gw.delete(f"{ns}/f"), 404)
    assert [e["name"] for e in entries(gw, ns)] == ["keep"]


def test_recursive_delete(gw, ns):
    tree = ["t/a", "t/b/c", "t/b/d/e"]
    for rel in tree:
        put(gw, f"{ns}/{rel}", rel.encode())

    r = gw.delete(f"{ns}/t")
    assert r.status in (400, 409), f"non-recursive delete of a non-empty dir: {r!r}"
    assert_error(r, r.status)
    assert gw.get(f"{ns}/t/b/d/e").body == b"t/b/d/e"

    ok(gw.delete(f"{ns}/t", recursive=True))
    for rel in tree:
        assert_error(gw.get(f"{ns}/{rel}"), 404)
    assert_error(gw.list(f"{ns}/t"), 404)
    assert entries(gw, ns) == []

    put(gw, f"{ns}/t/a", b"again")
    assert gw.get(f"{ns}/t/a").body == b"again"


def test_file_in_the_way_is_409(gw, ns):
    put(gw, f"{ns}/f", b"file")
    assert_error(gw.mkdir(f"{ns}/f"), 409)
    assert_error(gw.mkdir(f"{ns}/f/sub"), 409)
    assert_error(gw.put(f"{ns}/f/child", b"c"), 409)
    ok(gw.mkdir(f"{ns}/d"))
    assert_error(gw.put(f"{ns}/d", b"over a dir"), 409)
    assert gw.get(f"{ns}/f").body == b"file"
    assert [(e["name"], e["type"]) for e in entries(gw, ns)] == [
        ("d", "dir"), ("f", "file")]


def test_missing_is_404(gw, ns):
    ok(gw.mkdir(ns))
    missing = f"{ns}/nope"
    assert_error(gw.get(missing), 404, "NOT_FOUND")
    h = gw.head(missing)
    assert h.status == 404 and h.body == b"", h
    assert_error(gw.delete(missing), 404, "NOT_FOUND")
    assert_error(gw.delete(missing, recursive=True), 404, "NOT_FOUND")
    assert_error(gw.get(f"{missing}/deeper/file"), 404, "NOT_FOUND")
    assert_error(gw.list(missing), 404, "NOT_FOUND")
    assert_error(gw.fileinfo(missing), 404, "NOT_FOUND")
    assert_error(gw.rename(missing, f"{ns}/other"), 404, "NOT_FOUND")
    assert entries(gw, ns) == []


def test_cluster_and_usage(gw, ns):
    r = gw.cluster()
    assert r.status == 200, r
    nodes = r.json()["nodes"]
    assert len(nodes) == 3, nodes
    assert sorted(n["zone"] for n in nodes) == sorted(ZONES), nodes
    assert len({n["id"] for n in nodes}) == 3, nodes
    assert len({n["address"] for n in nodes}) == 3, nodes
    for n in nodes:
        assert str(n["state"]).lower() == "alive", n
        assert n["capacity"] > 0 and n["used"] >= 0 and n["chunks"] >= 0, n

    put(gw, f"{ns}/t1/a", b"x" * 10)
    r = gw.usage(ns)
    assert r.status == 200, r
    r.json()
