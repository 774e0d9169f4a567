#!/usr/bin/env bash
# npm test: install what is missing (browser and S3 server included), build, lint, then run
# the unit, integration and end-to-end tiers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_system --with-test-deps
ensure_npm
ensure_worker --with-tests
ensure_build
log "lint"
(cd "$ROOT" && npx --no-install eslint --max-warnings=0 .)
log "format (prettier --check)"
(cd "$ROOT" && npx --no-install prettier --check --log-level=warn .)
log "tests"
exec node "$ROOT/scripts/run-tests.mjs" "${1:-all}"
