# Shared steps of `npm start` and `npm test`: install what is missing, then build.
# Sourced by scripts/start.sh and scripts/test.sh.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '\033[1m[live-webrtc]\033[0m %s\n' "$*" >&2; }

# System packages (apt, as root): runtime, the worker's build packages, and test servers.
ensure_system() {
  if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
    bash "$ROOT/scripts/install-system.sh" "$@"
  else
    log "not root: skipping apt installs; checking what is there"
    for bin in ffmpeg ffprobe redis-server; do
      command -v "$bin" >/dev/null || { log "missing $bin: run 'sudo scripts/install-system.sh $*'"; exit 1; }
    done
  fi
}

# npm packages: `npm ci` when node_modules is missing or older than the lock file.
# mediasoup's postinstall would build its worker unpatched (and fail on Python >= 3.10); it skips
# the build when MEDIASOUP_WORKER_BIN is set, so set it for the install: the worker is built by
# ensure_worker from the sources the install just unpacked.
ensure_npm() {
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT/package-lock.json" -nt "$stamp" ]; then
    log "installing npm packages"
    (cd "$ROOT" && MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-built-by-scripts/build-worker.sh}" \
      npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# The mediasoup worker: built from node_modules/mediasoup's sources with worker/patches (cached
# outside the clone, see scripts/build-worker.sh) unless MEDIASOUP_WORKER_BIN names one already.
# Extra arguments go to build-worker.sh (--with-tests also builds the worker's Catch2 suite).
ensure_worker() {
  if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
    [ -x "$MEDIASOUP_WORKER_BIN" ] || { log "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN is not an executable"; exit 1; }
    log "mediasoup worker: $MEDIASOUP_WORKER_BIN (from MEDIASOUP_WORKER_BIN)"
    return
  fi
  local bin
  bin=$(bash "$ROOT/scripts/build-worker.sh" "$@" | tail -n1)
  export MEDIASOUP_WORKER_BIN="$bin"
  log "mediasoup worker: $MEDIASOUP_WORKER_BIN"
}

ensure_build() {
  log "building (tsc -b)"
  (cd "$ROOT" && npx --no-install tsc -b)
  log "bundling the web app (web/build.mjs)"
  (cd "$ROOT" && npm run --silent build -w web)
}
