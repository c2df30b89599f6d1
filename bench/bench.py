#!/usr/bin/env python3
"""Cairn benchmark: how close Cairn comes to what this machine allows.

Measures, in one run (bench/run.sh builds the Release binaries and calls this):
  1. limits: three concurrent fsync'ed writers (what a replication-3 upload costs
     the disk), one writer, a sequential read of an uncached file, loopback TCP;
  2. a large file (1 GiB) uploaded and downloaded through the gateway with curl,
     with the gateway's peak RSS;
  3. small files (4 KiB, 1 MiB): PUT and GET from 16 keep-alive clients, and
     4 KiB from 256;
  4. idle connections: the gateway's RSS with 1,000 idle keep-alive
     connections open, and the 4 KiB GET rate of 16 clients with and without them;
  5. master metadata ops over gRPC: mkdir, create, stat;
  6. master RSS per chunk with one million chunks (in-process Master);
  7. repair: bench/repair_bench.py.
and writes bench/results/<timestamp>.json and .md (and latest.md). With --quick
(smaller sizes, shorter phases) the results go to bench/results/tmp/ instead.

Every daemon and tool runs as a child of this process and is stopped at the end,
also on SIGTERM/SIGINT. Daemon PIDs are appended to $CAIRN_BENCH_PIDFILE (if set)
so that bench/run.sh can kill them should this process die without cleaning up.
The run's data goes to a new directory under $CAIRN_BENCH_DIR (default
bench/results/tmp/), removed at the end unless $CAIRN_BENCH_KEEP is set.
"""

import argparse
import errno
import hashlib
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20
GIB = 1 << 30

# The issue 6 targets.
TARGETS = {
    "upload_ratio": 0.6,       # of the three-copies-with-fsync limit
    "download_ratio": 0.5,     # of loopback TCP
    "put_4k_ops": 3000,
    "get_4k_ops": 15000,
    "stat_ops": 50000,
    "master_bytes_per_chunk": 200,
    # "Gateway RSS bounded": one upload buffers at most one 64 MiB chunk (for
    # replay after a pipeline failure), so the peak must stay well under this,
    # whatever the file size.
    "gateway_peak_rss_mib": 256,
}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# processes


def cpu_seconds(pid):
    """utime + stime of `pid` in seconds, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in bytes, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def reset_peak_rss(pid):
    """Resets VmHWM to the current RSS (Linux >= 4.0); False if not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class Phase:
    """Measures a phase: wall time, load average, CPU seconds of each daemon, and
    the peak RSS of the watched processes (sampled every 50 ms, and VmHWM)."""

    def __init__(self, name, daemons, watch_rss=()):
        self.name = name
        self.daemons = dict(daemons)  # name -> pid
        self.watch_rss = list(watch_rss)  # names of daemons whose RSS peak we want
        self.result = {}

    def __enter__(self):
        log(f"{self.name} (load average {os.getloadavg()[0]:.2f})")
        self.load = os.getloadavg()
        self.hwm_reset = {n: reset_peak_rss(self.daemons[n]) for n in self.watch_rss}
        self.peak = {n: proc_status(self.daemons[n], "VmRSS") or 0 for n in self.watch_rss}
        self.cpu0 = {n: cpu_seconds(p) for n, p in self.daemons.items()}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self.t0 = time.monotonic()
        return self

    def _sample(self):
        while not self._stop.wait(0.05):
            for n in self.watch_rss:
                rss = proc_status(self.daemons[n], "VmRSS") or 0
                self.peak[n] = max(self.peak[n], rss)

    def __exit__(self, *exc):
        wall = time.monotonic() - self.t0
        self._stop.set()
        self._sampler.join()
        cpu = {}
        for n, p in self.daemons.items():
            c1 = cpu_seconds(p)
            if c1 is not None and self.cpu0[n] is not None:
                cpu[n] = round(c1 - self.cpu0[n], 3)
        self.result = {
            "wall_s": round(wall, 3),
            "loadavg_at_start": [round(x, 2) for x in self.load],
            "daemon_cpu_s": cpu,
        }
        for n in self.watch_rss:
            hwm = proc_status(self.daemons[n], "VmHWM") if self.hwm_reset[n] else None
            self.result[f"{n}_peak_rss_mib"] = round(max(self.peak[n], hwm or 0) / MIB, 1)
            self.result[f"{n}_rss_after_mib"] = round(
                (proc_status(self.daemons[n], "VmRSS") or 0) / MIB, 1)
        return False


def run_json(argv, timeout=None):
    """Runs a tool that prints one JSON object; returns it."""
    log("  $ " + " ".join(str(a) for a in argv))
    r = subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited {r.returncode}: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# machine


def machine_description(data_dir):
    def read(path):
        try:
            return Path(path).read_text()
        except OSError:
            return ""

    cpu = re.search(r"^model name\s*:\s*(.*)$", read("/proc/cpuinfo"), re.M)
    mem = re.search(r"^MemTotal:\s*(\d+)", read("/proc/meminfo"), re.M)
    df = subprocess.run(["df", "-PT", str(data_dir)], capture_output=True, text=True).stdout
    dev = fstype = size = ""
    if df:
        parts = df.splitlines()[-1].split()
        dev, fstype, size = parts[0], parts[1], f"{int(parts[2]) / (1 << 20):.0f} GiB"
    rotational = ""
    block = Path(dev).name if dev.startswith("/dev/") else ""
    if block:
        rotational = read(f"/sys/block/{block}/queue/rotational").strip()
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src",
                                "proto", "CMakeLists.txt"],
                               capture_output=True, text=True).stdout.strip() != ""
    except OSError:
        commit, dirty = "", False
    return {
        "hostname": platform.node(),
        "nproc": os.cpu_count(),
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "memory_gib": round(int(mem.group(1)) / (1 << 20), 1) if mem else None,
        "kernel": platform.release(),
        "data_dir": str(data_dir),
        "disk": {"device": dev, "fs": fstype, "size": size,
                 "rotational": rotational == "1" if rotational else None},
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "git_commit": commit + ("+dirty" if dirty else ""),
    }


# --------------------------------------------------------------------------
# phases


def best_of(runs, key):
    """The run with the highest `key`; all runs are kept under "runs"."""
    best = dict(max(runs, key=lambda r: r[key]))
    best["runs"] = [r[key] for r in runs]
    return best


def measure_limits(tools, data_dir, size, tcp_bytes, repeat):
    """Each limit is the best of `repeat` runs: a limit is an upper bound, and
    other work on this machine only ever makes a run slower."""
    limits = {}

    def measured(name, argv, key):
        runs = []
        with Phase(f"limits: {name} (best of {repeat})", {}) as p:
            for _ in range(repeat):
                runs.append(run_json(argv))
        best = best_of(runs, key)
        best["phase"] = p.result
        return best

    disk = [tools / "cairn-bench-limits", "disk", "--dir", data_dir, "--bytes", size]
    limits["disk_3_writers"] = measured("3 writers with fsync", disk + ["--writers", 3],
                                        "per_copy_mib_s")
    # The last run's file stays: the large upload sends it.
    limits["disk_1_writer"] = measured("1 writer with fsync", disk + ["--writers", 1, "--keep"],
                                       "per_copy_mib_s")
    source = Path(limits["disk_1_writer"]["files"][0])
    with Phase("limits: sequential read", {}) as p:
        limits["read"] = run_json([tools / "cairn-bench-limits", "read", "--file", source])
    limits["read"]["phase"] = p.result
    limits["tcp"] = measured("loopback TCP", [tools / "cairn-bench-limits", "tcp", "--bytes",
                                              tcp_bytes], "mib_s")
    return limits, source


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MIB):
            h.update(block)
    return h.hexdigest()


def curl(args):
    """Runs curl; returns the -w values (http_code time_total size_upload size_download)."""
    fmt = "%{http_code} %{time_total} %{size_upload} %{size_download}"
    argv = ["curl", "-sS", "--fail-with-body", "-w", fmt, *args]
    log("  $ " + " ".join(argv))
    r = subprocess.run(argv, capture_output=True, text=True)
    code, total, up, down = r.stdout.strip().splitlines()[-1].split()[-4:]
    return {"rc": r.returncode, "http_code": int(code), "seconds": float(total),
            "size_upload": int(float(up)), "size_download": int(float(down)),
            "stderr": r.stderr.strip()[-500:]}


def upload(cluster, source, path):
    """PUTs `source` with curl; returns curl's figures and the gateway's reply."""
    url = f"http://{cluster.gateway.http}/api/v1/files{path}"
    reply = cluster.base_dir / "upload-reply.json"
    reply.unlink(missing_ok=True)
    # -H Expect: -- no 100-continue round trip.
    r = curl(["-X", "PUT", "-T", str(source), "-H", "Expect:", "-o", str(reply), url])
    r["reply"] = reply.read_text()[:500] if reply.exists() else ""
    if r["http_code"] != 201:
        raise RuntimeError(f"upload of {path} failed: {r}")
    return r


def download(cluster, path):
    url = f"http://{cluster.gateway.http}/api/v1/files{path}"
    headers = cluster.base_dir / "download-headers"
    r = curl(["-o", "/dev/null", "-D", str(headers), url])
    r["headers"] = headers.read_text().lower() if headers.exists() else ""
    if r["http_code"] != 200:
        raise RuntimeError(f"download of {path} failed: {r}")
    return r


def measure_large(cluster, daemons, source, size, repeat):
    """Uploads and downloads a `size`-byte file `repeat` times each; the best
    run counts (as for the limits), the gateway's peak RSS is the highest seen."""
    want_sha = sha256_file(source)
    out = {"bytes": size}
    ups, downs = [], []
    for i in range(repeat):
        with Phase(f"large: upload {i + 1}/{repeat}", daemons, ["gateway"]) as p:
            r = upload(cluster, source, f"/bench/large/file{i}")
        r["phase"] = p.result
        r["sha256_ok"] = json.loads(r.pop("reply")).get("sha256") == want_sha
        r["mib_s"] = size / MIB / r["seconds"]
        ups.append(r)
    # Chunkservers write replicas past the page cache (O_DIRECT), so the first
    # read of a file comes from the disk ("cold"); a second read of the same
    # file finds it in the chunkserver's page cache ("warm"), as a popular file
    # would be.
    colds = []
    for i in range(repeat):
        for kind, runs in (("cold", colds), ("warm", downs)):
            with Phase(f"large: download {i + 1}/{repeat} ({kind})", daemons, ["gateway"]) as p:
                r = download(cluster, f"/bench/large/file{i}")
            r["phase"] = p.result
            r["sha256_header_ok"] = f"x-checksum-sha256: {want_sha}" in r.pop("headers")
            if r["size_download"] != size:
                raise RuntimeError(f"download returned {r['size_download']} bytes, want {size}")
            r["mib_s"] = size / MIB / r["seconds"]
            runs.append(r)
    for name, runs in (("upload", ups), ("download", downs), ("download_cold", colds)):
        best = best_of(runs, "mib_s")
        best["gateway_peak_rss_mib"] = max(r["phase"]["gateway_peak_rss_mib"] for r in runs)
        best["all_sha256_ok"] = all(r.get("sha256_ok", r.get("sha256_header_ok")) for r in runs)
        out[name] = best
    return out


def perf_by_process(perf, data):
    """Samples of a perf recording as {pid: {(symbol, dso): count}} (`perf script`
    names the process of each sample; `perf report --pid` would filter by thread)."""
    out = subprocess.run([perf, "script", "-i", str(data), "-F", "pid,ip,sym,dso"],
                         capture_output=True, text=True).stdout
    samples = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            per = samples.setdefault(int(m.group(1)), {})
            dso = Path(m.group(3)).name
            sym = m.group(2) if m.group(2) and m.group(2) != "[unknown]" else f"[{dso}]"
            key = (sym, dso)
            per[key] = per.get(key, 0) + 1
    return samples


def perf_top(samples, pids, limit=12):
    """The busiest symbols of `pids`, as percent of their own samples."""
    merged = {}
    for pid in pids:
        for key, n in samples.get(pid, {}).items():
            merged[key] = merged.get(key, 0) + n
    total = sum(merged.values())
    top = sorted(merged.items(), key=lambda kv: -kv[1])[:limit]
    return total, [{"percent": round(100.0 * n / total, 1), "symbol": sym[:120], "dso": dso}
                   for (sym, dso), n in top]


def profile(cluster, daemons, tools, source, profile_dir):
    """perf record (cpu-clock samples) of every daemon during one more large
    upload, a download, and a master create+stat run; the top symbols of each daemon
    group, as percent of that group's samples, and each group's share of all."""
    perf = shutil.which("perf")
    if perf is None:
        log("perf not found: no profile")
        return {"error": "perf not installed (Debian: linux-perf)"}
    profile_dir.mkdir(parents=True, exist_ok=True)
    groups = {"gateway": [daemons["gateway"]], "master": [daemons["master"]],
              "chunkservers": [p for n, p in daemons.items() if n.startswith("cs")]}
    runs = {
        "upload": lambda: upload(cluster, source, "/bench/large/profiled"),
        # A download is short: three, so that the samples outweigh perf's start.
        "download": lambda: [download(cluster, "/bench/large/profiled") for _ in range(3)],
        # 3 s of creates, then 3 s of stats of those files.
        "create+stat": lambda: run_json([tools / "cairn-metabench", "--master", cluster.master.grpc,
                                  "--threads", 8, "--seconds", 3, "--ops", "create,lookup",
                                  "--prefix", "/bench/profile"]),
    }
    result = {}
    for what, fn in runs.items():
        data = profile_dir / f"perf-{what}.data"
        # perf starts with sampling off and says (on the ack fifo) when it is on:
        # attaching to every thread takes a while on a loaded machine, and an
        # interrupt before that leaves an unreadable recording.
        ctl, ack = profile_dir / "perf.ctl", profile_dir / "perf.ack"
        for fifo in (ctl, ack):
            fifo.unlink(missing_ok=True)
            os.mkfifo(fifo)
        ack_fd = os.open(ack, os.O_RDONLY | os.O_NONBLOCK)
        with open(profile_dir / f"perf-{what}.log", "wb") as perf_log:
            rec = subprocess.Popen(
                [perf, "record", "-D", "-1", "--control", f"fifo:{ctl},{ack}", "-F", "499",
                 "-o", str(data), "-p", ",".join(str(p) for p in daemons.values())],
                stdout=perf_log, stderr=subprocess.STDOUT)
        ctl_fd = None
        try:
            deadline = time.monotonic() + 60
            while ctl_fd is None:
                try:
                    ctl_fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as e:  # ENXIO: perf has not opened it yet
                    if e.errno != errno.ENXIO or rec.poll() is not None or \
                            time.monotonic() > deadline:
                        raise RuntimeError(f"perf record did not start (see perf-{what}.log)")
                    time.sleep(0.05)
            os.write(ctl_fd, b"enable\n")
            if not select.select([ack_fd], [], [], 60)[0]:
                raise RuntimeError("perf record did not acknowledge 'enable'")
            with Phase(f"profile: {what} under perf record", daemons) as p:
                fn()
        finally:
            rec.send_signal(signal.SIGINT)
            rec.wait(timeout=120)
            for fd in (ctl_fd, ack_fd):
                if fd is not None:
                    os.close(fd)
            ctl.unlink(missing_ok=True)
            ack.unlink(missing_ok=True)
        result[what] = {"phase": p.result, "data": str(data), "perf_rc": rec.returncode}
        samples = perf_by_process(perf, data)
        all_samples = sum(sum(per.values()) for per in samples.values())
        for group, pids in groups.items():
            n, top = perf_top(samples, pids)
            result[what][group] = {"share": round(100.0 * n / all_samples, 1) if all_samples
                                   else 0.0, "samples": n, "top": top}
            (profile_dir / f"perf-{what}-{group}.txt").write_text(
                "".join(f"{t['percent']:5.1f}%  {t['symbol']}  ({t['dso']})\n" for t in top))
    return result


def loadgen(tools, gw, daemons, what, op, clients, seconds, prefix, *args):
    """One cairn-loadgen run, with its Phase (the gateway's peak RSS watched)."""
    with Phase(f"{what}: {op.upper()} x {clients} clients", daemons, ["gateway"]) as p:
        r = run_json([tools / "cairn-loadgen", "--gateway", gw, "--op", op, "--clients", clients,
                      "--seconds", seconds, "--prefix", prefix, *args])
    r["phase"] = p.result
    return r


def files_of(put):
    """cairn-loadgen --files for a GET of what `put` wrote."""
    return ["--files", ",".join(str(n) for n in put["written"])]


def measure_small(tools, cluster, daemons, seconds, clients, many_clients):
    """PUT, then GET of what it wrote: 4 KiB and 1 MiB files from `clients`
    keep-alive clients (put_4k, get_4k, put_1m, get_1m), then 4 KiB files from
    `many_clients` (put_4k_<n>c, get_4k_<n>c)."""
    out = {}
    gw = cluster.gateway.http
    for size, label, n in ((4096, "4k", clients), (MIB, "1m", clients),
                           (4096, "4k", many_clients)):
        key = label if n == clients else f"{label}_{n}c"
        prefix = f"/bench/small/{key}"
        put = loadgen(tools, gw, daemons, f"small {label}", "put", n, seconds, prefix,
                      "--size", size)
        out[f"put_{key}"] = put
        if not any(put["written"]):
            raise RuntimeError(f"PUT {key}: no client wrote a file: {put}")
        out[f"get_{key}"] = loadgen(tools, gw, daemons, f"small {label}", "get", n, seconds,
                                    prefix, *files_of(put))
    return out


def measure_idle(tools, cluster, daemons, seconds, idle, clients, small):
    """The gateway's RSS before and after `idle` keep-alive connections that
    each served a GET /health are opened (cairn-loadgen --op idle holds them),
    and the 4 KiB GET rate of `clients` clients without them, then with them
    (the small phase's 4 KiB files). The gateway is restarted first: free heap
    earlier phases left (glibc keeps up to 64 MiB, TuneDaemonProcess) would
    hide the connections' memory; the run without them warms it up again."""
    put = (small or {}).get("put_4k")
    if not put or not any(put["written"]):
        raise RuntimeError("needs the small phase's 4 KiB files")
    gw = cluster.gateway
    log("idle connections: restarting the gateway")
    gw.stop()
    gw.start(reuse_ports=True)
    gw.wait_ready()
    pid = daemons["gateway"] = gw.proc.pid
    # The gateway's own limit must allow the connections (the opener raises its own).
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    want = idle + clients + 1024
    out = {"gateway_nofile": soft}
    if soft != resource.RLIM_INFINITY and soft < want:
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
        out["gateway_nofile_raised_to"] = soft
    prefix, files = "/bench/small/4k", files_of(put)
    out["without"] = loadgen(tools, gw.http, daemons, "idle connections: none", "get", clients,
                             seconds, prefix, *files)
    out["rss_before"] = proc_status(pid, "VmRSS")
    argv = [tools / "cairn-loadgen", "--gateway", gw.http, "--op", "idle", "--clients", idle,
            "--seconds", seconds + 600]
    log("  $ " + " ".join(str(a) for a in argv))
    opener = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = opener.stdout.readline()  # {"ready": true, ...} once the replies are in
        if not line:
            raise RuntimeError(f"cairn-loadgen --op idle exited {opener.wait()}: "
                               f"{opener.stderr.read().strip()[-2000:]}")
        out["ready"] = json.loads(line)
        log(f"  {out['ready']}")
        time.sleep(0.2)  # the last replies were only just written
        out["rss_after"] = proc_status(pid, "VmRSS")
        out["with"] = loadgen(tools, gw.http, daemons, f"idle connections: {idle}", "get",
                              clients, seconds, prefix, *files)
        stdout, _ = opener.communicate(input="", timeout=60)  # EOF on stdin: it closes them
        out["idle"] = json.loads(stdout.strip().splitlines()[-1])
    finally:
        if opener.poll() is None:
            opener.kill()
            opener.wait()
    return out


def measure_meta(tools, cluster, daemons, seconds, threads, small):
    """mkdir, create and stat; stat of 1-chunk files too when the small-file
    phase left some (its 4 KiB files)."""
    argv = [tools / "cairn-metabench", "--master", cluster.master.grpc,
            "--master_pid", daemons["master"], "--threads", threads, "--seconds", seconds,
            "--inflight", 8]
    put = (small or {}).get("put_4k")
    if put and any(put["written"]):
        argv += ["--ops", "mkdir,create,lookup,lookup1,lookup_pipelined,lookup1_pipelined",
                 "--chunked_prefix", "/bench/small/4k",
                 "--chunked_files", ",".join(str(n) for n in put["written"])]
    else:
        argv += ["--ops", "mkdir,create,lookup,lookup_pipelined"]
    with Phase(f"metadata: mkdir, create, stat x {threads} threads", daemons) as p:
        meta = run_json(argv)
    meta["phase"] = p.result
    return meta


def measure_master_memory(tools, data_dir, chunks):
    d = data_dir / "master-mem"
    with Phase(f"master memory: {chunks} chunks, in-process", {}) as p:
        fill = run_json([tools / "cairn-master-mem", "--dir", d, "--phase", "fill",
                         "--chunks", chunks], timeout=1800)
        reload = run_json([tools / "cairn-master-mem", "--dir", d, "--phase", "reload"],
                          timeout=1800)
    shutil.rmtree(d, ignore_errors=True)
    return {"fill": fill, "reload": reload, "phase": p.result}


def measure_repair(tools_dir, data_dir, gib, disk_mib_s, log_dir):
    out_file = data_dir / "repair.json"
    argv = [sys.executable, str(REPO / "bench" / "repair_bench.py"), "--gib", str(gib),
            "--json", str(out_file), "--keep-logs", str(log_dir)]
    if disk_mib_s:
        argv += ["--disk-mib-s", f"{disk_mib_s:.1f}"]
    env = dict(os.environ, CAIRN_BIN_DIR=str(tools_dir), CAIRN_BENCH_DIR=str(data_dir))
    with Phase(f"repair: {gib} GiB on 4 chunkservers, one killed", {}) as p:
        log("  $ " + " ".join(argv))
        r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"repair_bench.py exited {r.returncode}: {r.stderr[-3000:]}")
    result = json.loads(out_file.read_text())
    result["phase"] = p.result
    result["daemon_log_findings"] = scan_logs(log_dir)
    return result


# --------------------------------------------------------------------------
# logs


def scan_logs(log_dir):
    """Warnings and errors the daemons logged (spdlog levels), and crashes."""
    found = {}
    for f in sorted(Path(log_dir).glob("*.std*")):
        # Daemon log lines are "<time> <level letter> [<thread>] <message>".
        lines = [l for l in f.read_text(errors="replace").splitlines()
                 if re.match(r"\S+ [WEC] \[", l)
                 or re.search(r"terminate called|Assertion|Segmentation|AddressSanitizer|"
                              r"core dumped", l)]
        if lines:
            found[f.name] = {"count": len(lines), "first": lines[:5]}
    return found


# --------------------------------------------------------------------------
# report


def ratio(a, b):
    return a / b if a is not None and b else None


def build_summary(r):
    """Flat rows: (section, figure, value, unit, limit label, limit value, ratio, target, met)."""
    rows = []

    def row(section, figure, value, unit, limit_label=None, limit=None, target=None,
            met=None, note=""):
        rows.append({"section": section, "figure": figure, "value": value, "unit": unit,
                     "limit_label": limit_label, "limit": limit,
                     "ratio": ratio(value, limit) if limit else None,
                     "target": target, "met": met, "note": note})

    L = r.get("limits", {})
    three = L.get("disk_3_writers", {}).get("per_copy_mib_s")
    one = L.get("disk_1_writer", {}).get("per_copy_mib_s")
    tcp = L.get("tcp", {}).get("mib_s")
    if L:
        n = L["disk_3_writers"]["bytes_per_writer"] / MIB
        runs = lambda d: "runs " + ", ".join(f"{x:.0f}" for x in d["runs"])
        row("limits", f"3 writers x {n:.0f} MiB, fsync each 64 MiB (per copy)", three, "MiB/s",
            note=f"aggregate {L['disk_3_writers']['aggregate_mib_s']:.0f} MiB/s; "
                 + runs(L["disk_3_writers"]) + "; CPU-s per GiB of file (3 copies): "
                 f"{3 * L['disk_3_writers'].get('cpu_s_per_gib_written', 0):.2f}")
        row("limits", f"1 writer x {n:.0f} MiB, fsync each 64 MiB", one, "MiB/s",
            note=runs(L["disk_1_writer"]))
        rd = L["read"]
        row("limits", "sequential read, " + ("uncached (fadvise DONTNEED)" if rd["uncached"]
                                            else "NOT uncached: page cache could not be dropped"),
            rd["first_read_mib_s"], "MiB/s")
        row("limits", "sequential read, page cache", rd["cached_read_mib_s"], "MiB/s")
        row("limits", "loopback TCP, one stream", tcp, "MiB/s",
            note=runs(L["tcp"]) + f"; CPU-s per GiB (both ends): "
                 f"{L['tcp'].get('cpu_s_per_gib', 0):.2f}")
    G = r.get("large")
    if G:
        n = G["bytes"] / MIB
        up, down = G["upload"], G["download"]
        runs = lambda d: "best of " + ", ".join(f"{x:.0f}" for x in d["runs"]) + " MiB/s"
        rt = ratio(up["mib_s"], three)
        row("large", f"upload {n:.0f} MiB (curl PUT)", up["mib_s"], "MiB/s",
            "3 writers with fsync", three, f">= {TARGETS['upload_ratio']}",
            rt is not None and rt >= TARGETS["upload_ratio"],
            note=runs(up) + ("; SHA-256 ok" if up["all_sha256_ok"] else "; SHA-256 MISMATCH"))
        rt = ratio(down["mib_s"], tcp)
        row("large", f"download {n:.0f} MiB (curl GET), warm: replicas in the page cache",
            down["mib_s"], "MiB/s", "loopback TCP", tcp, f">= {TARGETS['download_ratio']}",
            rt is not None and rt >= TARGETS["download_ratio"], note=runs(down))
        cold = G.get("download_cold")
        if cold:
            uncached = (L or {}).get("read", {}).get("first_read_mib_s")
            row("large", f"download {n:.0f} MiB (curl GET), cold: first read, from the disk",
                cold["mib_s"], "MiB/s", "sequential read, uncached", uncached,
                note=runs(cold))
        nproc = r["machine"]["nproc"]
        for what, d in (("upload", up), ("download", down)):
            cpu = d["phase"]["daemon_cpu_s"]
            per_gib = sum(cpu.values()) / (G["bytes"] / GIB)
            row("large", f"{what}: CPU-seconds of all daemons per GiB", per_gib, "CPU-s",
                note=f"{nproc} CPUs given only to Cairn would allow "
                     f"{nproc / per_gib * 1024:,.0f} MiB/s; " +
                     ", ".join(f"{k} {v / (G['bytes'] / GIB):.2f}" for k, v in cpu.items()))
        for what, d in (("upload", up), ("download", down)):
            peak = d["gateway_peak_rss_mib"]
            row("large", f"gateway peak RSS during {what}", peak, "MiB", target=
                f"<= {TARGETS['gateway_peak_rss_mib']} (bounded)",
                met=peak <= TARGETS["gateway_peak_rss_mib"])
    def loadgen_note(s):
        cpu = sum(s["phase"]["daemon_cpu_s"].values())
        fair = (f", {s['client_ops_min']:,}-{s['client_ops_max']:,} per client"
                if "client_ops_min" in s else "")
        return (f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, {s['mib_s']:.1f} MiB/s, "
                f"{s['errors']} errors, {s['connections']} TCP connections; "
                f"{s['ops'] / cpu if cpu else 0:,.0f} ops per daemon CPU-second; "
                f"{s['ops']:,} ops in {s['seconds']:.1f} s{fair}")

    S = r.get("small")
    if S:
        # The targets are for 16 clients; more clients (put_4k_256c...) follow each row.
        for key, label, target in (("put_4k", "4 KiB PUT", TARGETS["put_4k_ops"]),
                                   ("get_4k", "4 KiB GET", TARGETS["get_4k_ops"]),
                                   ("put_1m", "1 MiB PUT", None), ("get_1m", "1 MiB GET", None)):
            more = sorted((k for k in S if re.fullmatch(key + r"_\d+c", k)),
                          key=lambda k: S[k]["clients"])
            for k in [key] + more:
                s = S[k]
                t = target if k == key else None
                row("small", f"{label}, {s['clients']} clients", s["ops_per_s"], "ops/s",
                    target=f">= {t:,}" if t else None,
                    met=(s["ops_per_s"] >= t and s["errors"] == 0) if t else None,
                    note=loadgen_note(s))
        s = S["put_1m"]
        peak = s["phase"]["gateway_peak_rss_mib"]
        row("small", f"gateway peak RSS during {s['clients']} concurrent 1 MiB PUTs", peak, "MiB",
            target=f"<= {TARGETS['gateway_peak_rss_mib']} (bounded)",
            met=peak <= TARGETS["gateway_peak_rss_mib"])
    I = r.get("idle")
    if I:
        ready, end, n = I["ready"], I["idle"], I["ready"]["clients"]
        before, after, held = I["rss_before"], I["rss_after"], ready["open"]
        closed = (f"; the gateway closed {end['closed_by_server']:,} while held, the first "
                  f"after {end['first_close_after_idle_s']:.1f} s idle"
                  if end.get("closed_by_server") else "")
        row("connections", f"gateway RSS with {n:,} idle keep-alive connections open", after / MIB,
            "MiB", note=f"{before / MIB:.1f} MiB before (gateway restarted, then warmed up); "
                        f"{ready['answered']:,} of {n:,} answered GET /health within "
                        f"{ready['open_seconds']:.1f} s, {held:,} open when measured, "
                        f"{end['open']:,} still open at the end{closed}"
                        + (f"; first error: {end['first_error'][:100]}"
                           if end.get("first_error") else ""))
        row("connections", "gateway RSS per idle keep-alive connection",
            (after - before) / held / 1024 if held else None, "KiB",
            note=f"(RSS with - before) / {held:,} connections open")
        w, wo = I["with"], I["without"]
        row("connections", f"4 KiB GET, {w['clients']} clients, {n:,} idle connections open",
            w["ops_per_s"], "ops/s", f"{wo['clients']} clients, none idle", wo["ops_per_s"],
            note=loadgen_note(w) + f"; none idle: p50 {wo['p50_ms']:.1f} ms, "
                                   f"p99 {wo['p99_ms']:.1f} ms, {wo['errors']} errors")
    M = r.get("meta")
    if M:
        for key, label, target in (("lookup", "master stat (Lookup, empty file)",
                                    TARGETS["stat_ops"]),
                                   ("lookup1", "master stat (Lookup, 1-chunk file)",
                                    TARGETS["stat_ops"]),
                                   ("lookup_pipelined",
                                    "master stat (Lookup, empty file), 8 in flight per thread",
                                    TARGETS["stat_ops"]),
                                   ("lookup1_pipelined",
                                    "master stat (Lookup, 1-chunk file), 8 in flight per thread",
                                    TARGETS["stat_ops"]),
                                   ("create", "master create (StartUpload+CommitUpload)", None),
                                   ("mkdir", "master mkdir", None)):
            m = M.get(key)
            if not m:
                continue
            note = (f"p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms; "
                    f"{m.get('ops_per_master_cpu_s', 0):,.0f} ops per master CPU-second; "
                    f"{m['errors']} errors")
            row("metadata", f"{label}, {m['threads']} threads", m["ops_per_s"], "ops/s",
                target=f">= {target:,}" if target else None,
                met=(m["ops_per_s"] >= target) if target else None, note=note)
    R = r.get("master_memory")
    if R:
        f = R["fill"]
        row("master memory", f"RSS per chunk, {f['chunks']:,} chunks committed",
            f["bytes_per_chunk"], "B", target=f"<= {TARGETS['master_bytes_per_chunk']}",
            met=f["bytes_per_chunk"] <= TARGETS["master_bytes_per_chunk"],
            note=f"{f['chunks_per_s']:,.0f} chunks/s committed")
        rl = R["reload"]
        row("master memory", "RSS per chunk after a restart (loaded from RocksDB)",
            rl["bytes_per_chunk"], "B", target=f"<= {TARGETS['master_bytes_per_chunk']}",
            met=rl["bytes_per_chunk"] <= TARGETS["master_bytes_per_chunk"],
            note=f"load took {rl['open_seconds']:.1f} s")
    P = r.get("repair")
    if P:
        row("repair",
            f"kill -> full replication, {P['replicas_lost_mib']:.0f} MiB of replicas lost",
            P["kill_to_full_replication_s"], "s",
            note=f"detect {P['detect_s']:.1f} s (dead_after {P.get('dead_after', '?')}), "
                 f"copy {P['repair_s']:.1f} s")
        row("repair", "repair rate", P["repair_mib_s"], "MiB/s", "1 writer with fsync",
            P["disk_write_mib_s"])
    return rows


def fmt(v, unit=""):
    if v is None:
        return ""
    if isinstance(v, float):
        if unit in ("s", "ms"):
            return f"{v:,.1f}"
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def markdown(result):
    m = result["machine"]
    lines = [
        f"# Cairn benchmark, {result['timestamp']}" + (" (quick)" if result["quick"] else ""),
        "",
        f"Commit `{m['git_commit']}`, Release build. Machine: {m['nproc']} CPUs ({m['cpu']}), "
        f"{m['memory_gib']} GiB RAM, kernel {m['kernel']}, data on {m['disk']['device']} "
        f"({m['disk']['fs']}, {m['disk']['size']}). Load average at start "
        f"{' / '.join(str(x) for x in m['loadavg_start'])}, at end "
        f"{' / '.join(str(x) for x in result.get('loadavg_end', []))} (1/5/15 min; "
        f"other work shares this machine, see each phase's load in the JSON).",
        "",
        "Cluster: master, 3 chunkservers, gateway on 127.0.0.1; 64 MiB chunks, replication 3; "
        "each daemon a process. Limits measured in the same run.",
        "",
        "| section | figure | value | limit | ratio | target | met |",
        "|---|---|---:|---:|---:|---|:-:|",
    ]
    for row in result["summary"]:
        value = f"{fmt(row['value'], row['unit'])} {row['unit']}"
        limit = (f"{fmt(row['limit'])} ({row['limit_label']})" if row["limit"] is not None else "")
        rt = f"{row['ratio']:.2f}" if row["ratio"] is not None else ""
        met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
        figure = row["figure"] + (f" — {row['note']}" if row["note"] else "")
        lines.append(f"| {row['section']} | {figure} | {value} | {limit} | {rt} | "
                     f"{row['target'] or ''} | {met} |")
    lines.append("")
    phases = result.get("large", {})
    up = phases.get("upload", {}).get("phase", {}).get("daemon_cpu_s")
    if up:
        wall = phases["upload"]["phase"]["wall_s"]
        lines.append("CPU seconds per daemon during the large upload "
                     f"({wall:.1f} s wall, 2 CPUs = {2 * wall:.1f} CPU-s available): " +
                     ", ".join(f"{k} {v:.1f}" for k, v in up.items()) + ".")
    down = phases.get("download", {}).get("phase", {}).get("daemon_cpu_s")
    if down:
        wall = phases["download"]["phase"]["wall_s"]
        lines.append("During the download " + f"({wall:.1f} s wall): " +
                     ", ".join(f"{k} {v:.1f}" for k, v in down.items()) + ".")
    prof = result.get("profile")
    if prof and "upload" in prof:
        lines += ["", "Profile (`perf record -F 499`, cpu-clock samples of the daemons; for "
                  "each group, % of its own samples):", ""]
        for what in ("upload", "download", "create+stat"):
            for group in ("gateway", "chunkservers", "master"):
                g = prof.get(what, {}).get(group) or {}
                top = [t for t in g.get("top", []) if t["percent"] >= 2.0][:8]
                if top and g["share"] >= 5:
                    lines.append(f"- {what}, {group} ({g['share']:.0f}% of samples): " +
                                 "; ".join(f"{t['percent']:.0f}% {t['symbol']}" for t in top))
    findings = [("cluster", f, v) for f, v in result.get("daemon_log_findings", {}).items()]
    findings += [("repair cluster", f, v) for f, v in
                 result.get("repair", {}).get("daemon_log_findings", {}).items()]
    if findings:
        lines += ["", "Daemon warnings and errors logged during the run (full logs under "
                  f"bench/results/tmp/{result['timestamp']}-*logs/):", ""]
        for where, f, v in findings:
            lines.append(f"- {where}, `{f}`: {v['count']} lines, first: "
                         f"`{v['first'][0][:200]}`")
    if result.get("errors"):
        lines += ["", "Phases that failed:", ""]
        for k, v in result["errors"].items():
            lines.append(f"- {k}: {v[:500]}")
    lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin-dir", default=str(REPO / "build-release" / "bin"))
    ap.add_argument("--quick", action="store_true", help="smaller sizes, shorter phases")
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: "
                    "limits,large,small,idle,meta,memory,repair")
    ap.add_argument("--profile", action="store_true",
                    help="perf record the daemons during one more large upload, download and "
                         "metadata run (reports under bench/results/tmp/<timestamp>-profile/)")
    ap.add_argument("--large-gib", type=float, help="large file size (default 1, quick 0.25)")
    ap.add_argument("--results", default=str(REPO / "bench" / "results"))
    args = ap.parse_args()

    # SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` stops its processes.
    def on_signal(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tools = Path(args.bin_dir).resolve()
    os.environ["CAIRN_BIN_DIR"] = str(tools)
    sys.path.insert(0, str(REPO / "tests" / "integration"))
    import cluster as cluster_mod  # noqa: E402 (reads CAIRN_BIN_DIR at import)

    quick = args.quick
    skip = set(filter(None, args.skip.split(",")))
    large_bytes = int((args.large_gib or (0.25 if quick else 1.0)) * GIB)
    disk_bytes = large_bytes
    tcp_bytes = (1 if quick else 4) * GIB
    small_seconds = 3 if quick else 10
    meta_seconds = 2 if quick else 5
    mem_chunks = 100_000 if quick else 1_000_000
    repair_gib = 0.5 if quick else 2.0
    repeat = 1 if quick else 2  # runs of each limit and large transfer; the best counts

    # bench/results/tmp/ (git-ignored) holds the run's data while it runs, and
    # afterwards the daemon logs, profiles and the results of --quick runs.
    scratch = Path(args.results) / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    results_dir = scratch if quick else Path(args.results)
    base = Path(tempfile.mkdtemp(prefix="run-", dir=os.environ.get("CAIRN_BENCH_DIR") or scratch))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    result = {"timestamp": stamp, "quick": quick, "machine": machine_description(base),
              "targets": TARGETS, "errors": {}}
    pidfile = os.environ.get("CAIRN_BENCH_PIDFILE")

    def track(daemon):
        """Appends each incarnation's PID to the pidfile bench/run.sh cleans up."""
        spawn = daemon.spawn

        def tracked(*a, **kw):
            spawn(*a, **kw)
            if pidfile:
                with open(pidfile, "a") as f:
                    f.write(f"{daemon.proc.pid}\n")
        daemon.spawn = tracked

    def attempt(name, fn):
        if name in skip:
            return None
        try:
            out = fn()
        except KeyboardInterrupt:
            raise
        except Exception as e:  # a failed phase is reported; the others still run
            log(f"{name} FAILED: {e}")
            result["errors"][name] = f"{type(e).__name__}: {e}"
            out = None
        if cluster is not None and (dead := cluster.dead_daemons()):
            msg = "daemons died: " + ", ".join(f"{d.name} (exit {d.proc.returncode})"
                                               for d in dead)
            log(f"{name}: {msg}")
            result["errors"][name] = (result["errors"].get(name, "") + " " + msg).strip()
        return out

    t_start = time.monotonic()
    source = None
    cluster = None
    try:
        if "limits" not in skip:
            result["limits"], source = measure_limits(tools, base, disk_bytes, tcp_bytes, repeat)
        else:
            source = base / "large-source"
            subprocess.run([tools / "cairn-bench-limits", "disk", "--dir", base, "--bytes",
                            str(large_bytes), "--writers", "1", "--keep"], check=True,
                           stdout=subprocess.DEVNULL)
            (base / "disk-0").rename(source)
        if not {"large", "small", "idle", "meta"} <= skip:
            log("starting the cluster")
            cluster = cluster_mod.Cluster(base / "cluster", num_chunkservers=3,
                                          chunk_size="64MiB")
            for d in cluster.daemons:
                track(d)
            cluster.start()
            cluster.wait_nodes_alive(3)
            daemons = {d.name: d.proc.pid for d in cluster.daemons}
            result["large"] = attempt("large", lambda: measure_large(
                cluster, daemons, source, large_bytes, repeat))
            result["small"] = attempt("small", lambda: measure_small(
                tools, cluster, daemons, small_seconds, 16, 256))
            result["idle"] = attempt("idle", lambda: measure_idle(
                tools, cluster, daemons, small_seconds, 1000, 16, result.get("small")))
            result["meta"] = attempt("meta", lambda: measure_meta(
                tools, cluster, daemons, meta_seconds, 8, result.get("small")))
            if args.profile:
                result["profile"] = attempt("profile", lambda: profile(
                    cluster, daemons, tools, source, scratch / f"{stamp}-profile"))
            result["dead_daemons"] = [d.name for d in cluster.dead_daemons()]
            cluster.stop()
            result["daemon_log_findings"] = scan_logs(cluster.base_dir / "logs")
            result["daemon_pids"] = daemons
            shutil.copytree(cluster.base_dir / "logs", scratch / f"{stamp}-logs")
            cluster = None
        if source is not None and source.exists():
            source.unlink()
        result["master_memory"] = attempt("memory", lambda: measure_master_memory(
            tools, base, mem_chunks))
        one = result.get("limits", {}).get("disk_1_writer", {}).get("per_copy_mib_s")
        result["repair"] = attempt("repair", lambda: measure_repair(
            tools, base, repair_gib, one, scratch / f"{stamp}-repair-logs"))
    finally:
        if cluster is not None:
            cluster.stop()
            # Keep the logs of an interrupted run for a look.
            logs = scratch / f"{stamp}-logs"
            shutil.copytree(cluster.base_dir / "logs", logs, dirs_exist_ok=True)
            log(f"daemon logs kept in {logs}")
        if not os.environ.get("CAIRN_BENCH_KEEP"):
            shutil.rmtree(base, ignore_errors=True)

    result = {k: v for k, v in result.items() if v is not None}
    result["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["total_seconds"] = round(time.monotonic() - t_start, 1)
    result["summary"] = build_summary(result)
    json_path = results_dir / f"{stamp}.json"
    md_path = results_dir / f"{stamp}.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    md_path.write_text(text)
    if not quick:
        (Path(args.results) / "latest.md").write_text(text)
    print(text)
    log(f"results: {json_path} and {md_path} ({result['total_seconds']:.0f} s)")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); every process started was stopped")
        sys.exit(130)
