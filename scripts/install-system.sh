#!/usr/bin/env bash
# Installs the system packages live-webrtc needs, idempotently, without touching the
# system's apt sources:
#   ffmpeg, redis-server, the packages that build the mediasoup worker from source
#   (scripts/build-worker.sh: compiler, Python, and Debian's OpenSSL, libuv, libsrtp2, usrsctp),
#   and for tests chromium (browser tests) and Ceph's S3 gateway (S3 tests).
# Usage: scripts/install-system.sh [--with-test-deps]
# Non-root: prints what is missing and exits 0 when everything needed is present, 1 otherwise.
set -euo pipefail

with_test=0
[ "${1:-}" = "--with-test-deps" ] && with_test=1

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

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
    echo "install-system: missing ${missing[*]}; run 'sudo scripts/install-system.sh $*'" >&2
    exit 1
  fi
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
  echo "install-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-system: ok"
