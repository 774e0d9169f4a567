#!/bin/sh
# Writes compose/.env from .env.example with a fresh random value for every secret.
# Refuses to overwrite an existing compose/.env. Usage: compose/gen-env.sh [ANNOUNCED_IP]
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ -e "$dir/.env" ] && { echo "compose/.env exists; not overwriting" >&2; exit 1; }
secret() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
ip=${1:-$(hostname -I 2>/dev/null | awk '{print $1}')}
umask 077
while IFS= read -r line; do
  case "$line" in
    AUTH_TOKEN= | JWT_SECRET= | INTERNAL_TOKEN= | REDIS_PASSWORD= | S3_SECRET_KEY= | TURN_SECRET= | GRAFANA_ADMIN_PASSWORD=)
      echo "${line}$(secret)" ;;
    S3_ACCESS_KEY=) echo "S3_ACCESS_KEY=lw$(secret | cut -c1-16)" ;;
    ANNOUNCED_IP=) echo "ANNOUNCED_IP=$ip" ;;
    *) echo "$line" ;;
  esac
done < "$dir/.env.example" > "$dir/.env"
echo "wrote compose/.env (ANNOUNCED_IP=$ip)"
