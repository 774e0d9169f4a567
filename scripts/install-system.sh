#!/usr/bin/env bash
# Installs the system packages live-webrtc needs, idempotently, without touching the
# system's apt sources:
#   ffmpeg, redis-server, the packages that build the mediasoup worker from source
#   (scripts/build-worker.sh: compiler, Python, and Debian's OpenSSL, libuv, libsrtp2, usrsctp),
#   and for tests chromium (browser tests) and Ceph's S3 gateway (S3 tests).
# Usage: scripts/install-system.sh [--with-test-deps] [--with-arm64-cross]
#   --with-arm64-cross  also what cross-compiles the worker for arm64 on an amd64 host
#                       (`scripts/build-worker.sh --arch arm64`): Debian's aarch64 cross
#                       compiler, the arm64 (multiarch) -dev packages of the worker's libraries,
#                       and qemu-user-static to run the result. Adds the arm64 dpkg architecture.
#                       libsrtp2-dev is not co-installable across architectures (its headers
#                       share one path), and installing the arm64 one removes the host's: so
#                       only the arm64 runtime library is installed, with the one link the
#                       linker needs (libsrtp2.so), and the host's headers serve both.
# Non-root: prints what is missing and exits 0 when everything needed is present, 1 otherwise.
set -euo pipefail

with_test=0
with_arm64_cross=0
for arg in "$@"; do
  case "$arg" in
    --with-test-deps) with_test=1 ;;
    --with-arm64-cross) with_arm64_cross=1 ;;
    *) echo "install-system: unknown option $arg" >&2; exit 2 ;;
  esac
done

runtime_pkgs=(ffmpeg redis-server ca-certificates)
# Keep in step with the checks in scripts/build-worker.sh.
worker_build_pkgs=(g++ make python3 patch ccache libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev)
test_pkgs=(chromium ceph-mon ceph-osd radosgw ceph-common)
pkgs=("${runtime_pkgs[@]}" "${worker_build_pkgs[@]}")
[ "$with_test" = 1 ] && pkgs+=("${test_pkgs[@]}")
# --- deployment tests (issue 10): the compose stack on podman, Prometheus and promtool ---
deploy_test_pkgs=(podman podman-compose catatonit golang-github-containernetworking-plugin-dnsname buildah uidmap fuse-overlayfs slirp4netns runc mmdebstrap prometheus)
[ "$with_test" = 1 ] && pkgs+=("${deploy_test_pkgs[@]}")
# --- end deployment tests ---
# --- arm64 cross build of the worker (issue 13) ---
# Keep in step with the checks in scripts/build-worker.sh (--arch arm64).
arm64_cross_pkgs=(g++-aarch64-linux-gnu binutils-aarch64-linux-gnu libssl-dev:arm64 libuv1-dev:arm64 libsrtp2-1:arm64 libusrsctp-dev:arm64 qemu-user-static)
if [ "$with_arm64_cross" = 1 ]; then
  pkgs+=("${arm64_cross_pkgs[@]}")
  if [ "$(dpkg --print-architecture)" = arm64 ]; then
    echo "install-system: this host is arm64: --with-arm64-cross is not needed" >&2
    pkgs=("${pkgs[@]/%:arm64/}")
  fi
fi
# --- end arm64 cross build ---

# A package counts as installed for the host's architecture (or arch: all) only: with a foreign
# architecture added, `dpkg-query -W pkg` also answers for pkg:arm64.
host_arch=$(dpkg --print-architecture)
installed() {
  case "$1" in
    *:*) dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q "install ok installed" ;;
    *) dpkg-query -W -f='${Status} ${Architecture}\n' "$1" 2>/dev/null | grep -Eq "install ok installed ($host_arch|all)$" ;;
  esac
}
missing=()
for p in "${pkgs[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
    echo "install-system: missing ${missing[*]}; run 'sudo scripts/install-system.sh $*'" >&2
    exit 1
  fi
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  echo "install-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Multiarch: the arm64 -dev packages install beside the host's (same Debian mirror).
  if [ "$with_arm64_cross" = 1 ] && [ "$(dpkg --print-architecture)" != arm64 ] &&
    ! dpkg --print-foreign-architectures | grep -qx arm64; then
    as_root dpkg --add-architecture arm64
  fi
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The arm64 libsrtp2's link-time name (what libsrtp2-dev:arm64 would add; see above).
if [ "$with_arm64_cross" = 1 ] && [ "$host_arch" != arm64 ] && [ ! -e /usr/lib/aarch64-linux-gnu/libsrtp2.so ]; then
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  as_root ln -s libsrtp2.so.1 /usr/lib/aarch64-linux-gnu/libsrtp2.so
fi
echo "install-system: ok"
