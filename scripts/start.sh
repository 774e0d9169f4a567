#!/usr/bin/env bash
# npm start: install what is missing, build, run API + SFU + recorder (+ a private Redis).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_system
ensure_npm
ensure_worker
ensure_build
exec node "$ROOT/scripts/launch.mjs"
