# Shared steps of `npm start` and `npm test`: install what is missing, then build.
# Sourced by scripts/start.sh and scripts/test.sh.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export MEDIASOUP_WORKER_BIN="${MEDIASOUP_WORKER_BIN:-$ROOT/.deps/mediasoup-worker/usr/lib/x86_64-linux-gnu/mediasoup/mediasoup-worker}"

log() { printf '\033[1m[live-webrtc]\033[0m %s\n' "$*" >&2; }

# System packages (apt, as root) and the mediasoup worker (unpacked under .deps/).
ensure_system() {
  if [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; then
    bash "$ROOT/scripts/install-system.sh" "$@"
  else
    log "not root: skipping apt installs; checking what is there"
    for bin in ffmpeg ffprobe redis-server; do
      command -v "$bin" >/dev/null || { log "missing $bin: run 'sudo scripts/install-system.sh $*'"; exit 1; }
    done
    [ -x "$MEDIASOUP_WORKER_BIN" ] || bash "$ROOT/scripts/install-system.sh" "$@"
  fi
}

# npm packages: `npm ci` when node_modules is missing or older than the lock file. The worker
# binary is given to mediasoup's install script so it does not try to download or build one.
ensure_npm() {
  local stamp="$ROOT/node_modules/.package-lock.json"
  if [ ! -f "$stamp" ] || [ "$ROOT/package-lock.json" -nt "$stamp" ]; then
    log "installing npm packages"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

ensure_build() {
  log "building (tsc -b)"
  (cd "$ROOT" && npx --no-install tsc -b)
  log "bundling the web app (web/build.mjs)"
  (cd "$ROOT" && npm run --silent build -w web)
}
