#!/usr/bin/env bash
# Installs what building and testing Cairn needs, from Debian's packages.
# Skips packages already installed; runs apt-get only when something is missing.
# Usage: scripts/install-deps.sh            (as root, or with sudo available)
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # clang: the thread-safety, ASan+UBSan and fuzzing build (scripts/sanitize.sh,
  # scripts/fuzz.sh), whose sanitizer and libFuzzer runtimes Debian ships apart; clang-format
  clang libclang-rt-14-dev clang-format
  # fixed dependencies
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler librocksdb-dev
  libspdlog-dev libabsl-dev libgtest-dev libgmock-dev
  # libraries for the rest
  libisal-dev libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libssl-dev
  # the gateway's event-driven HTTP front end (Boost.Beast on Asio, header-only)
  libboost-dev libboost-system-dev
  # tests and scripts
  python3 python3-pytest curl ca-certificates procps
  # the Docker base image is made with debootstrap where no registry is reachable
  debootstrap
  # dashboard browser test (headless Chromium via Selenium) and metrics test (promtool)
  chromium chromium-driver python3-selenium fonts-dejavu-core prometheus
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# We want promtool from the prometheus package, not a Prometheus server: on a
# systemd host the package starts one on port 9090, the master's default port.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1; then
  $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
