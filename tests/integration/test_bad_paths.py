"""Malformed paths are rejected with 400 and a JSON error, and never reach storage.

A Cairn path is absolute, `/`-separated UTF-8 with no empty, `.` or `..`
component and no NUL (doc/design.md §4). Request targets are sent raw through
http.client (which does not normalize dot segments) or a socket, so the
gateway sees exactly these bytes. Every PUT carries a random marker body;
afterwards no file under the cluster's directories may contain it and the
namespace must be unchanged.
"""

import json
import os

import pytest

from cluster import payload, raw_http_request

MARKER = payload(64 * 1024, seed=0xBAD)

BAD_FILE_TARGETS = [
    "/api/v1/files/a/../b",
    "/api/v1/files/../etc/passwd",
    "/api/v1/files/a/..",
    "/api/v1/files/..",
    "/api/v1/files/a/./b",
    "/api/v1/files/./a",
    "/api/v1/files/a/.",
    "/api/v1/files/a//b",
    "/api/v1/files//a",
    "/api/v1/files/a/",
    "/api/v1/files/a/%2e%2e/b",
    "/api/v1/files/%2E%2E/%2e%2e/etc/passwd",
    "/api/v1/files/a/%2e/b",
    "/api/v1/files/a%2f..%2fb",
    "/api/v1/files/a%00b",
    "/api/v1/files/a/%00",
    "/api/v1/files/%ff%fe",
    "/api/v1/files/a/%c3%28",
    "/api/v1/files/%c0%ae%c0%ae/x",
    "/api/v1/files/a/%ed%a0%80",
]

BAD_PATHS = ["/a/../b", "/..", "/a/./b", "/a//b", "/a/", "a/relative", "",
             "/a\x00b", "//"]


def assert_json_400(r):
    assert r.status == 400, r
    ctype = r.header("Content-Type") or ""
    assert ctype.startswith("application/json"), r
    err = r.json().get("error")
    assert isinstance(err, dict) and err.get("code") and "message" in err, r


def namespace(gw):
    r = gw.list("/", recursive=True)
    assert r.status == 200, r
    return sorted((e["path"], e["type"]) for e in r.json()["entries"])


@pytest.fixture(scope="module")
def untouched(_shared_cluster):
    """The namespace before this module's first bad request.

    test_nothing_reached_storage, last in this module, compares against it.
    """
    return namespace(_shared_cluster.gw)


@pytest.mark.parametrize("target", BAD_FILE_TARGETS)
def test_bad_file_target_is_400(gw, untouched, target):
    assert_json_400(gw.request("PUT", target, MARKER))
    assert_json_400(gw.request("PUT", target, MARKER, {"If-None-Match": "*"}))
    assert_json_400(gw.request("GET", target))
    assert gw.request("HEAD", target).status == 400
    assert_json_400(gw.request("DELETE", target))
    assert_json_400(gw.request("DELETE", target + "?recursive=true"))


def test_raw_non_utf8_bytes_in_target_are_400(cluster, untouched):
    request = (b"PUT /api/v1/files/bad\xff\xfename HTTP/1.1\r\n"
               b"Host: cairn\r\nConnection: close\r\n"
               b"Content-Length: %d\r\n\r\n" % len(MARKER)) + MARKER
    status, headers, body = raw_http_request(cluster.gateway.http, request)
    assert status == 400, (status, headers, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    assert "error" in json.loads(body), body[:300]


@pytest.mark.parametrize("path", BAD_PATHS, ids=repr)
def test_bad_path_in_query_or_json_is_400(gw, untouched, path):
    assert_json_400(gw.list(path))
    assert_json_400(gw.fileinfo(path))
    assert_json_400(gw.usage(path))
    assert_json_400(gw.mkdir(path))
    assert_json_400(gw.rename(path, "/bad_paths_target"))
    assert_json_400(gw.rename("/bad_paths_source", path))


@pytest.mark.parametrize("body", [
    b"{not json", b"", b"[]", b'{"path": 5}', b"{}",
    b'{"path": "/a\\ud800b"}',  # lone surrogate: not valid Unicode
    b'{"path": "/x\xff"}',  # not UTF-8
], ids=repr)
def test_malformed_mkdir_body_is_400(gw, untouched, body):
    assert_json_400(gw.request("POST", "/api/v1/mkdir", body,
                               {"Content-Type": "application/json"}))


@pytest.mark.parametrize("body", [
    b'{"source": "/bad_paths_source"}', b'{"target": "/bad_paths_target"}',
    b'{"source": 1, "target": "/x"}', b"{not json",
], ids=repr)
def test_malformed_rename_body_is_400(gw, untouched, body):
    assert_json_400(gw.request("POST", "/api/v1/rename", body,
                               {"Content-Type": "application/json"}))


def test_nothing_reached_storage(cluster, untouched):
    """Runs last: no bad request changed the namespace or stored its body."""
    assert namespace(cluster.gw) == untouched
    needle = MARKER[:4096]
    for dirpath, _, filenames in os.walk(cluster.base_dir):
        for name in filenames:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                assert needle not in f.read(), f"marker body stored in {p}"


@pytest.mark.parametrize("target", ["/api/v1/files/a/%", "/api/v1/files/a/%zz",
                                    "/api/v1/files/a/%2"])
def test_malformed_percent_escape_is_400(gw, target):
    """RFC 3986: "%" must start a two-hex-digit escape; this is no path at all.

    After test_nothing_reached_storage, since a failure here stores a file.
    """
    r = gw.request("PUT", target, b"x")
    if r.status == 201:
        gw.request("DELETE", target)
    assert_json_400(r)
