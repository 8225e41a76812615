# Shared by scripts/demo, scripts/test, scripts/bench: dependencies, build, EAL memory.
# Source it; it sets ROOT and BUILD.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build"

# Debian 12 packages the project needs to build, test, demo and benchmark.
FULCRUM_PACKAGES=(
  build-essential pkg-config meson ninja-build
  libdpdk-dev dpdk dpdk-dev libboost-program-options-dev nlohmann-json3-dev catch2
  iproute2 iputils-ping ethtool procps curl python3 tcpdump nftables wrk iperf3 hping3 nginx-light bird2 debhelper systemd
)

log() { printf '\033[1m== %s\033[0m\n' "$*"; }

ensure_deps() {
  local missing=()
  for p in "${FULCRUM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "need root to install packages" >&2; return 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

build_fulcrum() {
  if [ ! -f "$BUILD/build.ninja" ]; then
    meson setup "$BUILD" "$ROOT" --buildtype=release >/dev/null
  fi
  ninja -C "$BUILD" >/dev/null || ninja -C "$BUILD"
}

# Reserve hugepages when the kernel allows; print the EAL memory arguments to use.
eal_mem_args() {
  local free
  if [ -w /proc/sys/vm/nr_hugepages ] && [ "$(cat /proc/sys/vm/nr_hugepages)" -lt 512 ]; then
    echo 1024 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  fi
  mountpoint -q /dev/hugepages 2>/dev/null || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true; }
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if [ "${FULCRUM_NO_HUGE:-0}" != 1 ] && [ "${free:-0}" -ge 512 ] && mountpoint -q /dev/hugepages; then
    echo "-m 512"
  else
    echo "--no-huge -m 1024"
  fi
}
