"""Fixtures for the real-binary integration tests (see cluster.py).

Run from the repository root after building:

    /usr/bin/python3 -m pytest tests/integration -q

Fixtures:
  cluster        the session's shared cluster (master, 3 chunkservers in zones
                 z1..z3, gateway); after each test, every daemon must still be
                 running (no request may crash a daemon).
  fresh_cluster  a cluster of its own, for tests that kill and restart daemons;
                 daemons the test did not kill must still be running after it.
  ns             a directory path unique to the test, e.g. "/test_foo-size_1".
  gw             the shared cluster's Gateway client.

When a test fails, the tail of every daemon's stdout/stderr is attached to
the report; full logs stay under pytest's basetemp.
"""

import re

import pytest

from cluster import Cluster


@pytest.fixture(scope="session")
def _shared_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("shared"))
    c.start()
    yield c
    c.stop()


def _fail_if_any_died(c):
    dead = c.dead_daemons()
    if dead:
        names = ", ".join(f"{d.name} (exit {d.proc.returncode})" for d in dead)
        pytest.fail(f"daemon(s) died during the test: {names}", pytrace=False)


@pytest.fixture
def cluster(_shared_cluster):
    yield _shared_cluster
    _fail_if_any_died(_shared_cluster)


@pytest.fixture
def gw(cluster):
    return cluster.gw


@pytest.fixture
def fresh_cluster(tmp_path):
    c = Cluster(tmp_path / "cluster")
    c.start()
    try:
        yield c
        _fail_if_any_died(c)
    finally:
        c.stop()


@pytest.fixture
def ns(request):
    return "/" + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    seen = set()
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, Cluster) and id(value) not in seen:
            seen.add(id(value))
            report.sections.append(
                (f"cairn daemon logs ({report.when})", value.logs_tail()))
