#!/usr/bin/env bash
# Makes, without any container registry, the base images the compose files name, from Debian
# packages and the npm registry only, and tags them under the names the files use:
#   localhost/lw-debian:bookworm   mmdebstrap minbase + the host's extra CA certificates
#   node:22-bookworm-slim          + Node 22 (npm's node-linux-<arch> package) and npm
#   redis:7                        + Debian's redis-server
#   prom/prometheus:v2.53.0        + Debian's prometheus (2.42; same flags and file layout used here)
#   localhost/lw-radosgw:latest    + Ceph's radosgw (the S3 service of compose/test.override.yml)
# Each image is built once: an existing tag is kept (podman storage persists between runs).
# Usage: CONTAINERS_CONF=compose/offline/containers.conf compose/offline/build-base-images.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$here/containers.conf}"
log() { printf '[base-images] %s\n' "$*" >&2; }
have() { podman image exists "$1"; }

arch=$(dpkg --print-architecture)
case "$arch" in amd64) node_arch=x64 ;; arm64) node_arch=arm64 ;; *) echo "unsupported arch $arch" >&2; exit 1 ;; esac
mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v security | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb (\[[^]]*\] )?//; s/[[:space:]].*$//' || true)
mirror=${mirror:-http://deb.debian.org/debian}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! have localhost/lw-debian:bookworm; then
  log "debian bookworm rootfs (mmdebstrap, $mirror)"
  # Extra CA certificates of the host (HTTPS through an inspecting proxy), trusted inside too.
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --customize-hook='if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"; chroot "$1" update-ca-certificates >/dev/null; fi' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm "$tmp/rootfs.tar" "$mirror"
  podman import --change 'CMD ["/bin/bash"]' "$tmp/rootfs.tar" localhost/lw-debian:bookworm >/dev/null
  rm -f "$tmp/rootfs.tar"
fi

build() { # name, Containerfile text (context: $tmp/ctx)
  local name=$1
  if have "$name"; then return; fi
  log "building $name"
  printf '%s\n' "$2" > "$tmp/ctx/Containerfile"
  podman build --quiet --network host -t "$name" -f "$tmp/ctx/Containerfile" "$tmp/ctx" >/dev/null
}
mkdir -p "$tmp/ctx"

if ! have docker.io/library/node:22-bookworm-slim; then
  (cd "$tmp/ctx" && npm pack --silent "node-linux-$node_arch@22" "npm@10" >/dev/null && mv node-linux-*.tgz node.tgz && mv npm-*.tgz npm.tgz)
  build docker.io/library/node:22-bookworm-slim "FROM localhost/lw-debian:bookworm
COPY node.tgz npm.tgz /tmp/
RUN tar -xzf /tmp/node.tgz -C /usr/local --strip-components=1 package/bin/node \\
 && mkdir -p /usr/local/lib/node_modules/npm && tar -xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && rm /tmp/*.tgz && node --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
CMD [\"node\"]"
  rm -f "$tmp/ctx"/*.tgz
fi

apt_image() { # name, packages, extra Containerfile lines
  build "$1" "FROM localhost/lw-debian:bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $2 && rm -rf /var/lib/apt/lists/*
$3"
}
apt_image docker.io/library/redis:7 redis-server 'WORKDIR /data
CMD ["redis-server"]'
apt_image docker.io/prom/prometheus:v2.53.0 'prometheus wget' 'RUN mkdir -p /prometheus && chown nobody /prometheus
USER nobody
WORKDIR /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]'
apt_image localhost/lw-radosgw:latest 'radosgw ceph-mon ceph-osd ceph-common' ''
log "ok: $(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'lw-|node:22|redis:7|prometheus' | tr '\n' ';')"
