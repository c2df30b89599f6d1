"""Requests a hostile or broken client sends: each gets a clear answer at once
and leaves nothing behind (no partial file, no hung connection).
"""

import socket

from cluster import payload, raw_http_request


def read_reply(s):
    """One whole reply (headers and Content-Length body), read without the
    client sending more: a reply that waited for the body would time out."""
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        assert b, f"connection closed before a reply: {data!r}"
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        b = s.recv(65536)
        assert b, "connection closed inside the reply body"
        body += b
    return head + b"\r\n\r\n" + body


def test_an_upload_without_a_length_is_refused_at_once_and_leaves_no_file(cluster, ns):
    # Neither Content-Length nor Transfer-Encoding: the request has no body
    # (RFC 9112 §6.3). It used to be read until the client hung up, and the
    # bytes sent before the drop became a file.
    target = f"/api/v1/files{ns}/f"
    host, port = cluster.gateway.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + payload(1000, 1))
        reply = read_reply(s)  # answered without waiting for the client to finish
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert b"Content-Length or Transfer-Encoding" in reply
    assert cluster.gw.head(f"{ns}/f").status == 404


def test_an_upload_whose_body_stops_short_is_not_committed(cluster, ns):
    target = f"/api/v1/files{ns}/short"
    host, port = cluster.gateway.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".encode() +
                  payload(1000, 2))
        s.shutdown(socket.SHUT_WR)  # the client goes away after 1000 of 5000 bytes
        s.recv(65536)
    assert cluster.gw.head(f"{ns}/short").status == 404


def test_a_truncated_chunked_upload_is_not_committed(cluster, ns):
    target = f"/api/v1/files{ns}/chunked"
    host, port = cluster.gateway.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "3e8\r\n".encode() + payload(1000, 3) + b"\r\n")  # no last chunk
        s.shutdown(socket.SHUT_WR)
        s.recv(65536)
    assert cluster.gw.head(f"{ns}/chunked").status == 404


def test_list_start_after_that_is_not_a_path_is_400(cluster):
    status, _, body = raw_http_request(
        cluster.gateway.http,
        b"GET /api/v1/list?start_after=%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 400, body
    assert b"start_after" in body


def send_and_read_reply(cluster, request):
    """Sends `request` and reads the reply, the client sending nothing more."""
    host, port = cluster.gateway.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        return read_reply(s)


def test_a_post_without_a_length_is_refused_at_once(cluster):
    reply = send_and_read_reply(
        cluster, b"POST /api/v1/mkdir HTTP/1.1\r\nHost: x\r\n\r\n" + b'{"path":"/x"')
    assert reply.startswith(b"HTTP/1.1 400"), reply
    assert b"Content-Length or Transfer-Encoding" in reply


def test_a_json_body_declared_huge_is_413_before_it_is_read(cluster):
    # It used to be read into memory: 8 GiB declared grew the gateway by 1 GiB.
    reply = send_and_read_reply(
        cluster, b"POST /api/v1/mkdir HTTP/1.1\r\nHost: x\r\nContent-Length: 8589934592\r\n\r\n"
        + b"x" * 4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b"too large" in reply


def test_a_chunked_json_body_is_refused(cluster):
    reply = send_and_read_reply(
        cluster, b"POST /api/v1/rename HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\n{\"sou\r\n")
    assert reply.startswith(b"HTTP/1.1 413"), reply


def test_a_compressed_upload_is_refused_not_inflated(cluster, ns):
    # httplib would inflate it and store other bytes than were sent.
    import gzip
    body = gzip.compress(payload(100000, 4))
    r = cluster.gw.put(f"{ns}/gz", body, headers={"Content-Encoding": "gzip"})
    assert r.status == 400, r
    assert b"Content-Encoding" in r.body
    assert cluster.gw.head(f"{ns}/gz").status == 404


def test_refusals_are_counted_by_limit(cluster):
    send_and_read_reply(cluster, b"POST /api/v1/mkdir HTTP/1.1\r\nHost: x\r\n\r\n")
    metrics = cluster.gw.request("GET", "/metrics").body.decode()
    assert 'cairn_gateway_rejected_requests_total{limit="no_length"}' in metrics
    assert "cairn_gateway_stalled_transfers_total" in metrics
