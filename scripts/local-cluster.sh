#!/usr/bin/env bash
# Starts a local Cairn cluster without Docker: a master, N chunkservers (each
# its own root dir and zone) and a gateway on 127.0.0.1, from build/bin.
# Usage: scripts/local-cluster.sh [DATA_DIR]   (env: CHUNKSERVERS=3 GATEWAY_PORT=8089
#        CHUNK_SIZE=64MiB REPLICATION=3 MASTER_PORT=9090)
# Ctrl-C stops everything it started. Data stays in DATA_DIR for the next run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${CAIRN_BIN_DIR:-$here/build/bin}
data=${1:-$here/build/local-cluster}
n=${CHUNKSERVERS:-3}
gw_port=${GATEWAY_PORT:-8089}
master_port=${MASTER_PORT:-9090}
for b in cairn-master cairn-chunkserver cairn-gateway; do
  [ -x "$bin/$b" ] || { echo "missing $bin/$b: build first (cmake -S . -B build -G Ninja && cmake --build build)" >&2; exit 1; }
done
mkdir -p "$data/logs"
pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup INT TERM EXIT

"$bin/cairn-master" --listen 127.0.0.1:$master_port --http_listen 127.0.0.1:0 --root_dir "$data/master" \
  --chunk_size "${CHUNK_SIZE:-64MiB}" --replication "${REPLICATION:-3}" \
  >"$data/logs/master.out" 2>"$data/logs/master.log" &
pids+=($!)
for i in $(seq 1 "$n"); do
  "$bin/cairn-chunkserver" --listen 127.0.0.1:0 --http_listen 127.0.0.1:0 --master 127.0.0.1:$master_port \
    --root_dir "$data/chunkserver$i" --zone "zone$i" \
    >"$data/logs/chunkserver$i.out" 2>"$data/logs/chunkserver$i.log" &
  pids+=($!)
done
"$bin/cairn-gateway" --listen 127.0.0.1:$gw_port --master 127.0.0.1:$master_port \
  >"$data/logs/gateway.out" 2>"$data/logs/gateway.log" &
pids+=($!)

deadline=$((SECONDS + 30))
until curl -sf "http://127.0.0.1:$gw_port/ready" >/dev/null; do
  if (( SECONDS > deadline )); then
    echo "cluster did not become ready; logs in $data/logs" >&2
    curl -s "http://127.0.0.1:$gw_port/ready" >&2 || true
    exit 1
  fi
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || { echo "a daemon exited; logs in $data/logs" >&2; tail -n 5 "$data"/logs/*.log >&2; exit 1; }; done
  sleep 0.2
done
echo "Cairn is up: gateway http://127.0.0.1:$gw_port  (dashboard /ui/, logs $data/logs). Ctrl-C stops it."
wait
