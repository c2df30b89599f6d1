"""A paused chunkserver (SIGSTOP: its sockets stay open, it answers nothing)
must not hang requests: reads fail over to another replica and uploads move
the stalled chunk to a new pipeline, within the gateway's and chunkservers'
stall timeouts (a few seconds), not the calls' minutes-long deadlines.

Before the stall watchdog (common/rpc_watchdog.h), both requests below hung
until their 5- and 10-minute deadlines.
"""

import signal
import threading

import pytest

from cluster import CHUNK, Cluster, assert_same_bytes, payload

# Generous: the stall timeouts are seconds; a hang is minutes.
REQUEST_TIMEOUT = 60.0


@pytest.fixture
def cluster4(tmp_path):
    # Four nodes, so three replicas still fit beside a paused one.
    c = Cluster(tmp_path / "cluster", num_chunkservers=4)
    c.start()
    paused = []
    try:
        yield c, paused
    finally:
        for cs in paused:
            cs.proc.send_signal(signal.SIGCONT)
        c.stop()


def node_index(c, node_id):
    for n in c.gw.cluster().json()["nodes"]:
        if n["id"] == node_id:
            for i, cs in enumerate(c.chunkservers):
                if n["address"] == cs.grpc:
                    return i
    raise AssertionError(f"node {node_id} not found")


def pause(c, paused, i):
    c.chunkservers[i].proc.send_signal(signal.SIGSTOP)
    paused.append(c.chunkservers[i])


def test_get_fails_over_from_a_paused_first_replica(cluster4):
    c, paused = cluster4
    data = payload(6 * CHUNK + 1234, 11)
    assert c.gw.put("/f", data).status == 201
    info = c.gw.fileinfo("/f").json()
    first = info["chunks"][0]["replicas"][0]["node_id"]
    pause(c, paused, node_index(c, first))
    g = c.gw.request("GET", "/api/v1/files/f", timeout=REQUEST_TIMEOUT)
    assert g.status == 200, g
    assert_same_bytes(g.body, data, "/f")


def test_upload_routes_around_a_node_paused_midway(cluster4):
    c, paused = cluster4
    data = payload(40 * CHUNK, 12)
    sent = threading.Event()

    def body():
        # Pause a node once a quarter of the file is through.
        for off in range(0, len(data), CHUNK):
            if off == 10 * CHUNK:
                pause(c, paused, 1)
                sent.set()
            yield data[off:off + CHUNK]

    r = c.gw.request("PUT", "/api/v1/files/big", body=body(), timeout=REQUEST_TIMEOUT)
    assert sent.is_set()
    assert r.status == 201, r
    g = c.gw.request("GET", "/api/v1/files/big", timeout=REQUEST_TIMEOUT)
    assert g.status == 200, g
    assert_same_bytes(g.body, data, "/big")
