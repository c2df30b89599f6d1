"""Live-gateway fuzzing: mutated requests against a running cluster.

Several threads send raw HTTP requests built from the REST API's routes and
then mutated: methods, request targets (only below /fz/, after the prefix),
percent-encodings, the raw request head, headers (Content-Length missing, doubled, negative, huge or
not a number; Transfer-Encoding chunked with broken chunks; Range, If-None-
Match), JSON bodies, bodies cut short or longer than announced, and slow or
abandoned connections. Each request gets its own connection. Afterwards:

- no daemon died, and the gateway is ready;
- the files written before the run under /keep read back exactly;
- every other file is one that a 201 PUT named, or lies under the target of a
  rename, or is the path of a whole PUT that got no answer (a reset may
  discard a reply already sent): nothing is in the namespace that no request
  asked for, and no upload cut short became a file.

CAIRN_GATEWAY_FUZZ_REQUESTS (default 20000) sets the count; a long mode is
CAIRN_GATEWAY_FUZZ_REQUESTS=10000000. CAIRN_GATEWAY_FUZZ_SEED picks the run.
"""

import json
import os
import random
import socket
import threading
import time
import traceback
import urllib.parse

import pytest

from cluster import Cluster, payload

REQUESTS = int(os.environ.get("CAIRN_GATEWAY_FUZZ_REQUESTS", "20000"))
SEED = int(os.environ.get("CAIRN_GATEWAY_FUZZ_SEED", "1"))
THREADS = 8
KEEP = {f"/keep/k{i}": payload(1 + i * 3001, f"keep{i}") for i in range(12)}


@pytest.fixture
def fuzz_cluster(tmp_path):
    # Short header and idle timeouts, so abandoned connections go quickly.
    c = Cluster(tmp_path / "cluster",
                gateway_args=["--header_timeout", "2s", "--idle_timeout", "3s"])
    c.start()
    try:
        yield c
    finally:
        c.stop()


NAME_CHARS = "abcxyz019-_.~ %/é\u2603"


def fz_path(r):
    """A path below /fz/: clean mostly, then the odd component."""
    parts = []
    for _ in range(r.randrange(1, 4)):
        n = r.randrange(1, 8)
        parts.append("".join(r.choice("abcdefgh0123") for _ in range(n)))
    path = "/fz/" + "/".join(parts)
    roll = r.random()
    if roll < 0.05:
        path += "/" + r.choice(["..", ".", "", "%00", "%2e%2e", "a%2Fb", "%ff", "\u00e9", "x" * 300])
    elif roll < 0.08:
        path += "".join(r.choice(NAME_CHARS) for _ in range(r.randrange(1, 12)))
    return path


def encode(path, r):
    """Percent-encodes `path` for a request target, sometimes oddly."""
    if r.random() < 0.1:
        return "".join(c if c == "/" or r.random() < 0.5 else f"%{ord(c):02X}"
                       for c in path if ord(c) < 128)
    return urllib.parse.quote(path, safe="/")


def mutate_bytes(data, r):
    data = bytearray(data)
    for _ in range(r.randrange(1, 4)):
        op = r.randrange(4)
        if op == 0 and data:
            data[r.randrange(len(data))] = r.randrange(256)
        elif op == 1 and data:
            i = r.randrange(len(data))
            del data[i:i + r.randrange(1, 8)]
        elif op == 2:
            i = r.randrange(len(data) + 1)
            data[i:i] = bytes(r.choice([b"\r\n", b"\x00", b" ", b":", b"%", b"\xff", b"{", b"\""]))
        else:
            i = r.randrange(len(data) + 1)
            data[i:i] = data[i:i + r.randrange(1, 16)]
    return bytes(data)


class Request:
    def __init__(self, method, target, headers, body, kind, path=None, json_body=None):
        self.method, self.target, self.headers, self.body = method, target, headers, body
        self.kind, self.path, self.json_body = kind, path, json_body
        self.short = False  # announces more body than it sends
        self.content = body  # the body before any transfer encoding
        self.cut = False  # the connection was abandoned before the body's end


def build(r):
    """A request from a route template, then mutated."""
    kind = r.choice(["put", "put", "put", "get", "head", "delete", "list", "mkdir", "rename",
                     "fileinfo", "usage", "cluster"])
    path = fz_path(r)
    headers = [("Host", "fuzz")]
    body = b""
    json_body = None
    if kind == "put":
        body = payload(r.choice([0, 1, 100, 5000, 70000, 300000]), f"b{r.random()}")
        method, target = "PUT", "/api/v1/files" + encode(path, r)
        if r.random() < 0.1:
            headers.append(("If-None-Match", r.choice(["*", "x", ""])))
    elif kind in ("get", "head"):
        method, target = kind.upper(), "/api/v1/files" + encode(path, r)
        if r.random() < 0.3:
            headers.append(("Range", r.choice(["bytes=0-10", "bytes=-5", "bytes=5-", "bytes=9-1",
                                               "bytes=0-0,2-3", "bits=1-2", "bytes=" + "9" * 30,
                                               "bytes=-0", ""])))
    elif kind == "delete":
        method, target = "DELETE", "/api/v1/files" + encode(path, r)
        if r.random() < 0.3:
            target += "?recursive=" + r.choice(["true", "1", "yes", ""])
    elif kind in ("list", "fileinfo", "usage"):
        method = "GET"
        q = {"path": path}
        if kind == "list" and r.random() < 0.5:
            q.update({"recursive": "true", "limit": r.choice(["1", "0", "-1", "x", "99999999999"])})
        target = f"/api/v1/{kind}?" + urllib.parse.urlencode(q)
    elif kind == "cluster":
        method, target = "GET", "/api/v1/cluster"
    else:
        method, target = "POST", f"/api/v1/{kind}"
        json_body = ({"path": path} if kind == "mkdir" else
                     {"source": fz_path(r), "target": fz_path(r)})
        if r.random() < 0.2:
            json_body = r.choice([[], "x", None, 1, {"path": 5}, {"source": [], "target": {}},
                                  {"source": "/fz/a", "target": "/fz/a/b"}])
        body = json.dumps(json_body).encode()
        if r.random() < 0.2:
            body = mutate_bytes(body, r)
        headers.append(("Content-Type", "application/json"))
    short = False
    content = body
    if body or method in ("PUT", "POST"):
        length = len(body)
        roll = r.random()
        if roll < 0.04:
            headers.append(("Content-Length", r.choice(["-1", "abc", "1e3", " 5", "9" * 25, ""])))
        elif roll < 0.06:
            headers += [("Content-Length", str(length)), ("Content-Length", str(length + 1))]
        elif roll < 0.10:
            headers.append(("Transfer-Encoding", "chunked"))
            chunks = b""
            for i in range(0, len(body), 4096):
                piece = body[i:i + 4096]
                chunks += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            chunks += b"0\r\n\r\n"
            if r.random() < 0.5:
                chunks = mutate_bytes(chunks, r)
            body = chunks
        elif roll < 0.14:
            headers.append(("Content-Length", str(length + r.randrange(1, 1000))))  # cut short
            short = True
        elif roll < 0.16:
            headers.append(("Content-Length", str(max(0, length - r.randrange(1, 50)))))  # longer
        elif roll < 0.18:
            short = True  # no length at all: the server may wait for one
        else:
            headers.append(("Content-Length", str(length)))
    if r.random() < 0.05:
        headers.append((mutate_bytes(b"X-Fuzz", r).decode("latin-1"), "v" * r.randrange(0, 20000)))
    if r.random() < 0.05:
        method = r.choice(["GETT", "get", "PUT ", "", "\x00", "PATCH", "OPTIONS", "TRACE",
                           "CONNECT", "PROPFIND", "M" * 100])
    req = Request(method, target, headers, body, kind, path, json_body)
    req.short = short
    req.content = content
    return req


def serialize(req, r):
    head = f"{req.method} {req.target} HTTP/1.1\r\n"
    for k, v in req.headers:
        head += f"{k}: {v}\r\n"
    raw = head.encode("utf-8", "surrogateescape") + b"\r\n"
    if r.random() < 0.03:
        raw = mutate_bytes(raw, r)
    if r.random() < 0.01:
        raw = raw.replace(b"\r\n", b"\n")
    return raw, req.body


def send(addr, raw_head, body, req, r):
    """Sends one request; returns the status, or None if none came back.
    Sets req.cut when the connection is abandoned before the body's end."""
    short, head_only = req.short, req.method == "HEAD"
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        style = r.random()
        if style < 0.01:
            s.sendall(raw_head[:r.randrange(len(raw_head))])  # abandoned mid-header
            req.cut = True
            return None
        if style < 0.02:
            s.sendall(raw_head)
            s.sendall(body[:len(body) // 2])
            req.cut = bool(body)
            return None  # abandoned mid-body
        if style < 0.025:
            for i in range(0, len(raw_head), 7):  # slow header
                s.sendall(raw_head[i:i + 7])
                time.sleep(0.02)
        else:
            s.sendall(raw_head)
        if body:
            s.sendall(body)
        # The end of what is sent: a body cut short ends here.
        if short or r.random() < 0.3:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
        if not data.startswith(b"HTTP/1."):
            return None
        status = int(data.split(b" ", 2)[1])
        # Read the rest of a small reply, for the JSON of a 201.
        while b"\r\n\r\n" not in data:
            piece = s.recv(65536)
            if not piece:
                break
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v.strip())
        if not head_only and length <= 1 << 20:  # a reply to HEAD has no body
            while len(rest) < length:
                piece = s.recv(65536)
                if not piece:
                    break
                rest += piece
        return status, rest
    except (OSError, ValueError):
        return None
    finally:
        s.close()


def test_mutated_requests_crash_nothing_and_write_only_what_they_acknowledge(fuzz_cluster):
    c = fuzz_cluster
    gw = c.gw
    for p, data in KEEP.items():
        assert gw.put(p, data).status == 201, p
    addr = c.gateway.http
    lock = threading.Lock()
    created = set()   # file paths a 201 PUT named
    maybe = set()     # paths of PUTs that got no answer, or a 2xx without its JSON
    prefixes = set()  # targets of 2xx renames: anything below may be a file
    statuses = {}
    slow = []  # requests that took over a second: (seconds, kind, status, head)
    crashed = []

    def worker(t):
        r = random.Random(SEED * 1000 + t)
        for i in range(t, REQUESTS, THREADS):
            req = build(r)
            raw, body = serialize(req, r)
            began = time.monotonic()
            out = send(addr, raw, body, req, r)
            took = time.monotonic() - began
            status = out[0] if out else None
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if took > 1:
                    slow.append((round(took, 1), req.kind, status, raw[:120]))
            if status is not None and not 200 <= status < 300:
                continue
            # No answer (a reset can discard a reply already sent) or a 2xx:
            # what the request asked may have been done.
            head_lines = raw.replace(b"\r\n", b"\n").split(b"\n")
            line = head_lines[0].split(b" ")
            method = line[0] if line else b""
            # A body that ends before its declared length (as the bytes sent
            # declare it) must never become a file, answered or not.
            lengths = [h.split(b":", 1)[1].strip() for h in head_lines[1:]
                       if h.lower().startswith(b"content-length:")]
            chunked = any(h.lower().startswith(b"transfer-encoding:") for h in head_lines[1:])
            truncated = req.cut or (len(lengths) == 1 and lengths[0].isdigit() and not chunked
                                    and int(lengths[0]) > len(body))
            named = None
            if status == 201 and method == b"PUT":
                try:
                    named = json.loads(out[1])["path"]
                except (ValueError, KeyError, TypeError):
                    named = None
            with lock:
                if named is not None:
                    created.add(named)
                elif (method == b"PUT" and not truncated and len(line) > 1
                      and line[1].startswith(b"/api/v1/files")):
                    # The path as the server may have read it from the bytes sent.
                    target = line[1][len(b"/api/v1/files"):].split(b"?")[0]
                    maybe.add(urllib.parse.unquote(target.decode("latin-1"), errors="replace"))
                    maybe.add(urllib.parse.unquote_to_bytes(target).decode("utf-8", "replace"))
                if req.method == "POST" and req.kind == "rename":
                    try:  # what was sent, mutations included
                        sent = json.loads(req.content)
                    except ValueError:
                        sent = None
                    target = sent.get("target") if isinstance(sent, dict) else None
                    if isinstance(target, str):
                        prefixes.add(target)

    def guarded(t):
        try:
            worker(t)
        except BaseException:  # noqa: B902 -- an escape is a test failure
            crashed.append(traceback.format_exc())

    threads = [threading.Thread(target=guarded, args=(t,)) for t in range(THREADS)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    print(f"gateway fuzz: {REQUESTS} requests in {elapsed:.0f}s, statuses {statuses}, "
          f"{len(slow)} over 1 s")
    for entry in sorted(slow, reverse=True)[:int(os.environ.get("CAIRN_GATEWAY_FUZZ_SHOW_SLOW", "0"))]:
        print("slow:", entry)
    assert not crashed, "\n".join(crashed)
    assert not c.dead_daemons(), c.dead_daemons()
    c.wait_gateway_ready(timeout=30)
    assert statuses.get(201, 0) > 0 and statuses.get(400, 0) > 0, statuses
    assert statuses.get(500, 0) == 0, statuses

    for p, data in KEEP.items():
        res = gw.get(p)
        assert res.status == 200 and res.body == data, p
    files = []
    start_after = ""
    while True:
        page = gw._query("/api/v1/list", path="/", recursive="true", start_after=start_after)
        assert page.status == 200, page
        body = page.json()
        files += [e["path"] for e in body["entries"] if e["type"] != "dir"]
        if not body.get("truncated"):
            break
        start_after = body["next_start_after"]
    for p in files:
        if p in KEEP:
            continue
        # (Outside /fz too: a mutated request line may name another path,
        # and then its 201 names it.)
        ok = p in created or p in maybe or any(
            p == q or p.startswith(q + "/") for q in prefixes | created)
        assert ok, f"{p} is in the namespace, but no 2xx created it"
