#!/usr/bin/env bash
# Builds mediasoup's C++ worker from the installed npm package's own sources
# (node_modules/mediasoup/worker, copied to a scratch dir, never modified in place), against
# Debian's OpenSSL, libuv, libsrtp2 and usrsctp, with our patches from worker/patches/ applied
# (why each exists: worker/patches/README.md).
#
# The result is cached outside the clone, keyed on the package's integrity, the patches and
# this script's recipe, so a fresh clone on a machine that built it once pays nothing:
#   ${LW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/live-webrtc}/mediasoup-worker/<key>/
#
# Usage: bash scripts/build-worker.sh [--with-tests]
#   --with-tests  also build (or reuse) the worker's Catch2 test binary, next to the worker.
# Contract (the container image's build stage relies on it): logs go to stderr; the LAST line
# of stdout is the absolute path of the worker binary. Exit status is non-zero on failure,
# with a message naming the missing Debian package when a build dependency is absent.
# Environment: LW_CACHE_DIR (cache root), LW_BUILD_JOBS (parallel compile jobs, default: CPUs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pkg="$root/node_modules/mediasoup"
patches_dir="$root/worker/patches"
# Bump when the build recipe below changes in a way that changes the binary.
recipe=1

log() { printf '[build-worker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --with-tests) with_tests=1 ;;
    *) die "unknown argument '$arg' (usage: build-worker.sh [--with-tests])" ;;
  esac
done

[ -f "$pkg/package.json" ] && [ -d "$pkg/worker" ] ||
  die "$pkg not found: install the npm packages first (MEDIASOUP_WORKER_BIN set, or --ignore-scripts, so mediasoup's own postinstall does not build)"

sha256() { sha256sum | cut -c1-64; }

# --- Cache key ------------------------------------------------------------------------------
version=$(node -p "require('$pkg/package.json').version")
# The lock file's integrity names the exact tarball; fall back to hashing the sources.
integrity=$(node -e "
  const fs = require('fs');
  for (const f of ['$root/package-lock.json', '$root/node_modules/.package-lock.json']) {
    try {
      const p = JSON.parse(fs.readFileSync(f, 'utf8')).packages?.['node_modules/mediasoup'];
      if (p?.integrity && p.version === '$version') { console.log(p.integrity); process.exit(0); }
    } catch {}
  }" || true)
if [ -z "$integrity" ]; then
  log "no integrity for mediasoup@$version in package-lock.json: hashing its worker sources"
  integrity=$(cd "$pkg/worker" && find src include mediasoup-worker.gyp common.gypi -type f -print0 |
    sort -z | xargs -0 sha256sum | sha256)
fi
shopt -s nullglob
patches=("$patches_dir"/*.patch)
shopt -u nullglob
patches_hash=$( (for p in "${patches[@]}"; do printf '%s\n' "$(basename "$p")"; cat "$p"; done) | sha256)
arch=$(uname -m)
key="$version-$arch-$(printf '%s\n%s\n%s\n' "$integrity" "$patches_hash" "$recipe" | sha256 | cut -c1-16)"

cache_root="${LW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/live-webrtc}/mediasoup-worker"
out="$cache_root/$key"
bin="$out/mediasoup-worker"
test_bin="$out/mediasoup-worker-test"

cached() { [ -x "$bin" ] && { [ "$with_tests" = 0 ] || [ -x "$test_bin" ]; }; }

if cached; then
  log "cached: $out"
  echo "$bin"
  exit 0
fi

mkdir -p "$cache_root"
# One build per key at a time; a second caller waits, then finds the cache filled.
exec 9>"$cache_root/$key.lock"
if ! flock -n 9; then
  log "another build of $key is running: waiting for it"
  flock 9
fi
if cached; then
  log "cached: $out"
  echo "$bin"
  exit 0
fi

# --- Build dependencies ---------------------------------------------------------------------
missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_file() { [ -e "$1" ] || missing+=("$2"); }
need_cmd make make
need_cmd g++ g++
need_cmd patch patch
need_cmd flock util-linux
python=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$python" ] || missing+=(python3)
need_file /usr/include/openssl/ssl.h libssl-dev
need_file /usr/include/uv.h libuv1-dev
need_file /usr/include/srtp2/srtp.h libsrtp2-dev
need_file /usr/include/usrsctp.h libusrsctp-dev
if [ "${#missing[@]}" -gt 0 ]; then
  die "missing Debian build packages: ${missing[*]} (install them: apt-get install ${missing[*]}, or run scripts/install-system.sh as root)"
fi

# --- Scratch copy + patches -----------------------------------------------------------------
scratch=$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
src="$scratch/worker"
mkdir -p "$src"
# The bundled OpenSSL, libuv, libsrtp and usrsctp are replaced by Debian's (patch 0003);
# leaving them out of the copy proves nothing links them by accident.
(cd "$pkg/worker" && tar --exclude=./out --exclude=./deps/openssl --exclude=./deps/libuv \
  --exclude=./deps/libsrtp --exclude=./deps/usrsctp --exclude=./deps/webrtc-fuzzer-corpora -cf - .) |
  tar -xf - -C "$src"
for p in "${patches[@]}"; do
  log "applying $(basename "$p")"
  patch -d "$src" -p1 --forward --batch --quiet <"$p" ||
    die "patch $(basename "$p") does not apply to mediasoup@$version's worker sources"
done

# --- Build ----------------------------------------------------------------------------------
jobs="${LW_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"
targets=(mediasoup-worker)
[ "$with_tests" = 1 ] && targets+=(mediasoup-worker-test)
cc=gcc cxx=g++
if command -v ccache >/dev/null 2>&1; then
  # Relative paths under the scratch dir, so every fresh scratch copy hits the same entries.
  cc="ccache gcc" cxx="ccache g++"
  export CCACHE_BASEDIR="$scratch" CCACHE_NOHASHDIR=1
fi
log "building mediasoup@$version worker ($arch, ${targets[*]}, -j$jobs) in $scratch"
started=$(date +%s)
(
  cd "$src"
  # mediasoup's Makefile skips the build when MEDIASOUP_WORKER_BIN is set: call gyp + make.
  unset MEDIASOUP_WORKER_BIN
  export CC="$cc" CXX="$cxx" MEDIASOUP_OUT_DIR="$src/out"
  root_args=()
  for t in "${targets[@]}"; do root_args+=(-R "$t"); done
  "$python" scripts/configure.py "${root_args[@]}" >&2
  make -j"$jobs" BUILDTYPE=Release -C out "${targets[@]}" >&2
) || die "build failed (see the compiler output above)"
log "built in $(($(date +%s) - started)) s"

# --- Install into the cache atomically ------------------------------------------------------
# Each file appears under its final name by rename(), so a concurrent reader never sees half.
install_file() { cp "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"; }
staging="$cache_root/$key.tmp.$$"
rm -rf "$staging"
mkdir -p "$staging"
for t in "${targets[@]}"; do
  strip -o "$staging/$t" "$src/out/Release/$t" 2>/dev/null || cp "$src/out/Release/$t" "$staging/$t"
done
printf 'mediasoup %s\nintegrity %s\npatches %s\narch %s\nbuilt %s\n' "$version" "$integrity" \
  "$(for p in "${patches[@]}"; do basename "$p"; done | tr '\n' ' ')" "$arch" "$(date -u +%FT%TZ)" \
  >"$staging/BUILD-INFO"
if [ -d "$out" ]; then
  for f in "$staging"/*; do install_file "$f" "$out/$(basename "$f")"; done
  rm -rf "$staging"
else
  mv "$staging" "$out"
fi

# Fail here rather than at run time if a system library does not resolve.
if ldd "$bin" | grep -q "not found"; then
  ldd "$bin" | grep "not found" >&2
  die "the built worker has unresolved libraries"
fi
log "worker: $bin ($(du -k "$bin" | cut -f1) KiB)"
echo "$bin"
