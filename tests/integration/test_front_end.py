"""The gateway's HTTP front end: how it speaks HTTP/1.1 to clients that
pipeline, send odd methods or headers, are slow, or are many, and the limits
that keep it serving (doc/design.md §10, the event-driven front end).

Each test names the defect it guards. Most were defects of the cpp-httplib
front end: one thread per connection among --threads (a few slow or idle
clients stopped everyone else), a request's Range applied to every reply, no
405/501. The limits are the gateway's flags --max_header_bytes (16KiB),
--max_connections (10000), --header_timeout (10s, from a request's first byte
to its complete header) and --idle_timeout (60s: between requests, and a body
or reply that stops moving), each also an environment variable; each limit
hit is counted in /metrics. Tests of small limits start a gateway of their own
against the shared cluster's master.

Requests are written by hand on stdlib sockets, so a test controls exactly
which bytes go out and when.
"""

import http.client
import json
import re
import resource
import socket
import threading
import time

import pytest

from cluster import (BIN_DIR, Daemon, assert_same_bytes, files_target, http_request, payload,
                     Response, sha256, wait_until)

IO_TIMEOUT = 10.0  # seconds for one reply; every reply here is small
CLOSE_TIMEOUT = 5.0  # seconds to wait for a server's close (limits here are 1 s)


# --------------------------------------------------------------------------
# Raw HTTP/1.1


def connect(addr, timeout=IO_TIMEOUT):
    host, port = addr.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def request(method, target, *headers, body=b""):
    """One request's bytes; Content-Length when there is a body."""
    lines = [f"{method} {target} HTTP/1.1", "Host: x", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Replies:
    """Reads the replies on one socket in order, as cluster.Response objects.

    Like test_hostile_requests.read_reply, but bytes read past one reply are
    kept for the next, so pipelined replies are not lost (read_reply returns
    whatever its last recv brought), and a chunked body is decoded. Not for
    replies to HEAD (their Content-Length has no body).
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self, what):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no {what} within {self.sock.gettimeout()}s; "
                                 f"received {self.buf[:300]!r}") from None
        assert data, f"connection closed before {what}; received {self.buf[:300]!r}"
        self.buf += data

    def _until(self, sep, what):
        while sep not in self.buf:
            self._more(what)
        part, _, self.buf = self.buf.partition(sep)
        return part

    def _take(self, n, what):
        while len(self.buf) < n:
            self._more(what)
        part, self.buf = self.buf[:n], self.buf[n:]
        return part

    def next(self, what="a reply"):
        lines = self._until(b"\r\n\r\n", what).decode("latin-1").split("\r\n")
        _, status, reason = (lines[0] + " ").split(" ", 2)
        headers = {k.strip().lower(): v.strip()
                   for k, _, v in (line.partition(":") for line in lines[1:])}
        if "chunked" in headers.get("transfer-encoding", ""):
            body = b""
            while size := int(self._until(b"\r\n", what).split(b";")[0], 16):
                body += self._take(size + 2, what)[:-2]
            self._until(b"\r\n", what)  # the empty trailer section
        else:
            body = self._take(int(headers.get("content-length", 0)), what)
        return Response("raw", what, int(status), reason.strip(), headers, body)


def one_reply(addr, data, what="a reply"):
    with connect(addr) as s:
        s.sendall(data)
        return Replies(s).next(what)


def read_until_closed(sock, timeout=CLOSE_TIMEOUT):
    """What the server sends until it closes the connection (a reset counts as
    closed); fails if the connection is still open after `timeout` seconds."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            raise AssertionError(f"server kept the connection open for {timeout}s; "
                                 f"received {data[:300]!r}") from None
        if not got:
            return data
        data += got


def assert_closed(sock):
    """The server closed the connection after its reply: a further request on
    it gets no answer. (Waiting for the close alone would not tell a close
    from httplib's 5 s keep-alive timeout.)"""
    try:
        sock.sendall(request("GET", "/health"))
    except (BrokenPipeError, ConnectionResetError):
        return
    got = read_until_closed(sock)
    assert got == b"", f"the connection stayed open: a further request got {got[:300]!r}"


def assert_api_error(r, *statuses):
    """`r` has one of `statuses` and the API's body {"error":{"code","message"}}."""
    assert r.status in statuses, r
    error = r.json().get("error")
    assert isinstance(error, dict) and error.get("code") and error.get("message"), r


def metric(addr, sample):
    """The value of one /metrics sample, written as the exposition writes it
    (e.g. 'cairn_gateway_timeouts_total{phase="idle"}'); 0 when absent."""
    text = http_request(addr, "GET", "/metrics", timeout=5).body.decode()
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0


def wait_metric_above(addr, sample, before):
    wait_until(lambda: metric(addr, sample) > before, 10, f"{sample} above {before}")


@pytest.fixture
def start_gateway(cluster, tmp_path):
    """start_gateway(*flags) starts another gateway with `flags` against the
    shared cluster's master and waits for /ready; it is stopped after the
    test, which fails if it died. Its logs are under tmp_path."""
    started, serving = [], []  # every one spawned; those that became ready

    def start(*flags):
        d = Daemon(f"gateway{len(started)}", BIN_DIR / "cairn-gateway", tmp_path, ("http",),
                   lambda listen: ["--listen", listen["http"], "--master", cluster.master.grpc,
                                   "--log_level", "info", *flags])
        started.append(d)
        d.start()
        d.wait_ready()
        serving.append(d)
        return d

    yield start
    dead = [f"{d.name} (exit {d.proc.returncode})" for d in serving if not d.alive()]
    for d in started:
        d.stop()
    if dead:
        pytest.fail(f"gateway(s) died during the test: {', '.join(dead)}; logs in {tmp_path}",
                    pytrace=False)


# --------------------------------------------------------------------------
# Speaking HTTP/1.1


def test_pipelined_requests_get_every_reply_in_order(cluster, ns):
    # RFC 9112 §9.3: a client may send its next requests before the replies
    # come; each must be answered, in order, none dropped or merged.
    a, b = payload(100, 1), payload(200, 2)
    assert cluster.gw.put(f"{ns}/a", a).status == 201
    assert cluster.gw.put(f"{ns}/b", b).status == 201
    with connect(cluster.gateway.http) as s:
        s.sendall(request("GET", files_target(f"{ns}/a")) + request("GET", "/health") +
                  request("GET", files_target(f"{ns}/b")))
        replies = Replies(s)
        first, second, third = (replies.next(f"reply {i}") for i in (1, 2, 3))
    assert (first.status, first.body) == (200, a), first
    assert second.status == 200 and second.json() == {"status": "ok"}, second
    assert (third.status, third.body) == (200, b), third


def test_a_method_the_route_lacks_is_405_with_allow(cluster):
    # httplib answered 404 "no route", as if the file route did not exist.
    r = one_reply(cluster.gateway.http,
                  request("PATCH", "/api/v1/files/x", "Content-Length: 0"))
    assert_api_error(r, 405)
    allowed = {m.strip() for m in (r.header("Allow") or "").split(",")}
    assert {"GET", "PUT", "DELETE"} <= allowed, r


def test_an_unknown_method_is_501(cluster):
    # httplib answered 400, blaming a well-formed request.
    assert_api_error(one_reply(cluster.gateway.http, request("FOO", "/health")), 501)


def test_an_http2_preface_is_refused_and_closed(cluster):
    # An HTTP/2 client's prior-knowledge preface must get an error and a close,
    # not be read as an HTTP/1.1 request with a body-less "PRI" method.
    with connect(cluster.gateway.http) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        assert_api_error(Replies(s).next(), *range(400, 600))
        assert_closed(s)


# --------------------------------------------------------------------------
# Bodies and Range are the file's, not the front end's


def test_a_multipart_upload_is_stored_byte_for_byte(cluster, ns):
    # httplib took a multipart/form-data body for a form to parse and failed
    # the upload (500, bad_function_call). An upload stores the bytes sent,
    # whatever its Content-Type.
    body = (b'--x\r\nContent-Disposition: form-data; name="file"; filename="f.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + payload(5000, 3) +
            b"\r\n--x--\r\n")
    r = cluster.gw.put(f"{ns}/form", body,
                       headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert r.status == 201, r
    assert r.json()["sha256"] == sha256(body), r
    got = cluster.gw.get(f"{ns}/form")
    assert got.status == 200, got
    assert_same_bytes(got.body, body)


def post_json(cluster, route, obj, headers):
    return cluster.gw.request("POST", route, json.dumps(obj).encode(),
                              {"Content-Type": "application/json", **headers})


# httplib applied a request's Range to every reply with a body: these JSON
# replies came back as 206 with one byte, or 416.
RANGE = {"Range": "bytes=0-0"}


def test_a_range_on_put_is_ignored(cluster, ns):
    data = payload(1000, 4)
    r = cluster.gw.put(f"{ns}/f", data, headers=RANGE)
    assert r.status == 201 and r.json()["sha256"] == sha256(data), r
    assert cluster.gw.get(f"{ns}/f").body == data


def test_a_range_on_mkdir_is_ignored(cluster, ns):
    r = post_json(cluster, "/api/v1/mkdir", {"path": f"{ns}/d"}, RANGE)
    assert r.status == 201 and r.json()["path"] == f"{ns}/d", r


def test_a_range_on_rename_is_ignored(cluster, ns):
    assert cluster.gw.mkdir(f"{ns}/src").status == 201
    r = post_json(cluster, "/api/v1/rename", {"source": f"{ns}/src", "target": f"{ns}/dst"},
                  RANGE)
    assert r.status == 200 and r.json() == {"source": f"{ns}/src", "target": f"{ns}/dst"}, r


def test_a_range_ending_at_the_largest_uint64_is_the_whole_file(cluster, ns):
    # A last byte past the end means the end (RFC 9110 §14.1.2), even when it
    # does not fit a signed 64-bit number.
    data = payload(3000, 5)
    assert cluster.gw.put(f"{ns}/f", data).status == 201
    r = cluster.gw.get(f"{ns}/f", headers={"Range": "bytes=0-18446744073709551615"})
    assert r.status == 206, r
    assert r.header("Content-Range") == "bytes 0-2999/3000", r
    assert_same_bytes(r.body, data)


def test_expect_100_continue_gets_100_before_the_body(cluster, ns):
    # A client that asks first sends its body only after "100 Continue".
    data = payload(3000, 6)
    target = files_target(f"{ns}/f")
    with connect(cluster.gateway.http) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(data)}\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        replies = Replies(s)
        interim = replies.next("100 Continue")
        assert interim.status == 100, interim
        s.sendall(data)
        final = replies.next("the upload's reply")
    assert final.status == 201, final
    assert cluster.gw.get(f"{ns}/f").body == data


# --------------------------------------------------------------------------
# Slow and many clients


def test_100_slow_headers_do_not_stop_health(cluster):
    # Slowloris: with httplib each connection held one of 64 worker threads
    # while its header trickled in, so 64 slow clients stopped the gateway.
    addr = cluster.gateway.http
    slow = []
    try:
        for _ in range(100):
            s = connect(addr)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        r = http_request(addr, "GET", "/health", timeout=5)
        assert r.status == 200, r
    finally:
        for s in slow:
            s.close()


def test_256_concurrent_clients_are_all_answered(cluster, ns):
    # Four times as many keep-alive clients as httplib had threads: httplib
    # reset some of them. None may be reset or left waiting.
    n = 256
    host, port = cluster.gateway.http.rsplit(":", 1)
    start = threading.Barrier(n)
    errors = []

    def client(i):
        data, target = payload(4096, 100 + i), files_target(f"{ns}/c{i}")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            start.wait(timeout=60)
            conn.request("PUT", target, body=data)
            put = conn.getresponse()
            put_body = put.read()
            conn.request("GET", target)
            get = conn.getresponse()
            body = get.read()
            if put.status != 201 or get.status != 200 or body != data:
                errors.append(f"client {i}: PUT {put.status} {put_body[:300]!r}, "
                              f"GET {get.status}, {len(body)} bytes back")
        except Exception as e:  # noqa: BLE001 -- every failure is reported below
            errors.append(f"client {i}: {e!r}")
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, f"{len(errors)} of {n} clients failed, e.g. {errors[:5]}"


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def test_1000_idle_connections_cost_under_64MiB(cluster, start_gateway, ns):
    # An idle connection must cost a buffer, not a thread and its stack.
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 500  # this process's sockets, or the gateway's plus its own files
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need} file descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, need), hard))
    idle = []
    try:
        gw = start_gateway()  # its own, started after raising the limit it inherits
        small = payload(1000, 7)
        assert cluster.gw.put(f"{ns}/small", small).status == 201
        before = vm_rss(gw.proc.pid)
        for _ in range(n):
            idle.append(connect(gw.http))
        wait_until(lambda: metric(gw.http, "cairn_gateway_open_connections") >= n, 30,
                   f"the gateway to report {n} open connections")
        grown = vm_rss(gw.proc.pid) - before
        assert grown < 64 << 20, (f"{n} idle connections grew the gateway's RSS by "
                                  f"{grown >> 20} MiB (from {before >> 20} MiB)")
        assert http_request(gw.http, "GET", "/health", timeout=5).status == 200
        r = http_request(gw.http, "GET", files_target(f"{ns}/small"), timeout=5)
        assert r.status == 200 and r.body == small, r
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


# --------------------------------------------------------------------------
# Limits: --max_header_bytes, --max_connections, --header_timeout, --idle_timeout


def test_front_end_metrics_are_described(cluster):
    # An operator's alerts on limits hit need the series to exist.
    text = http_request(cluster.gateway.http, "GET", "/metrics").body.decode()
    for family, kind in [("cairn_gateway_rejected_requests_total", "counter"),
                         ("cairn_gateway_timeouts_total", "counter"),
                         ("cairn_gateway_open_connections", "gauge")]:
        assert f"# TYPE {family} {kind}" in text, f"no {kind} {family} in /metrics"


def pad_header(n):
    return "X-Pad: " + "a" * n


def test_the_default_header_limit_is_16KiB(cluster):
    # httplib refused any header line over 8 KiB with 400.
    addr = cluster.gateway.http
    r = one_reply(addr, request("GET", "/health", pad_header(12 << 10)))
    assert r.status == 200, r
    assert_api_error(one_reply(addr, request("GET", "/health", pad_header(20 << 10))), 431)


def test_a_header_over_max_header_bytes_is_431_and_closes(start_gateway):
    # A header is held in memory while it arrives: its size is bounded, and
    # past the bound the client is told why (RFC 6585 §5) and disconnected.
    gw = start_gateway("--max_header_bytes", "4KiB")
    sample = 'cairn_gateway_rejected_requests_total{limit="header_too_large"}'
    before = metric(gw.http, sample)
    with connect(gw.http) as s:
        replies = Replies(s)
        s.sendall(request("GET", "/health", pad_header(2048)))
        assert replies.next("the reply under the limit").status == 200
        s.sendall(request("GET", "/health", pad_header(8192)))
        assert_api_error(replies.next("the reply over the limit"), 431)
        assert_closed(s)
    wait_metric_above(gw.http, sample, before)


def test_max_header_bytes_can_be_set_by_environment(start_gateway, monkeypatch):
    # Every daemon flag has an environment variable (doc/design.md §1.1).
    # cluster._clean_env keeps variables it does not know, so the gateway sees it.
    monkeypatch.setenv("MAX_HEADER_BYTES", "4KiB")
    gw = start_gateway()
    assert_api_error(one_reply(gw.http, request("GET", "/health", pad_header(8192))), 431)


def test_connections_over_max_connections_get_503_until_some_close(start_gateway):
    # The gateway's memory and descriptors are bounded by refusing, clearly,
    # the connections past the limit; freed slots are used again.
    gw = start_gateway("--max_connections", "20")
    # Until the server has seen /ready's connections close, they count.
    wait_until(lambda: metric(gw.http, "cairn_gateway_open_connections") <= 1, 10,
               "only /metrics' own connection open")
    held = [connect(gw.http) for _ in range(20)]  # accepted in order: these first
    try:
        with connect(gw.http) as extra:
            # A server may refuse at accept or answer the request: either way
            # the 503 arrives (Linux keeps it readable even if a reset follows).
            extra.sendall(request("GET", "/health"))
            assert_api_error(Replies(extra).next("the refusal"), 503)
            assert_closed(extra)
        for s in held[:5]:
            s.close()
        wait_until(lambda: http_request(gw.http, "GET", "/health", timeout=5).status == 200,
                   10, "/health once 5 connections closed")
        assert metric(gw.http, 'cairn_gateway_rejected_requests_total{limit="connections"}') >= 1
    finally:
        for s in held:
            s.close()


def test_a_header_not_finished_within_header_timeout_is_closed(start_gateway):
    # Slowloris bound: a header that trickles in may not hold its connection
    # for good (httplib allowed 60 s per read, without end).
    gw = start_gateway("--header_timeout", "1s")  # --idle_timeout stays 60s
    sample = 'cairn_gateway_timeouts_total{phase="header"}'
    before = metric(gw.http, sample)
    with connect(gw.http) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sent = read_until_closed(s)
    assert sent == b"" or sent.startswith(b"HTTP/1.1 408 "), sent
    wait_metric_above(gw.http, sample, before)


def test_an_idle_keep_alive_connection_is_closed_after_idle_timeout(start_gateway):
    # A keep-alive client that went quiet must give its connection back.
    gw = start_gateway("--idle_timeout", "1s")  # --header_timeout stays 10s
    sample = 'cairn_gateway_timeouts_total{phase="idle"}'
    before = metric(gw.http, sample)
    with connect(gw.http) as s:
        s.sendall(request("GET", "/health"))
        assert Replies(s).next().status == 200
        assert read_until_closed(s) == b""
    wait_metric_above(gw.http, sample, before)


def test_a_body_that_stops_is_dropped_after_idle_timeout(cluster, start_gateway, ns):
    # A client that stops sending its body must not hold the connection (or
    # the upload) for good, and what arrived is not committed.
    gw = start_gateway("--idle_timeout", "1s")
    target = files_target(f"{ns}/stalled")
    with connect(gw.http) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".encode() +
                  payload(1000, 8))
        sent = read_until_closed(s, timeout=IO_TIMEOUT)
    assert sent == b"" or re.match(rb"HTTP/1\.1 [45]\d\d ", sent), sent  # closed, or an error
    assert cluster.gw.head(f"{ns}/stalled").status == 404
