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
case "${1:-api}" in
  api | sfu | recorder) exec node "services/$1/dist/main.js" ;;
  *) exec "$@" ;;
esac
