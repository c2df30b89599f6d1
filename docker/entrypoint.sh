#!/usr/bin/env bash
# Entrypoint of the Cairn image: picks the daemon, fills in container defaults for
# the environment variables of doc/design.md §1.1 (the daemons read them themselves; an
# explicit flag on the command line still wins), then execs the daemon.
#
#   role from the command:  master | chunkserver | gateway  [flags...]
#                           (also master_server, chunk_server, gateway_server, cairn-*)
#   role from SERVER_TYPE:  no command, or a command starting with a flag
#   cairn ARGS...           the CLI
#   anything else           exec'd as is (bash, ls, ...)
set -euo pipefail

die() { echo "cairn-entrypoint: $*" >&2; exit 64; }

role_of() {
  case "$1" in
    master|master_server|cairn-master) echo master ;;
    chunkserver|chunk_server|cairn-chunkserver) echo chunkserver ;;
    gateway|gateway_server|cairn-gateway) echo gateway ;;
    *) return 1 ;;
  esac
}

if [[ $# -gt 0 && "$1" != -* ]]; then
  if role="$(role_of "$1")"; then
    shift
  elif [[ "$1" == cairn || "$1" == cli ]]; then
    shift
    exec /usr/local/bin/cairn "$@"
  else
    exec "$@"
  fi
elif [[ -n "${SERVER_TYPE:-}" ]]; then
  role="$(role_of "$SERVER_TYPE")" ||
    die "SERVER_TYPE='$SERVER_TYPE': expected master_server, chunk_server or gateway_server"
else
  cat >&2 <<'EOF'
cairn-entrypoint: no role. Set SERVER_TYPE=master_server|chunk_server|gateway_server
or give the role as the command:  docker run IMAGE master|chunkserver|gateway [flags]
                                  docker run IMAGE cairn --help
EOF
  exit 64
fi

# Value of a flag in "$@" (--name=V or --name V), empty if absent.
flag() {
  local name="$1" prev=""; shift
  for a in "$@"; do
    [[ "$prev" == "--$name" ]] && { echo "$a"; return; }
    [[ "$a" == "--$name="* ]] && { echo "${a#*=}"; return; }
    prev="$a"
  done
}
port_of() { local a="$1"; echo "${a##*:}"; }

# The container's own address on its network, for a chunkserver's default
# ADVERTISE_ADDRESS (scaled replicas each get their own).
my_ip() {
  local ip
  ip="$(hostname -i 2>/dev/null | awk '{ print $1 }')"
  [[ -n "$ip" && "$ip" != 127.* ]] && echo "$ip" || hostname
}

case "$role" in
  master)
    export SERVER_ADDRESS="${SERVER_ADDRESS:-0.0.0.0:9090}"
    export HTTP_ADDRESS="${HTTP_ADDRESS:-0.0.0.0:9091}"
    export ROOT_DIR="${ROOT_DIR:-/data}"
    binary=cairn-master
    http="$(flag http_listen "$@")"; http="${http:-$HTTP_ADDRESS}"
    ;;
  chunkserver)
    export SERVER_ADDRESS="${SERVER_ADDRESS:-0.0.0.0:8081}"
    export HTTP_ADDRESS="${HTTP_ADDRESS:-0.0.0.0:8082}"
    export ROOT_DIR="${ROOT_DIR:-/data}"
    export MASTER_ADDR="${MASTER_ADDR:-master:9090}"
    if [[ -z "${ADVERTISE_ADDRESS:-}" && -z "$(flag advertise "$@")" ]]; then
      grpc="$(flag listen "$@")"; grpc="${grpc:-$SERVER_ADDRESS}"
      ADVERTISE_ADDRESS="$(my_ip):$(port_of "$grpc")"
      export ADVERTISE_ADDRESS
    fi
    binary=cairn-chunkserver
    http="$(flag http_listen "$@")"; http="${http:-$HTTP_ADDRESS}"
    ;;
  gateway)
    # GATEWAY_ADDR (may be a bare port) is the gateway's own alias of SERVER_ADDRESS.
    if [[ -z "${SERVER_ADDRESS:-}" ]]; then
      if [[ -n "${GATEWAY_ADDR:-}" ]]; then
        [[ "$GATEWAY_ADDR" == *:* ]] && SERVER_ADDRESS="$GATEWAY_ADDR" || SERVER_ADDRESS="0.0.0.0:$GATEWAY_ADDR"
      else
        SERVER_ADDRESS="0.0.0.0:8089"
      fi
    fi
    export SERVER_ADDRESS
    export MASTER_ADDR="${MASTER_ADDR:-master:9090}"
    binary=cairn-gateway
    http="$(flag listen "$@")"; http="${http:-$SERVER_ADDRESS}"
    ;;
esac

# A data directory the daemon cannot write is the usual first-run mistake (a bind
# mount owned by root); say so instead of letting the daemon fail somewhere deeper.
if [[ -n "${ROOT_DIR:-}" && "$role" != gateway ]]; then
  root="$(flag root_dir "$@")"; root="${root:-$ROOT_DIR}"
  mkdir -p "$root" 2>/dev/null || true
  if [[ ! -w "$root" ]]; then
    die "data directory $root is not writable by uid $(id -u); for a bind mount run: chown -R $(id -u):$(id -g) <host dir>"
  fi
fi

# Where the image's HEALTHCHECK (cairn-healthcheck) looks.
echo "http://127.0.0.1:$(port_of "$http")/health" > /tmp/cairn-health-url 2>/dev/null || true

exec "/usr/local/bin/$binary" "$@"
