#!/usr/bin/env bash
# End-to-end test of the Docker deployment (doc/design.md §9): the real image, the
# compose file and the Makefile, driven the way an operator drives them.
#
#   tests/e2e/run.sh
#
# 1. builds the base image (debootstrap when no registry) and the image
# 2. `make up` in a compose project of its own (own name, ports, state, backups),
#    so a developer's cluster is untouched; waits for health with a deadline
# 3. uploads files through the gateway with curl, downloads them, checks SHA-256
# 4. stops one chunkserver container, reads everything back; [re-replication]
#    starts it again: same node id (identity follows the volume), reads back
# 5. [`make scale N=5`: new nodes register and fill, [rebalance]; `make scale N=3`: drain]
# 6. `make restart` (every container re-created), reads back, node ids unchanged
# 7. `make backup`, wipe the cluster and its volumes, `make restore`, reads back
# 8. `make down WIPE=1`; a trap cleans up on any exit
#
# Environment:
#   CAIRN_E2E_ALLOW_SKIP=1     no Docker engine: exit CAIRN_E2E_SKIP_CODE (0) instead of failing
#   CAIRN_E2E_BUILD=0          use the existing image (CAIRN_E2E_IMAGE) instead of building it
#   CAIRN_E2E_IMAGE            image tag to build and use (cairn:e2e, kept as build cache)
#   CAIRN_E2E_REREPLICATION=0  skip waiting for full replication after a chunkserver stops
#   CAIRN_E2E_SCALE=0          skip scaling to 5 (new nodes take new data) and back to 3 (drain)
#   CAIRN_E2E_REBALANCE=0      with SCALE: skip waiting until chunks are even across the 5 nodes
#   CAIRN_E2E_KEEP=1           leave the cluster running at the end (and on failure)
#   CAIRN_E2E_TIMEOUT          seconds for each wait (default 240)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"

say() { printf '\n==> %s\n' "$*"; }
fail() { printf '\nE2E FAILED: %s\n' "$*" >&2; exit 1; }
loud() {
  printf '\n%s\n' "################################################################" >&2
  printf '#  %s\n' "$@" >&2
  printf '%s\n\n' "################################################################" >&2
}

# ---- is there an engine at all? ------------------------------------------------------
no_docker() {
  loud "E2E TEST NOT RUN: $1" \
       "The Docker deployment (docker/, docker-compose.yml, Makefile) is UNTESTED." \
       "Set CAIRN_E2E_ALLOW_SKIP=1 to make this a skip instead of a failure."
  if [[ "${CAIRN_E2E_ALLOW_SKIP:-0}" == 1 ]]; then exit "${CAIRN_E2E_SKIP_CODE:-0}"; fi
  exit 1
}
command -v docker >/dev/null 2>&1 || no_docker "no docker command on PATH"
docker info >/dev/null 2>&1 || no_docker "no Docker engine reachable (docker info failed)"
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 ||
  no_docker "neither 'docker compose' nor 'docker-compose' is installed"
command -v curl >/dev/null 2>&1 || fail "curl is needed on the host"

TIMEOUT="${CAIRN_E2E_TIMEOUT:-240}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cairn-e2e.XXXXXX")"
export CAIRN_PROJECT="cairne2e$$"
export CAIRN_IMAGE="${CAIRN_E2E_IMAGE:-cairn:e2e}"
export CAIRN_STATE_DIR="$WORK/state"
export CAIRN_BACKUP_ROOT="$WORK/backups"
export CAIRN_WAIT_TIMEOUT="$TIMEOUT"
# Small chunks so that small files span several; quick failure detection. Replication
# 2 on 3 chunkservers, so that when one stops there is a node to re-replicate onto
# (with 3 of 3 there is none until the cluster is scaled).
export CAIRN_CHUNK_SIZE=1MiB CAIRN_HEARTBEAT_INTERVAL=1s CAIRN_STALE_AFTER=4s CAIRN_DEAD_AFTER=12s
export CAIRN_REPLICATION="${CAIRN_E2E_REPLICATION:-2}"
# All chunkservers share this host's disk: give each a budget, so utilization
# differs between old and new nodes and the rebalancer has work after scale-up.
export CAIRN_CHUNK_CAPACITY="${CAIRN_CHUNK_CAPACITY:-24MiB}"
export CAIRN_LOG_LEVEL="${CAIRN_LOG_LEVEL:-info}"
MAKE=(make --no-print-directory -C "$REPO" "PROJECT=$CAIRN_PROJECT" "IMAGE=$CAIRN_IMAGE"
      "BACKUP_ROOT=$CAIRN_BACKUP_ROOT")
CLUSTER=(env "CAIRN_PROJECT=$CAIRN_PROJECT" docker/cluster.sh)

# Free host ports: one for the gateway and a pool of 20 for the chunkservers' HTTP ports.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_ports() {
  local base p ok
  for _ in $(seq 1 50); do
    base=$((20000 + RANDOM % 30000))
    ok=1
    for ((p = base; p <= base + 20; p++)); do port_free "$p" || { ok=0; break; }; done
    (( ok )) && { echo "$base"; return; }
  done
  fail "no free port range found"
}
base="$(pick_ports)"
export CAIRN_GATEWAY_PORT="$base"
export CAIRN_CHUNK_HTTP_PORTS="$((base + 1))-$((base + 20))"
GW="http://127.0.0.1:$CAIRN_GATEWAY_PORT"

cleanup() {
  local rc=$?
  set +e
  if (( rc != 0 )); then
    printf '\n---- e2e failed (exit %d); status and recent logs of %s ----\n' "$rc" "$CAIRN_PROJECT" >&2
    "${CLUSTER[@]}" status >&2
    "${CLUSTER[@]}" compose logs --tail=60 >&2 2>&1
  fi
  if [[ "${CAIRN_E2E_KEEP:-0}" == 1 ]]; then
    echo "CAIRN_E2E_KEEP=1: cluster $CAIRN_PROJECT left running; remove with:" >&2
    echo "  make PROJECT=$CAIRN_PROJECT IMAGE=$CAIRN_IMAGE down WIPE=1" >&2
    echo "  (state in $WORK)" >&2
  else
    "${CLUSTER[@]}" down --wipe >/dev/null 2>&1
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------------------

# Polls COMMAND until it succeeds, for at most TIMEOUT seconds.
wait_for() {
  local what="$1" deadline=$((SECONDS + TIMEOUT)); shift
  until "$@"; do
    (( SECONDS < deadline )) || fail "timed out after ${TIMEOUT}s waiting for: $what"
    sleep 1
  done
}
cluster_json() { curl -fsS --max-time 10 "$GW/api/v1/cluster"; }
# The node advertising $a, preferring a live incarnation to removed (drained/dead) ones.
NODE='[.nodes[] | select(.address == $a)] | ((map(select(.state != "dead" and .state != "drained")) | last) // last)'
node_id() { cluster_json | jqx -r --arg a "$1:8081" "$NODE | .id // empty"; }
jqx() { "${CLUSTER[@]}" jq "$@"; }
cid() { "${CLUSTER[@]}" cid "$1"; }

declare -A SHA=()   # remote path -> sha256 of its content
FILES_DIR="$WORK/files"
mkdir -p "$FILES_DIR"

# put NAME SIZE: makes a random file of SIZE bytes, uploads it to /e2e/NAME.
put() {
  local name="$1" size="$2" f="$FILES_DIR/${1//\//_}" code body sum
  head -c "$size" /dev/urandom >"$f"
  sum="$(sha256sum "$f" | cut -d' ' -f1)"
  code="$(curl -sS --max-time 120 -o "$WORK/put.out" -w '%{http_code}' -X PUT \
            -H 'Content-Type: application/octet-stream' --data-binary "@$f" "$GW/api/v1/files/e2e/$name")"
  body="$(cat "$WORK/put.out")"
  [[ "$code" == 201 ]] || fail "PUT /e2e/$name ($size bytes): HTTP $code: $body"
  [[ "$(jqx -r .sha256 <<<"$body")" == "$sum" ]] || fail "PUT /e2e/$name: sha256 in reply != local ($body)"
  SHA["/e2e/$name"]="$sum"
}

# Downloads every uploaded file and compares content and X-Checksum-Sha256.
verify_all() {
  local p code hdr got
  for p in "${!SHA[@]}"; do
    code="$(curl -sS --max-time 120 -D "$WORK/get.hdr" -o "$WORK/get.out" -w '%{http_code}' "$GW/api/v1/files$p")"
    [[ "$code" == 200 ]] || fail "$1: GET $p: HTTP $code: $(head -c 300 "$WORK/get.out")"
    got="$(sha256sum "$WORK/get.out" | cut -d' ' -f1)"
    [[ "$got" == "${SHA[$p]}" ]] || fail "$1: GET $p: content sha256 $got != ${SHA[$p]}"
    hdr="$(tr -d '\r' <"$WORK/get.hdr" | awk -F': ' 'tolower($1) == "x-checksum-sha256" { print $2 }')"
    [[ "$hdr" == "${SHA[$p]}" ]] || fail "$1: GET $p: X-Checksum-Sha256 '$hdr' != ${SHA[$p]}"
  done
  echo "   $1: ${#SHA[@]} files read back, SHA-256 verified"
}

fully_replicated() {
  cluster_json | jqx -e '(.totals.under_replicated // 1) == 0' >/dev/null 2>&1
}
node_state_is() {
  [[ "$(cluster_json | jqx -r --arg a "$1:8081" '[.nodes[] | select(.address == $a)] | last | .state')" == "$2" ]]
}
new_nodes_filled() { (( $(chunks_of chunkserver4) > 0 && $(chunks_of chunkserver5) > 0 )); }
# What the rebalancer promises: alive nodes' utilization (used / capacity) within
# its 10% threshold, plus one chunk of granularity (1 MiB of 24 MiB here).
balanced() {
  cluster_json | jqx -e '[.nodes[] | select(.state == "alive" and .capacity > 0) | (.used / .capacity)] |
    (max - min) <= 0.15' >/dev/null 2>&1
}
alive_count() { cluster_json | jqx -r '[.nodes[] | select(.state == "alive")] | length'; }
chunks_of() {
  cluster_json | jqx -r --arg a "$1:8081" "$NODE | .chunks // 0"
}

declare -A TIMES=()
timed() { local name="$1" t0=$SECONDS; shift; "$@"; TIMES[$name]=$((SECONDS - t0)); }

# ---- 1. images ------------------------------------------------------------------------
say "project $CAIRN_PROJECT, image $CAIRN_IMAGE, gateway :$CAIRN_GATEWAY_PORT, chunk HTTP ports $CAIRN_CHUNK_HTTP_PORTS"
if [[ "${CAIRN_E2E_BUILD:-1}" == 1 ]]; then
  say "building the base image (if missing) and the image"
  timed build "${MAKE[@]}" build-all
else
  docker image inspect "$CAIRN_IMAGE" >/dev/null 2>&1 || fail "CAIRN_E2E_BUILD=0 but $CAIRN_IMAGE does not exist"
fi
docker/cluster.sh check-template
echo "   image size: $(docker image inspect -f '{{.Size}}' "$CAIRN_IMAGE" | numfmt --to=si)B"
[[ "$(docker run --rm --entrypoint id "$CAIRN_IMAGE" -u)" != 0 ]] || fail "the image runs as root"

# ---- 2. up ----------------------------------------------------------------------------
say "make up"
timed up "${MAKE[@]}" up
"${MAKE[@]}" health
curl -fsS --max-time 5 "$GW/health" >/dev/null || fail "gateway /health from the host"
# Every chunkserver's HTTP status port is published from the pool, each its own.
ports=()
for k in 1 2 3; do
  p="$(docker port "$(cid chunkserver$k)" 8082/tcp | head -n 1 | sed 's/.*://')"
  [[ -n "$p" ]] || fail "chunkserver$k has no published HTTP port"
  curl -fsS --max-time 5 "http://127.0.0.1:$p/health" >/dev/null || fail "chunkserver$k /health on host port $p"
  ports+=("$p")
done
[[ "$(printf '%s\n' "${ports[@]}" | sort -u | wc -l)" == 3 ]] || fail "chunkservers share host ports: ${ports[*]}"
declare -A IDS=()
for k in 1 2 3; do
  IDS[$k]="$(node_id chunkserver$k)"
  [[ -n "${IDS[$k]}" ]] || fail "chunkserver$k has no node id in /api/v1/cluster"
done
echo "   node ids: ${IDS[*]}; host ports: ${ports[*]}"

# ---- 3. upload and download -----------------------------------------------------------
say "uploading through the gateway"
put empty 0
put one-byte 1
put small.txt 1000
put exactly-one-chunk.bin $((1 << 20))
put dir/sub/three-and-a-half.bin $((7 << 19))
put dir/nine.bin $((9 << 20))
verify_all "after upload"

# ---- 4. one chunkserver stopped ---------------------------------------------------------
say "stopping chunkserver2"
docker stop "$(cid chunkserver2)" >/dev/null
verify_all "chunkserver2 stopped"
if [[ "${CAIRN_E2E_REREPLICATION:-1}" == 1 ]]; then
  say "waiting for re-replication (dead after $CAIRN_DEAD_AFTER)"
  t0=$SECONDS
  wait_for "chunkserver2 dead" node_state_is chunkserver2 dead
  wait_for "no under-replicated chunks" fully_replicated
  TIMES[rereplication]=$((SECONDS - t0))
  verify_all "after re-replication"
fi
say "starting chunkserver2 again"
docker start "$(cid chunkserver2)" >/dev/null
"${CLUSTER[@]}" wait
[[ "$(node_id chunkserver2)" == "${IDS[2]}" ]] || fail "chunkserver2 came back as node $(node_id chunkserver2), was ${IDS[2]}"
verify_all "chunkserver2 back"

# ---- 5. scale ---------------------------------------------------------------------------
if [[ "${CAIRN_E2E_SCALE:-1}" == 1 ]]; then
  say "make scale N=5"
  timed scale_up "${MAKE[@]}" scale N=5
  [[ "$(alive_count)" -ge 5 ]] || fail "fewer than 5 alive nodes after scale N=5"
  # New data goes to the new, emptiest nodes.
  put after-scale-1.bin $((3 << 20))
  put after-scale-2.bin $((3 << 20))
  wait_for "chunkserver4 and chunkserver5 hold chunks" new_nodes_filled
  if [[ "${CAIRN_E2E_REBALANCE:-1}" == 1 ]]; then
    t0=$SECONDS
    wait_for "chunk counts even across the 5 nodes (rebalancing)" balanced
    TIMES[rebalance]=$((SECONDS - t0))
  fi
  verify_all "scaled to 5"
  "${MAKE[@]}" status
  say "make scale N=3 (drains chunkserver5, chunkserver4)"
  timed scale_down "${MAKE[@]}" scale N=3
  [[ -z "$(cid chunkserver4)$(cid chunkserver5)" ]] || fail "chunkserver4/5 still exist after scale N=3"
  wait_for "no under-replicated chunks" fully_replicated
  verify_all "scaled back to 3"
fi

# ---- 6. restart -------------------------------------------------------------------------
say "make restart"
timed restart "${MAKE[@]}" restart
for k in 1 2 3; do
  [[ "$(node_id chunkserver$k)" == "${IDS[$k]}" ]] ||
    fail "chunkserver$k is node $(node_id chunkserver$k) after re-creation, was ${IDS[$k]}"
done
verify_all "after restart"

# ---- 7. backup, wipe, restore -----------------------------------------------------------
say "make backup"
timed backup "${MAKE[@]}" backup
backup="$(ls -d "$CAIRN_BACKUP_ROOT"/*/ | tail -n 1)"
[[ -f "$backup/MANIFEST" ]] || fail "no backup in $CAIRN_BACKUP_ROOT"
echo "   $backup: $(du -sh "$backup" | cut -f1)"
say "wiping the cluster (containers and volumes)"
"${MAKE[@]}" down WIPE=1
[[ -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$CAIRN_PROJECT")" ]] ||
  fail "volumes left after down WIPE=1"
say "make restore BACKUP=$backup"
timed restore "${MAKE[@]}" restore "BACKUP=$backup"
verify_all "after restore"
put after-restore.bin $((2 << 20))
verify_all "written after restore"

# ---- 8. down ----------------------------------------------------------------------------
say "make down WIPE=1"
"${MAKE[@]}" down WIPE=1
[[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$CAIRN_PROJECT")" ]] || fail "containers left"
[[ -z "$(docker volume ls -q --filter "label=com.docker.compose.project=$CAIRN_PROJECT")" ]] || fail "volumes left"

say "E2E PASSED"
for k in "${!TIMES[@]}"; do printf '   %-24s %4d s\n' "$k" "${TIMES[$k]}"; done | sort
