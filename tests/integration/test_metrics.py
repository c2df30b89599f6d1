"""Prometheus metrics: /metrics on the gateway, the master and the chunkservers.

After uploads, downloads, a failed download and a delete, each daemon's
/metrics must pass `promtool check metrics` (Debian's `prometheus` package,
installed by scripts/install-deps.sh) with no findings at all, and carry the
series an operator's dashboards and alerts are built on, with values that
match what the test did.

The cluster is this module's own: its chunkservers scrub every 500ms and its
master collects garbage after 200ms, so the scrub and garbage counters move
within the test instead of after the defaults' minutes.
"""

import math
import re
import shutil
import subprocess

import pytest

from cluster import CHUNK, Cluster, http_request, packed, payload, stored_size, wait_until

SETTLE_TIMEOUT = 30.0  # seconds for heartbeats, scrubbing and GC to catch up

UPLOADS = {  # name -> size: an empty file, one partial chunk, several chunks
    "empty": 0,
    "small": 1000,
    "exact": CHUNK,
    "multi": 2 * CHUNK + 4321,
    "gone": CHUNK + 17,  # deleted again, so its replicas become garbage
}


def chunks_of(size):
    return math.ceil(size / CHUNK)


# --------------------------------------------------------------------------
# The text exposition format


_SAMPLE_RE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?"
    r"\s+(?P<value>\S+)(?:\s+-?\d+)?$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class Exposition:
    """A parsed /metrics body: families' TYPE and HELP, and every sample."""

    def __init__(self, source, text):
        self.source = source
        self.text = text
        self.types = {}
        self.helps = {}
        self.samples = []  # (name, {label: value}, float)
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                self.types[name] = kind.strip()
            elif line.startswith("# HELP "):
                parts = line.split(None, 3)
                self.helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            elif line.strip() and not line.startswith("#"):
                m = _SAMPLE_RE.match(line.strip())
                assert m, f"{source}: cannot parse sample line {line!r}"
                labels = dict(_LABEL_RE.findall(m.group("labels") or ""))
                self.samples.append((m.group("name"), labels, float(m.group("value"))))

    def series(self, name, **labels):
        """Samples of `name` whose labels include `labels`."""
        return [(l, v) for n, l, v in self.samples
                if n == name and all(l.get(k) == str(x) for k, x in labels.items())]

    def value(self, name, **labels):
        """The value of the one sample of `name` with exactly `labels`."""
        found = [v for n, l, v in self.samples if n == name and l == {
            k: str(x) for k, x in labels.items()}]
        assert len(found) == 1, (
            f"{self.source}: expected one sample {name}{labels or ''}, found "
            f"{len(found)}; samples of {name}: {self.series(name) or 'none'}")
        return found[0]

    def total(self, name, **labels):
        return sum(v for _, v in self.series(name, **labels))

    def require(self, name, kind, *, label_names=()):
        """Asserts `name` is declared as `kind` with HELP, and has samples
        (for histograms: _bucket, _sum and _count) carrying `label_names`."""
        assert self.types.get(name) == kind, (
            f"{self.source}: {name} should be TYPE {kind}, is "
            f"{self.types.get(name, 'not declared')}")
        assert self.helps.get(name), f"{self.source}: {name} has no HELP text"
        names = ([f"{name}_bucket", f"{name}_sum", f"{name}_count"]
                 if kind == "histogram" else [name])
        for n in names:
            got = self.series(n)
            assert got, f"{self.source}: no {n} samples"
            for labels, _ in got:
                missing = set(label_names) - set(labels)
                assert not missing, f"{self.source}: {n}{labels} lacks labels {missing}"

    def check_histograms(self):
        """Each histogram's buckets are cumulative and end at +Inf == _count."""
        for name, kind in self.types.items():
            if kind != "histogram":
                continue
            groups = {}
            for labels, v in self.series(f"{name}_bucket"):
                key = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
                groups.setdefault(key, []).append((float(labels["le"]), v))
            for key, buckets in groups.items():
                buckets.sort()
                counts = [v for _, v in buckets]
                assert counts == sorted(counts), (
                    f"{self.source}: {name}{dict(key)} buckets not cumulative: {buckets}")
                assert buckets[-1][0] == math.inf, (
                    f"{self.source}: {name}{dict(key)} has no le=\"+Inf\" bucket")
                count = self.value(f"{name}_count", **dict(key))
                assert buckets[-1][1] == count, (
                    f"{self.source}: {name}{dict(key)} +Inf bucket "
                    f"{buckets[-1][1]} != _count {count}")


def scrape(addr, source):
    r = http_request(addr, "GET", "/metrics")
    assert r.status == 200, r
    ctype = r.header("Content-Type") or ""
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype, (
        f"{source} /metrics Content-Type {ctype!r}")
    return Exposition(source, r.body.decode("utf-8"))


def promtool_findings(text):
    """Runs `promtool check metrics` on `text`; returns (exit code, output)."""
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.fail("promtool not found: install Debian's `prometheus` package "
                    "(scripts/install-deps.sh)", pytrace=False)
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=60)
    out = (r.stdout + r.stderr).decode(errors="replace").strip()
    return r.returncode, out


def assert_promtool_clean(exp):
    code, out = promtool_findings(exp.text)
    assert code == 0 and not out, (
        f"promtool check metrics on the {exp.source}'s /metrics exited {code}:\n{out}")


# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def metrics_cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("metrics"),
                master_args=("--gc_grace", "200ms"),
                chunkserver_args=("--scrub_pause", "500ms"))
    c.start()
    try:
        yield c
        dead = c.dead_daemons()
        assert not dead, f"daemons died: {[d.name for d in dead]}"
    finally:
        c.stop()


@pytest.fixture(scope="module")
def traffic(metrics_cluster):
    """Uploads, downloads, a 404 and a delete; returns what the metrics should show."""
    c = metrics_cluster
    c.wait_nodes_alive(3)
    gw = c.gw
    files = {f"/metrics/{name}": payload(size, seed=name)
             for name, size in UPLOADS.items()}
    for path, data in files.items():
        r = gw.put(path, data)
        assert r.status == 201, r
    downloaded = 0
    for path, data in files.items():
        r = gw.get(path)
        assert r.status == 200 and r.body == data, r
        downloaded += len(data)
    assert gw.get("/metrics/missing").status == 404
    r = gw.delete("/metrics/gone")
    assert r.status in (200, 204), r
    kept = {p: d for p, d in files.items() if p != "/metrics/gone"}
    return {
        "uploads": len(files),
        "packed_uploads": sum(packed(len(d)) for d in files.values()),
        "uploaded_bytes": sum(len(d) for d in files.values()),
        "written_bytes": sum(stored_size(len(d)) for d in files.values()),
        "downloads": len(files),
        "downloaded_bytes": downloaded,
        "chunks_read": sum(chunks_of(len(d)) for d in files.values()),
        "chunks": sum(chunks_of(len(d)) for d in kept.values()),
        "stored_bytes": sum(stored_size(len(d)) for d in kept.values()),
        "garbage_chunks": chunks_of(UPLOADS["gone"]),
    }


def settled_chunkserver_metrics(c, traffic):
    """Scrapes every chunkserver once garbage is gone and a scrub ran.

    With replication 3 on 3 nodes, each holds one replica of every chunk.
    """
    def ready():
        exps = [scrape(cs.http, f"chunkserver {cs.name}") for cs in c.chunkservers]
        for e in exps:
            if (not e.series("cairn_chunkserver_chunks")
                    or e.total("cairn_chunkserver_chunks") != traffic["chunks"]
                    or e.total("cairn_chunkserver_scrubbed_bytes_total") <= 0):
                return None
        return exps

    try:
        return wait_until(ready, SETTLE_TIMEOUT,
                          f"each chunkserver to hold {traffic['chunks']} chunks "
                          f"(garbage deleted) and to have scrubbed some bytes")
    except TimeoutError as e:
        shown = "\n".join(
            f"{cs.name}: " + "; ".join(
                f"{n}{l or ''}={v:g}" for n, l, v in scrape(cs.http, cs.name).samples
                if n in ("cairn_chunkserver_chunks", "cairn_chunkserver_scrubbed_bytes_total",
                         "cairn_chunkserver_garbage_deleted_total"))
            for cs in c.chunkservers)
        raise AssertionError(f"{e}\n{shown}") from None


# --------------------------------------------------------------------------
# Tests


def test_gateway_metrics(metrics_cluster, traffic):
    exp = scrape(metrics_cluster.gateway.http, "gateway")
    assert_promtool_clean(exp)
    exp.check_histograms()

    exp.require("cairn_gateway_requests_total", "counter",
                label_names=("route", "method", "code"))
    exp.require("cairn_gateway_request_duration_seconds", "histogram",
                label_names=("route", "method"))
    exp.require("cairn_gateway_uploaded_bytes_total", "counter")
    exp.require("cairn_gateway_downloaded_bytes_total", "counter")
    exp.require("cairn_gateway_pack_batches_total", "counter", label_names=("result",))
    exp.require("cairn_gateway_packed_files_total", "counter")
    assert exp.total("cairn_gateway_pack_batches_total", result="ok") == traffic["packed_uploads"]
    assert exp.value("cairn_gateway_packed_files_total") == traffic["packed_uploads"]

    files = dict(route="/api/v1/files")
    assert exp.total("cairn_gateway_requests_total", method="PUT", code="201",
                     **files) == traffic["uploads"], exp.series("cairn_gateway_requests_total")
    assert exp.total("cairn_gateway_requests_total", method="GET", code="200",
                     **files) == traffic["downloads"], exp.series("cairn_gateway_requests_total")
    assert exp.total("cairn_gateway_requests_total", method="GET", code="404",
                     **files) == 1, exp.series("cairn_gateway_requests_total")
    assert exp.total("cairn_gateway_request_duration_seconds_count", method="PUT",
                     **files) == traffic["uploads"]
    assert exp.value("cairn_gateway_uploaded_bytes_total") == traffic["uploaded_bytes"]
    assert exp.value("cairn_gateway_downloaded_bytes_total") == traffic["downloaded_bytes"]


def test_master_metrics(metrics_cluster, traffic):
    exp = scrape(metrics_cluster.master.http, "master")
    assert_promtool_clean(exp)
    exp.check_histograms()

    exp.require("cairn_master_rpcs_total", "counter", label_names=("method", "code"))
    for gauge in ("cairn_master_chunks", "cairn_master_under_replicated_chunks",
                  "cairn_master_replication_queue_chunks"):
        exp.require(gauge, "gauge")
    exp.require("cairn_master_nodes", "gauge", label_names=("state",))

    # One at a time, so each small file is a pack of its own.
    packs = traffic["packed_uploads"]
    assert exp.total("cairn_master_rpcs_total", method="CommitUpload",
                     code="OK") == traffic["uploads"] - packs, exp.series("cairn_master_rpcs_total")
    assert exp.total("cairn_master_rpcs_total", method="CommitPack",
                     code="OK") == packs, exp.series("cairn_master_rpcs_total")
    assert exp.total("cairn_master_rpcs_total", method="Heartbeat", code="OK") > 0
    assert exp.value("cairn_master_nodes", state="alive") == 3
    assert exp.value("cairn_master_chunks") == traffic["chunks"]
    assert exp.value("cairn_master_under_replicated_chunks") == 0
    assert exp.value("cairn_master_replication_queue_chunks") == 0


def test_chunkserver_metrics(metrics_cluster, traffic):
    exps = settled_chunkserver_metrics(metrics_cluster, traffic)
    garbage_deleted = 0
    chunk_reads = 0
    for exp in exps:
        assert_promtool_clean(exp)
        exp.check_histograms()

        for gauge in ("cairn_chunkserver_chunks", "cairn_chunkserver_stored_bytes",
                      "cairn_chunkserver_disk_capacity_bytes",
                      "cairn_chunkserver_disk_free_bytes"):
            exp.require(gauge, "gauge")
        for counter in ("cairn_chunkserver_write_bytes_total",
                        "cairn_chunkserver_scrubbed_bytes_total",
                        "cairn_chunkserver_heartbeats_total"):
            exp.require(counter, "counter")
        exp.require("cairn_chunkserver_rpcs_total", "counter", label_names=("method", "code"))
        exp.require("cairn_chunkserver_rpc_duration_seconds", "histogram",
                    label_names=("method",))
        # Declared even before any garbage; summed over nodes below.
        assert exp.types.get("cairn_chunkserver_garbage_deleted_total") == "counter", (
            f"{exp.source}: cairn_chunkserver_garbage_deleted_total should be a counter, is "
            f"{exp.types.get('cairn_chunkserver_garbage_deleted_total', 'not declared')}")
        garbage_deleted += exp.total("cairn_chunkserver_garbage_deleted_total")

        assert exp.value("cairn_chunkserver_chunks") == traffic["chunks"]
        assert exp.value("cairn_chunkserver_stored_bytes") == traffic["stored_bytes"]
        capacity = exp.value("cairn_chunkserver_disk_capacity_bytes")
        free = exp.value("cairn_chunkserver_disk_free_bytes")
        assert 0 < free <= capacity, (exp.source, free, capacity)
        # Every node received every chunk of every upload, deleted or not.
        assert exp.value("cairn_chunkserver_write_bytes_total") == traffic["written_bytes"]
        assert exp.value("cairn_chunkserver_scrubbed_bytes_total") > 0
        assert exp.total("cairn_chunkserver_heartbeats_total") > 0
        writes = traffic["chunks"] + traffic["garbage_chunks"]
        assert exp.total("cairn_chunkserver_rpcs_total", method="WriteChunk",
                         code="OK") == writes, exp.series("cairn_chunkserver_rpcs_total")
        assert exp.total("cairn_chunkserver_rpc_duration_seconds_count",
                         method="WriteChunk") == writes
        chunk_reads += exp.total("cairn_chunkserver_rpcs_total", method="ReadChunk", code="OK")

    # Each download read every chunk of its file from some replica.
    assert chunk_reads >= traffic["chunks_read"], chunk_reads

    # The deleted file's replicas: one per chunk on each of the 3 nodes.
    assert garbage_deleted == 3 * traffic["garbage_chunks"], garbage_deleted
