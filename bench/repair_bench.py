#!/usr/bin/env python3
"""Repair benchmark: a local cluster of 4 chunkservers (64 MiB chunks, replication 3)
holding DATA_GIB of files loses one chunkserver (SIGKILL); measures the time from
the kill to full replication, and the repair rate, against the disk's own
fsync'ed write rate (one writer, as each lost replica is written once more),
measured in the same run.

Usage: bench/repair_bench.py [--gib 2] [--dead-after 5s] [--json out.json]
                             [--disk-mib-s RATE]   (skip the disk probe, use RATE)
                             [--keep-logs DIR]     (the daemons' logs, copied at the end)

Binaries come from $CAIRN_BIN_DIR (default build/bin); data goes under a new
temporary directory in $CAIRN_BENCH_DIR (default: the system's), removed at the
end. Daemon PIDs are appended to $CAIRN_BENCH_PIDFILE when it is set.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
from cluster import Cluster, ClusterError, wait_until  # noqa: E402

MIB = 1 << 20


def disk_write_rate(directory, size=512 * MIB):
    """MiB/s writing `size` bytes with fsync, in 4 MiB blocks."""
    block = os.urandom(4 * MIB)
    path = Path(directory) / "disk-probe"
    start = time.monotonic()
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())
    elapsed = time.monotonic() - start
    path.unlink()
    return size / MIB / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=2.0)
    ap.add_argument("--dead-after", default="5s")
    ap.add_argument("--json")
    ap.add_argument("--disk-mib-s", type=float,
                    help="the disk's fsync'ed write rate, measured elsewhere in the same run")
    ap.add_argument("--keep-logs", help="copy the daemons' logs to this directory at the end")
    args = ap.parse_args()

    # SIGTERM unwinds like Ctrl-C, so the cluster is stopped.
    def on_signal(sig, frame):
        raise KeyboardInterrupt(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_signal)

    base = Path(tempfile.mkdtemp(prefix="cairn-repair-", dir=os.environ.get("CAIRN_BENCH_DIR")))
    c = Cluster(base, num_chunkservers=4, chunk_size="64MiB",
                master_args=["--stale_after", "1s", "--dead_after", args.dead_after])
    pidfile = os.environ.get("CAIRN_BENCH_PIDFILE")
    try:
        c.start()
        if pidfile:
            with open(pidfile, "a") as f:
                f.writelines(f"{d.proc.pid}\n" for d in c.daemons)
        c.wait_nodes_alive(4)
        disk = args.disk_mib_s or disk_write_rate(base)
        files, per_file = int(args.gib * 1024 / 256), 256 * MIB
        blob = os.urandom(per_file)
        t0 = time.monotonic()
        for i in range(files):
            r = c.gw.put(f"/bench/repair/f{i}", blob[i:] + blob[:i])
            assert r.status == 201, r
        upload_s = time.monotonic() - t0
        # The chunkserver holding the most replicas; nodes are matched to daemons
        # by the address each chunkserver registered with.
        total = files * per_file * 3
        wait_until(lambda: sum(n["used"] for n in c.nodes()) >= total, 30,
                   "heartbeats to report every replica's bytes")
        used = {n["address"]: n["used"] for n in c.nodes()}
        victim = max(range(4), key=lambda i: used.get(c.chunkservers[i].grpc, -1))
        lost_bytes = used[c.chunkservers[victim].grpc]
        t_kill = time.monotonic()
        c.kill_chunkserver(victim)

        def state():
            # A daemon that died (other than the victim) fails the run at once.
            if dead := c.dead_daemons():
                raise ClusterError("died during repair: " + ", ".join(
                    f"{d.name} (exit {d.proc.returncode})" for d in dead))
            r = c.gw.cluster()
            return r.json() if r.status == 200 else None

        wait_until(lambda: (s := state()) and s["totals"]["under_replicated"] > 0, 120,
                   "the master to notice the loss")
        t_detect = time.monotonic()
        wait_until(lambda: (s := state()) and s["totals"]["under_replicated"] == 0, 600,
                   "full replication")
        t_done = time.monotonic()
        copy_s = t_done - t_detect
        result = {
            "data_gib": args.gib,
            "dead_after": args.dead_after,
            "replicas_lost_mib": lost_bytes / MIB,
            "upload_mib_s": files * per_file / MIB / upload_s,
            "detect_s": t_detect - t_kill,
            "repair_s": copy_s,
            "kill_to_full_replication_s": t_done - t_kill,
            "repair_mib_s": lost_bytes / MIB / copy_s,
            "disk_write_mib_s": disk,
            "repair_vs_disk": lost_bytes / MIB / copy_s / disk,
        }
        print(json.dumps(result, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    finally:
        c.stop()
        if args.keep_logs:
            shutil.copytree(base / "logs", args.keep_logs, dirs_exist_ok=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
