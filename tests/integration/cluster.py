"""Real-binary Cairn clusters for the integration tests.

`Cluster` starts `cairn-master`, N `cairn-chunkserver`s (one zone and one root
dir each) and a `cairn-gateway` on 127.0.0.1, every port chosen by the daemon
(port 0) and read back from its `listening on grpc|http HOST:PORT` stdout line.
Each daemon incarnation writes stdout and stderr to its own file under the
cluster's base dir; `Cluster.logs_tail()` gathers them for failure reports.
Daemons can be SIGKILLed and restarted on the ports they printed the first
time, with the same root dir, so the rest of the cluster finds them again.

`Gateway` is a thin REST client over http.client (one connection per request,
so a test can send raw, un-normalized request targets).

Binaries come from $CAIRN_BIN_DIR, default <repo>/build/bin. Nothing here
sleeps to wait for a condition: `wait_until` polls with a deadline.
"""

import atexit
import hashlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("CAIRN_BIN_DIR", REPO_ROOT / "build" / "bin"))

CHUNK = 1 << 20  # the cluster's --chunk_size (1MiB)
SMALL_FILE_MAX = 256 << 10  # the gateway's default --small_file_max
PACK_RECORD_HEADER = 16  # bytes before each packed file's data (common/pack_record.h)


def packed(size):
    """Whether the gateway writes an upload of `size` bytes as a pack record."""
    return 0 < size <= SMALL_FILE_MAX and size + PACK_RECORD_HEADER <= CHUNK


def stored_size(size):
    """Bytes an upload of `size` takes in its chunks (one replica)."""
    return size + PACK_RECORD_HEADER if packed(size) else size
REPLICATION = 3
ZONES = ("z1", "z2", "z3")
HEARTBEAT = "200ms"

START_TIMEOUT = 20.0  # seconds for a daemon to print its ports / become ready
HTTP_TIMEOUT = 30.0  # seconds for any single HTTP request
STOP_TIMEOUT = 5.0  # seconds between SIGTERM and SIGKILL on teardown

_LISTEN_RE = re.compile(r"^listening on (grpc|http) (\S+:\d+)\s*$")

# Environment variables the daemons read; cleared so that only the flags the
# tests pass configure them.
_CONFIG_ENV = (
    "SERVER_ADDRESS", "HTTP_ADDRESS", "MASTER_ADDR", "ROOT_DIR", "LOG_LEVEL",
    "ADVERTISE_ADDRESS", "ZONE", "CHUNK_SIZE", "REPLICATION",
    "HEARTBEAT_INTERVAL", "STALE_AFTER", "DEAD_AFTER", "GATEWAY_ADDR",
    "SERVER_TYPE",
)

# Every process this module started and has not yet reaped, so an interrupted
# run still kills them (by PID) on interpreter exit.
_LIVE = set()


@atexit.register
def _kill_leftovers():
    for proc in list(_LIVE):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _LIVE.clear()


class ClusterError(Exception):
    """A daemon failed to start, exited early, or never became ready."""


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls `predicate()` until it returns a truthy value, which is returned.

    Connection-level errors (OSError, http.client.HTTPException) count as "not
    yet"; any other exception propagates. Raises TimeoutError naming `what`
    and the last value or error seen.
    """
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except (OSError, http.client.HTTPException) as e:
            last = e
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"timed out after {timeout:.1f}s waiting for {what}; "
                f"last result: {last!r}")
        time.sleep(interval)


def payload(size, seed):
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def assert_same_bytes(actual, expected, what="body"):
    """Compares two byte strings with a short message instead of a huge diff."""
    if actual == expected:
        return
    n = min(len(actual), len(expected))
    first = next((i for i in range(n) if actual[i] != expected[i]), n)
    raise AssertionError(
        f"{what} differs: got {len(actual)} bytes (sha256 {sha256(actual)}), "
        f"expected {len(expected)} bytes (sha256 {sha256(expected)}); "
        f"first difference at offset {first} (chunk {first // CHUNK}, "
        f"offset {first % CHUNK} in chunk)")


# --------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, method, target, status, reason, headers, body):
        self.method = method
        self.target = target
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased name -> value
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(
                f"{self.method} {self.target}: body is not JSON ({e}): "
                f"{self.body[:300]!r}") from None

    def __repr__(self):
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return (f"<{self.method} {self.target} -> {self.status} {self.reason} "
                f"headers={self.headers} body={body!r}>")


def http_request(addr, method, target, body=None, headers=None,
                 timeout=HTTP_TIMEOUT):
    """Sends one request on a fresh connection to `addr` ("host:port").

    `target` is sent as-is (no normalization); `body` may be bytes or an
    iterable of bytes (sent with Transfer-Encoding: chunked).
    """
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        hdrs = dict(headers or {})
        chunked = body is not None and not isinstance(body, (bytes, bytearray))
        if chunked:
            hdrs["Transfer-Encoding"] = "chunked"
        conn.request(method, target, body=body, headers=hdrs,
                     encode_chunked=chunked)
        resp = conn.getresponse()
        data = resp.read()
        return Response(method, target, resp.status, resp.reason,
                        {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def raw_http_request(addr, request_bytes, timeout=HTTP_TIMEOUT):
    """Sends hand-written request bytes; returns (status, headers, body).

    For request targets http.client refuses to send (e.g. non-ASCII bytes).
    The request must carry `Connection: close`.
    """
    import socket
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(request_bytes)
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0] else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def files_target(path):
    """/api/v1/files/... request target for an absolute Cairn path."""
    assert path.startswith("/"), path
    return "/api/v1/files" + urllib.parse.quote(path, safe="/")


class Gateway:
    """REST client for one gateway address."""

    def __init__(self, addr):
        self.addr = addr

    def request(self, method, target, body=None, headers=None, **kw):
        return http_request(self.addr, method, target, body, headers, **kw)

    def put(self, path, data, headers=None):
        return self.request("PUT", files_target(path), data, headers)

    def get(self, path, headers=None):
        return self.request("GET", files_target(path), None, headers)

    def head(self, path, headers=None):
        return self.request("HEAD", files_target(path), None, headers)

    def delete(self, path, recursive=False):
        target = files_target(path) + ("?recursive=true" if recursive else "")
        return self.request("DELETE", target)

    def _query(self, route, **params):
        return self.request("GET", route + "?" + urllib.parse.urlencode(params))

    def list(self, path, recursive=False):
        params = {"path": path}
        if recursive:
            params["recursive"] = "true"
        return self._query("/api/v1/list", **params)

    def fileinfo(self, path):
        return self._query("/api/v1/fileinfo", path=path)

    def usage(self, path):
        return self._query("/api/v1/usage", path=path)

    def cluster(self):
        return self.request("GET", "/api/v1/cluster")

    def _post_json(self, route, obj):
        return self.request("POST", route, json.dumps(obj).encode(),
                            {"Content-Type": "application/json"})

    def mkdir(self, path):
        return self._post_json("/api/v1/mkdir", {"path": path})

    def rename(self, source, target):
        return self._post_json("/api/v1/rename",
                               {"source": source, "target": target})


# --------------------------------------------------------------------------
# Daemons


def _clean_env():
    env = dict(os.environ)
    for name in _CONFIG_ENV:
        env.pop(name, None)
    return env


def _tail(path, lines):
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(missing)"
    all_lines = text.splitlines()
    cut = all_lines[-lines:]
    prefix = f"... ({len(all_lines) - len(cut)} earlier lines)\n" if len(
        all_lines) > len(cut) else ""
    return prefix + "\n".join(cut)


class Daemon:
    """One Cairn daemon process, restartable on the ports it printed first.

    `make_args(listen)` returns the flags for one incarnation given a dict
    port kind -> "host:port" to listen on; it is called at each start, so it
    may read other daemons' current addresses.
    """

    def __init__(self, name, binary, log_dir, port_kinds, make_args):
        self.name = name
        self.binary = Path(binary)
        self.log_dir = Path(log_dir)
        self.port_kinds = tuple(port_kinds)
        self._make_args = make_args
        self.addrs = {}  # port kind -> "host:port", from the first start
        self.proc = None
        self.incarnation = 0
        self.expect_running = False
        self._stdout = None

    @property
    def grpc(self):
        return self.addrs["grpc"]

    @property
    def http(self):
        return self.addrs["http"]

    def spawn(self, reuse_ports=False):
        if not self.binary.is_file():
            raise ClusterError(
                f"{self.binary} not found: build first (cmake -S . -B build -G "
                f"Ninja && cmake --build build) or set CAIRN_BIN_DIR")
        assert not self.alive(), f"{self.name} is already running"
        if reuse_ports:
            listen = {k: self.addrs[k] for k in self.port_kinds}
        else:
            listen = {k: "127.0.0.1:0" for k in self.port_kinds}
        self.incarnation += 1
        self._stdout = self.log_dir / f"{self.name}.{self.incarnation}.stdout"
        stderr = self.log_dir / f"{self.name}.{self.incarnation}.stderr"
        argv = [str(self.binary)] + [str(a) for a in self._make_args(listen)]
        with open(self._stdout, "wb") as out, open(stderr, "wb") as err:
            out.write(("# " + " ".join(argv) + "\n").encode())
            out.flush()
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                env=_clean_env(), cwd=self.log_dir)
        _LIVE.add(self.proc)
        self.expect_running = True
        self._requested = listen

    def wait_listening(self, timeout=START_TIMEOUT):
        """Waits for one `listening on` line per port kind; records addrs."""

        def ports():
            if self.proc.poll() is not None:
                raise ClusterError(
                    f"{self.name} exited with status {self.proc.returncode} "
                    f"before printing its ports\n{self.logs_tail()}")
            found = {}
            for line in self._stdout.read_text(errors="replace").splitlines():
                m = _LISTEN_RE.match(line.strip())
                if m:
                    found[m.group(1)] = m.group(2)
            return found if all(k in found for k in self.port_kinds) else None

        try:
            found = wait_until(ports, timeout, f"{self.name} to print its ports")
        except TimeoutError as e:
            raise ClusterError(f"{e}\n{self.logs_tail()}") from None
        for kind in self.port_kinds:
            want = self._requested[kind]
            if not want.endswith(":0") and found[kind] != want:
                raise ClusterError(
                    f"{self.name} was told to listen on {kind} {want} but "
                    f"printed {found[kind]}")
        self.addrs = {k: found[k] for k in self.port_kinds}

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise ClusterError(
                    f"{self.name} exited with status {self.proc.returncode} "
                    f"while waiting for /ready\n{self.logs_tail()}")
            return http_request(self.http, "GET", "/ready",
                                timeout=2).status == 200

        try:
            wait_until(ready, timeout, f"{self.name} GET /ready == 200")
        except TimeoutError as e:
            raise ClusterError(f"{e}\n{self.logs_tail()}") from None

    def start(self, reuse_ports=False, timeout=START_TIMEOUT):
        self.spawn(reuse_ports)
        self.wait_listening(timeout)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Sends `sig` to this daemon's PID and reaps it."""
        self.expect_running = False
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        self.proc.wait(timeout=STOP_TIMEOUT)
        _LIVE.discard(self.proc)

    def stop(self):
        """SIGTERM, then SIGKILL if it does not exit within STOP_TIMEOUT."""
        self.expect_running = False
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _LIVE.discard(self.proc)

    def logs_tail(self, lines=60):
        parts = []
        for i in range(1, self.incarnation + 1):
            for stream in ("stdout", "stderr"):
                p = self.log_dir / f"{self.name}.{i}.{stream}"
                parts.append(f"----- {p.name} -----\n{_tail(p, lines)}")
        return "\n".join(parts)


class Cluster:
    """master + chunkservers (zones z1, z2, z3, ...) + gateway on 127.0.0.1."""

    def __init__(self, base_dir, num_chunkservers=3, zones=ZONES,
                 master_args=(), chunkserver_args=(), gateway_args=(), chunk_size="1MiB"):
        self.base_dir = Path(base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        logs = self.base_dir / "logs"
        logs.mkdir(exist_ok=True)

        self.master_root = self.base_dir / "master"
        self.master = Daemon(
            "master", BIN_DIR / "cairn-master", logs, ("grpc", "http"),
            lambda l: ["--listen", l["grpc"], "--http_listen", l["http"],
                       "--root_dir", self.master_root,
                       "--chunk_size", chunk_size,
                       "--replication", str(REPLICATION),
                       "--log_level", "info", *master_args])

        self.chunkservers = []
        self.chunkserver_roots = []
        self.zones = []
        for i in range(num_chunkservers):
            root = self.base_dir / f"cs{i}"
            zone = zones[i % len(zones)]
            self.chunkserver_roots.append(root)
            self.zones.append(zone)
            self.chunkservers.append(Daemon(
                f"cs{i}", BIN_DIR / "cairn-chunkserver", logs,
                ("grpc", "http"),
                lambda l, root=root, zone=zone: [
                    "--listen", l["grpc"], "--http_listen", l["http"],
                    "--master", self.master.grpc, "--root_dir", root,
                    "--zone", zone, "--heartbeat_interval", HEARTBEAT,
                    "--log_level", "info", *chunkserver_args]))

        # The gateway has one HTTP port, passed with --listen.
        self.gateway = Daemon(
            "gateway", BIN_DIR / "cairn-gateway", logs, ("http",),
            lambda l: ["--listen", l["http"], "--master", self.master.grpc,
                       "--log_level", "info", *gateway_args])
        self.gw = None

    @property
    def daemons(self):
        return [self.master, *self.chunkservers, self.gateway]

    def start(self):
        for root in [self.master_root, *self.chunkserver_roots]:
            root.mkdir(parents=True, exist_ok=True)
        try:
            self.master.start()
            for cs in self.chunkservers:
                cs.spawn()
            self.gateway.spawn()
            for d in [*self.chunkservers, self.gateway]:
                d.wait_listening()
            self.gw = Gateway(self.gateway.http)
            for d in self.daemons:
                d.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for d in reversed(self.daemons):
            d.stop()

    # --- failures ---------------------------------------------------------

    def kill_master(self):
        self.master.kill(signal.SIGKILL)

    def restart_master(self):
        """Starts the master again on its first ports and root dir.

        Returns once it prints its ports; callers poll for what they need.
        """
        self.master.start(reuse_ports=True)

    def kill_chunkserver(self, i):
        self.chunkservers[i].kill(signal.SIGKILL)

    def restart_chunkserver(self, i):
        cs = self.chunkservers[i]
        cs.start(reuse_ports=True)
        cs.wait_ready()

    # --- observation ------------------------------------------------------

    def dead_daemons(self):
        """Daemons that should be running but have exited."""
        return [d for d in self.daemons if d.expect_running and not d.alive()]

    def nodes(self):
        r = self.gw.cluster()
        assert r.status == 200, r
        return r.json()["nodes"]

    def wait_nodes_alive(self, n, timeout=START_TIMEOUT):
        def enough():
            r = self.gw.cluster()
            if r.status != 200:
                return None
            alive = [x for x in r.json()["nodes"]
                     if str(x.get("state", "")).lower() == "alive"]
            return alive if len(alive) >= n else None

        return wait_until(enough, timeout, f"{n} alive nodes in /api/v1/cluster")

    def wait_gateway_ready(self, timeout=START_TIMEOUT):
        wait_until(lambda: http_request(self.gateway.http, "GET", "/ready",
                                        timeout=2).status == 200,
                   timeout, "gateway GET /ready == 200")

    def logs_tail(self, lines=60):
        out = [f"cluster base dir: {self.base_dir}"]
        for d in self.daemons:
            state = ("running" if d.alive() else
                     f"exited {d.proc.returncode}" if d.proc else "not started")
            out.append(f"===== {d.name} ({state}, addrs {d.addrs}) =====")
            out.append(d.logs_tail(lines))
        return "\n".join(out)
