#!/usr/bin/env bash
# Installs the system packages live-webrtc needs, idempotently, without touching the
# system's apt sources:
#   ffmpeg, redis-server, chromium (browser tests), Ceph's S3 gateway (S3 tests),
#   and Debian experimental's mediasoup-worker unpacked under .deps/ (see ARCHITECTURE.md).
# Usage: scripts/install-system.sh [--with-test-deps]
# Non-root: prints what is missing and exits 0 when everything needed is present, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"
worker_bin="$deps/mediasoup-worker/usr/lib/x86_64-linux-gnu/mediasoup/mediasoup-worker"
with_test=0
[ "${1:-}" = "--with-test-deps" ] && with_test=1

runtime_pkgs=(ffmpeg redis-server libsrtp2-1 libusrsctp2 ca-certificates)
test_pkgs=(chromium ceph-mon ceph-osd radosgw ceph-common)
pkgs=("${runtime_pkgs[@]}")
[ "$with_test" = 1 ] && pkgs+=("${test_pkgs[@]}")
# --- deployment tests (issue 10): the compose stack on podman, Prometheus and promtool ---
deploy_test_pkgs=(podman podman-compose catatonit golang-github-containernetworking-plugin-dnsname buildah uidmap fuse-overlayfs slirp4netns runc mmdebstrap prometheus)
[ "$with_test" = 1 ] && pkgs+=("${deploy_test_pkgs[@]}")
# --- end deployment tests ---

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-system: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$worker_bin" ]; then
  echo "install-system: fetching mediasoup-worker from Debian experimental"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/sources.d" "$tmp/lists/partial" "$tmp/archives/partial"
  # Reuse the URI of the system's own Debian entry so mirrors/proxies configured there apply.
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -E 'debian/?$|debian/? ' | grep -v security | head -n1 \
        | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//; s/[[:space:]].*$//' || true)
  [ -n "$uri" ] || uri="http://deb.debian.org/debian"
  cat > "$tmp/sources.d/experimental.sources" <<SRC
Types: deb
URIs: $uri
Suites: experimental
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  aptopts=(-o "Dir::State::Lists=$tmp/lists" -o "Dir::Etc::SourceList=/dev/null"
           -o "Dir::Etc::SourceParts=$tmp/sources.d" -o "Dir::Cache::Archives=$tmp/archives"
           -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
  apt-get "${aptopts[@]}" update -qq
  (cd "$tmp" && apt-get "${aptopts[@]}" download mediasoup-worker >/dev/null)
  rm -rf "$deps/mediasoup-worker"
  mkdir -p "$deps/mediasoup-worker"
  dpkg -x "$tmp"/mediasoup-worker_*.deb "$deps/mediasoup-worker"
fi

"$worker_bin" --version >/dev/null 2>&1 || {
  # The worker prints nothing useful for --version; check its libraries resolve instead.
  if ldd "$worker_bin" | grep -q "not found"; then
    echo "install-system: mediasoup-worker has unresolved libraries:" >&2
    ldd "$worker_bin" | grep "not found" >&2
    exit 1
  fi
}
echo "install-system: ok (mediasoup worker at $worker_bin)"
