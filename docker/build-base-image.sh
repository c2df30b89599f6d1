#!/usr/bin/env bash
# Makes sure the Debian base image for docker/Dockerfile exists locally.
#
#   docker/build-base-image.sh [IMAGE]        (default: $CAIRN_BASE_IMAGE or cairn/debian:bookworm)
#
# 1. IMAGE already present: nothing to do.
# 2. Otherwise try `docker pull debian:$SUITE` and tag it IMAGE (a normal machine).
# 3. If no registry is reachable, debootstrap a minbase $SUITE from the Debian mirror
#    the host's apt already uses and `docker import` it as IMAGE (~25 s).
#
# Environment:
#   CAIRN_BASE_IMAGE   image name to produce (argument wins)
#   DEBIAN_SUITE       default bookworm
#   DEBIAN_MIRROR      override the mirror found in /etc/apt/sources.list{,.d}
#   DEBIAN_SECURITY_MIRROR  override the security mirror (empty: derived / none)
#   CAIRN_BASE_NO_PULL=1    skip step 2 (always debootstrap)
#   CAIRN_BASE_FORCE=1      rebuild even if IMAGE exists
#
# Needs root (or password-less sudo) for debootstrap; installs debootstrap with apt-get
# when it is missing.
set -euo pipefail

SUITE="${DEBIAN_SUITE:-bookworm}"
IMAGE="${1:-${CAIRN_BASE_IMAGE:-cairn/debian:${SUITE}}}"
DOCKER="${DOCKER:-docker}"

log() { printf '[base-image] %s\n' "$*" >&2; }
die() { printf '[base-image] ERROR: %s\n' "$*" >&2; exit 1; }

if [[ "${CAIRN_BASE_FORCE:-0}" != 1 ]] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE present"
  exit 0
fi

# --- 2. a registry may be reachable -------------------------------------------------
if [[ "${CAIRN_BASE_NO_PULL:-0}" != 1 ]]; then
  log "trying docker pull debian:${SUITE}"
  if timeout 120 "$DOCKER" pull -q "debian:${SUITE}" >/dev/null 2>&1; then
    if [[ "$IMAGE" != "debian:${SUITE}" ]]; then
      "$DOCKER" tag "debian:${SUITE}" "$IMAGE"
    fi
    log "pulled debian:${SUITE} as $IMAGE"
    exit 0
  fi
  log "no registry reachable; building $IMAGE with debootstrap"
fi

# --- 3. debootstrap from the host's mirror ------------------------------------------
SUDO=()
if [[ $EUID -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    die "debootstrap needs root: run 'sudo $0 $IMAGE' once, or pull/load debian:${SUITE}"
  fi
fi

if ! command -v debootstrap >/dev/null 2>&1 && [[ ! -x /usr/sbin/debootstrap ]]; then
  command -v apt-get >/dev/null 2>&1 ||
    die "debootstrap is missing and there is no apt-get to install it"
  log "installing debootstrap"
  "${SUDO[@]}" apt-get install -y -q debootstrap >/dev/null ||
    { "${SUDO[@]}" apt-get update -q >/dev/null && "${SUDO[@]}" apt-get install -y -q debootstrap >/dev/null; } ||
    die "could not install debootstrap"
fi
DEBOOTSTRAP="$(command -v debootstrap || echo /usr/sbin/debootstrap)"

# Prints "URI SUITE..." for each enabled Debian entry of the host's apt configuration
# (one-line .list files and deb822 .sources files).
apt_entries() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    sed -E 's/#.*//; s/\[[^]]*\]//' "$f" | awk '$1 == "deb" { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    awk '
      function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "")
                           { n = split(uris, u, " "); for (i = 1; i <= n; i++) print u[i], suites }
                         types = uris = suites = ""; enabled = "" }
      /^[[:space:]]*#/ { next }
      /^[[:space:]]*$/ { flush(); next }
      { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "");
        if (key == "types") types = $0; else if (key == "uris") uris = $0;
        else if (key == "suites") suites = $0; else if (key == "enabled") enabled = tolower($0) }
      END { flush() }' "$f"
  done
}

if [[ -z "${DEBIAN_MIRROR:-}" ]]; then
  DEBIAN_MIRROR="$(apt_entries | awk -v s="$SUITE" '{ for (i = 2; i <= NF; i++) if ($i == s) { print $1; exit } }')"
  [[ -n "$DEBIAN_MIRROR" ]] || DEBIAN_MIRROR="$(apt_entries | awk '$1 ~ /debian\/?$/ { print $1; exit }')"
  [[ -n "$DEBIAN_MIRROR" ]] || DEBIAN_MIRROR="http://deb.debian.org/debian"
fi
if [[ -z "${DEBIAN_SECURITY_MIRROR+x}" ]]; then
  DEBIAN_SECURITY_MIRROR="$(apt_entries | awk -v s="${SUITE}-security" '{ for (i = 2; i <= NF; i++) if ($i == s) { print $1; exit } }')"
fi
DEBIAN_MIRROR="${DEBIAN_MIRROR%/}"
log "mirror: $DEBIAN_MIRROR  security: ${DEBIAN_SECURITY_MIRROR:-none}"

include=()
[[ "$DEBIAN_MIRROR" == https:* || "${DEBIAN_SECURITY_MIRROR:-}" == https:* ]] && include=(--include=ca-certificates)

ROOTFS="$(mktemp -d /var/tmp/cairn-rootfs.XXXXXX)"
cleanup() { "${SUDO[@]}" rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

start=$SECONDS
"${SUDO[@]}" "$DEBOOTSTRAP" --variant=minbase --components=main "${include[@]}" \
  "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >"$ROOTFS.log" 2>&1 ||
  { tail -n 30 "$ROOTFS.log" >&2; rm -f "$ROOTFS.log"; die "debootstrap failed"; }
rm -f "$ROOTFS.log"

# apt sources inside the image: the same mirror, plus updates and security.
{
  echo "deb $DEBIAN_MIRROR $SUITE main"
  echo "deb $DEBIAN_MIRROR $SUITE-updates main"
  [[ -n "${DEBIAN_SECURITY_MIRROR:-}" ]] && echo "deb ${DEBIAN_SECURITY_MIRROR%/} $SUITE-security main"
} | "${SUDO[@]}" tee "$ROOTFS/etc/apt/sources.list" >/dev/null

# What the official debian images do: no package caches in the image, no docs
# in later layers, no recommends.
"${SUDO[@]}" tee "$ROOTFS/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
"${SUDO[@]}" tee "$ROOTFS/etc/apt/apt.conf.d/docker-no-recommends" >/dev/null <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
"${SUDO[@]}" tee "$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-excludes" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
EOF
"${SUDO[@]}" rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
  "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* \
  "$ROOTFS"/dev/* "$ROOTFS"/proc/* "$ROOTFS"/sys/*
"${SUDO[@]}" find "$ROOTFS/var/log" -mindepth 1 -delete 2>/dev/null || true

"${SUDO[@]}" tar --numeric-owner --xattrs -C "$ROOTFS" -c . |
  "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE $DEBIAN_MIRROR" \
    - "$IMAGE" >/dev/null

log "built $IMAGE in $((SECONDS - start)) s ($("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }'))"
