#!/bin/sh
# Starts one live-webrtc service: `api`, `sfu` or `recorder` (anything else runs as given).
# Settings that must name this container's own address accept `auto`: with --scale every
# replica has its own IP, which no compose file can spell out.
set -eu
own_ip() { hostname -i | awk '{print $1}'; }
for v in RECORDER_HOST TAP_LISTEN_IP RTC_LISTEN_IP; do
  eval "val=\${$v:-}"
  if [ "$val" = auto ]; then export "$v=$(own_ip)"; fi
done
# The SFU's URL for the API (registered with its rooms): this container's address.
if [ "${SFU_INTERNAL_URL:-}" = auto ]; then export SFU_INTERNAL_URL="http://$(own_ip):${SFU_HTTP_ADDR##*:}"; fi
case "${1:-api}" in
  api | sfu | recorder) exec node "services/$1/dist/main.js" ;;
  # `health api|sfu|recorder`: exit 0 when the service answers /readyz (compose healthchecks).
  health)
    case "${2:-api}" in api) port=${HTTP_ADDR##*:} ;; sfu) port=${SFU_HTTP_ADDR##*:} ;; *) port=${RECORDER_HTTP_ADDR##*:} ;; esac
    exec node -e "fetch('http://127.0.0.1:$port/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" ;;
  *) exec "$@" ;;
esac
