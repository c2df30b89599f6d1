#!/usr/bin/env bash
# Runs cli_roundtrip.sh against the in-memory fake gateway, for ctest without
# a cluster. Usage: run_with_fake_gateway.sh BIN_DIR FAKE_GATEWAY_BINARY
set -u -o pipefail
bin_dir="$1"
fake="$2"
here="$(cd "$(dirname "$0")" && pwd)"
log="$(mktemp "${TMPDIR:-/tmp}/cairn-fake-gateway.XXXXXX")"

"$fake" >"$log" 2>&1 &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; rm -f "$log"' EXIT

# Wait (bounded) for "listening on http HOST:PORT".
address=""
for _ in $(seq 1 200); do
  address="$(sed -n 's/^listening on http \(.*\)$/\1/p' "$log")"
  [[ -n "$address" ]] && break
  kill -0 "$fake_pid" 2>/dev/null || { cat "$log"; echo "fake gateway died"; exit 1; }
  sleep 0.05
done
[[ -n "$address" ]] || { cat "$log"; echo "fake gateway did not start"; exit 1; }

CAIRN_BIN_DIR="$bin_dir" CAIRN_GATEWAY="$address" bash "$here/cli_roundtrip.sh"
