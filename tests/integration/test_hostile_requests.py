"""Requests a hostile or broken client sends: each gets a clear answer at once
and leaves nothing behind (no partial file, no hung connection).
"""

import socket

from cluster import payload, raw_http_request


def test_an_upload_without_a_length_is_refused_at_once_and_leaves_no_file(cluster, ns):
    # Neither Content-Length nor Transfer-Encoding: the request has no body
    # (RFC 9112 §6.3). It used to be read until the client hung up, and the
    # bytes sent before the drop became a file.
    target = f"/api/v1/files{ns}/f"
    host, port = cluster.gateway.http.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + payload(1000, 1))
        reply = s.recv(65536)  # answered without waiting for the client to finish
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
