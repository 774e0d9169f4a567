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
# Usage: bash scripts/build-worker.sh [--with-tests] [--arch amd64|arm64]
#   --with-tests  also build (or reuse) the worker's Catch2 test binary, next to the worker.
#   --arch ARCH   build for ARCH (Debian's name; default: this machine's). Another arch than the
#                 machine's is cross-compiled with Debian's cross toolchain and that arch's
#                 multiarch -dev packages (scripts/install-system.sh --with-arm64-cross); the
#                 result runs there, or here under qemu-user-static.
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

usage="usage: build-worker.sh [--with-tests] [--arch amd64|arm64]"
with_tests=0
target=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --with-tests) with_tests=1 ;;
    --arch)
      [ "$#" -ge 2 ] || die "--arch needs a value ($usage)"
      target=$2
      shift
      ;;
    --arch=*) target=${1#--arch=} ;;
    *) die "unknown argument '$1' ($usage)" ;;
  esac
  shift
done

# Debian arch name -> kernel name (uname -m, the cache key's), gyp's name, GNU triplet.
deb_arch_of() { case "$1" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) echo "$1" ;; esac; }
host_deb=$(deb_arch_of "$(uname -m)")
target=${target:-$host_deb}
case "$target" in
  amd64 | x86_64) target=amd64 arch=x86_64 gyp_arch=x64 triplet=x86_64-linux-gnu ;;
  arm64 | aarch64) target=arm64 arch=aarch64 gyp_arch=arm64 triplet=aarch64-linux-gnu ;;
  *) die "unsupported --arch '$target' (amd64 or arm64)" ;;
esac
cross=0
[ "$target" = "$host_deb" ] || cross=1

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
need_cmd patch patch
need_cmd flock util-linux
python=$(command -v /usr/bin/python3 || command -v python3 || true)
[ -n "$python" ] || missing+=(python3)
if [ "$cross" = 0 ]; then
  need_cmd g++ g++
  need_file /usr/include/openssl/ssl.h libssl-dev
  need_file /usr/include/uv.h libuv1-dev
  need_file /usr/include/srtp2/srtp.h libsrtp2-dev
  need_file /usr/include/usrsctp.h libusrsctp-dev
else
  # Multiarch: the headers are shared, the libraries (and OpenSSL's configuration header) live
  # under /usr/lib/<triplet> and /usr/include/<triplet>, where Debian's cross gcc looks.
  need_cmd "$triplet-g++" "g++-$triplet"
  need_cmd "$triplet-strip" "binutils-$triplet"
  need_file "/usr/include/$triplet/openssl/opensslconf.h" "libssl-dev:$target"
  need_file "/usr/lib/$triplet/libuv.so" "libuv1-dev:$target"
  need_file "/usr/lib/$triplet/libsrtp2.so" "libsrtp2-1:$target"
  need_file "/usr/lib/$triplet/libusrsctp.so" "libusrsctp-dev:$target"
fi
if [ "${#missing[@]}" -gt 0 ]; then
  hint="scripts/install-system.sh as root"
  [ "$cross" = 1 ] && hint="scripts/install-system.sh --with-$target-cross as root (adds the $target dpkg architecture)"
  die "missing Debian build packages: ${missing[*]} (install them: apt-get install ${missing[*]}, or run $hint)"
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
cc=gcc cxx=g++ ar=ar strip=strip
[ "$cross" = 1 ] && cc="$triplet-gcc" cxx="$triplet-g++" ar="$triplet-ar" strip="$triplet-strip"
if command -v ccache >/dev/null 2>&1; then
  # Relative paths under the scratch dir, so every fresh scratch copy hits the same entries.
  cc="ccache $cc" cxx="ccache $cxx"
  export CCACHE_BASEDIR="$scratch" CCACHE_NOHASHDIR=1
fi
log "building mediasoup@$version worker ($arch$([ "$cross" = 1 ] && echo ", cross from $(uname -m)"), ${targets[*]}, -j$jobs) in $scratch"
started=$(date +%s)
(
  cd "$src"
  # mediasoup's Makefile skips the build when MEDIASOUP_WORKER_BIN is set: call gyp + make.
  unset MEDIASOUP_WORKER_BIN
  # gyp's make generator links with $CXX and archives with $AR (its target toolset).
  export CC="$cc" CXX="$cxx" AR="$ar" LINK="$cxx" MEDIASOUP_OUT_DIR="$src/out"
  root_args=(-Dtarget_arch="$gyp_arch")
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
  "$strip" -o "$staging/$t" "$src/out/Release/$t" 2>/dev/null || cp "$src/out/Release/$t" "$staging/$t"
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

# Fail here rather than at run time if a system library does not resolve (ldd runs the
# binary's own loader: only for this machine's arch).
if [ "$cross" = 0 ] && ldd "$bin" | grep -q "not found"; then
  ldd "$bin" | grep "not found" >&2
  die "the built worker has unresolved libraries"
fi
log "worker: $bin ($(du -k "$bin" | cut -f1) KiB)"
echo "$bin"
