#!/bin/sh
# Checks that docker-compose.yml and the Dockerfile agree with the `tributary` CLI, without
# a Docker engine:
#
#   * every tributary service runs a real subcommand with flags the CLI has, and the CLI
#     accepts the exact arguments (it is started with them for a few seconds, only the
#     listen address moved to loopback);
#   * the port it listens on is the container port it publishes and the one its health
#     check (and the Dockerfile's EXPOSE / HEALTHCHECK) calls;
#   * its --source names a service of the file, on the port that broker listens on, and a
#     producer feeds that topic;
#   * `docker compose config` (or `docker-compose config`) accepts the file, when a compose
#     CLI is installed (skipped, and said so, otherwise).
#
#   TRIBUTARY_BIN=target/debug/tributary sh docker/check-compose.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
compose="$here/docker-compose.yml"
dockerfile="$here/Dockerfile"
bin=${TRIBUTARY_BIN:?set TRIBUTARY_BIN to the tributary binary}
failures=0
# The compose file requires the secret; the CLI wants at least 32 bytes.
TRIBUTARY_JWT_SECRET=${TRIBUTARY_JWT_SECRET:-check-compose-secret-of-32-bytes-or-more}
export TRIBUTARY_JWT_SECRET
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# `service<TAB>key<TAB>value` for the keys this check reads (flow-style lists on one line).
facts=$(awk '
  /^services:/ { in_services = 1; next }
  /^[a-z]/ { in_services = 0 }
  in_services && /^  [a-z][a-z0-9-]*:$/ { svc = $1; sub(":", "", svc); next }
  in_services && /^    command: \[/ { line = $0; sub(/^    command: /, "", line); print svc "\tcommand\t" line }
  in_services && /^    ports:/ { ports = 1; next }
  in_services && ports && /^      - / { p = $2; gsub("\"", "", p); print svc "\tport\t" p; next }
  { ports = 0 }
  in_services && /--kafka-addr=/ { a = $2; sub(".*:", "", a); print svc "\tkafka_port\t" a }
' "$compose")
fact() { printf '%s\n' "$facts" | awk -F '\t' -v s="$1" -v k="$2" '$1 == s && $2 == k { print $3 }'; }
# The elements of a flow-style list `["a", "b"]`, one per line.
elements() { printf '%s\n' "$1" | sed 's/^\[//; s/\]$//' | sed 's/", "/\n/g' | sed 's/^"//; s/"$//'; }

health_port=$(grep -A2 'healthcheck:' "$compose" | grep -o '127.0.0.1:[0-9]*/healthz' | head -1 | sed 's/127.0.0.1://; s|/healthz||')
[ -n "$health_port" ] || fail "no tributary health check calling /healthz"
grep -q "^EXPOSE $health_port\$" "$dockerfile" || fail "Dockerfile does not EXPOSE $health_port"
grep -q "127.0.0.1:$health_port/healthz" "$dockerfile" || fail "Dockerfile HEALTHCHECK does not call port $health_port"

services=$(printf '%s\n' "$facts" | awk -F '\t' '$2 == "command" { print $1 }' | grep '^tributary' || true)
[ -n "$services" ] || fail "no tributary services in $compose"
top_help=$("$bin" --help)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for svc in $services; do
  args=$(elements "$(fact "$svc" command)")
  sub=$(printf '%s\n' "$args" | head -1)
  printf '%s\n' "$top_help" | grep -q "^  $sub " || { fail "$svc: \`tributary $sub\` is not a subcommand"; continue; }
  help=$("$bin" "$sub" --help)
  for flag in $(printf '%s\n' "$args" | grep '^--'); do
    printf '%s\n' "$help" | grep -q -- "$flag " || fail "$svc: \`tributary $sub\` has no $flag"
  done
  value() { printf '%s\n' "$args" | awk -v f="$1" 'prev == f { print; exit } { prev = $0 }'; }
  listen=$(value --listen); source=$(value --source)
  port=${listen##*:}
  published=$(fact "$svc" port)
  [ "${published##*:}" = "$port" ] || fail "$svc: listens on $port but publishes ${published:-nothing}"
  [ "$port" = "$health_port" ] || fail "$svc: listens on $port, the health check calls $health_port"
  case "$source" in
    kafka://*|mqtt://*)
      rest=${source#*://}; authority=${rest%%/*}; topic=${rest#*/}
      host=${authority%%:*}; broker_port=${authority##*:}
      case "$host" in
        redpanda) want=$(fact redpanda kafka_port) ;;
        mosquitto) want=$(awk '/^listener/ { print $2 }' "$here/mosquitto.conf") ;;
        *) want="" ;;
      esac
      [ -n "$want" ] && [ "$want" = "$broker_port" ] || fail "$svc: $source does not match a broker service's port (${want:-no service $host})"
      case "$source" in
        kafka://*) grep -q "\"kafka\", \"$authority\", \"$topic\"" "$compose" || fail "$svc: no producer for Kafka topic $topic" ;;
        mqtt://*) [ "$topic" = "sensors/+/reading" ] && grep -q '"mqtt", "mosquitto"' "$compose" \
                    && grep -q 'sensors/$id/reading' "$here/producer.sh" || fail "$svc: no producer for $topic" ;;
      esac ;;
  esac
  # The CLI must accept the exact arguments: run them (listen moved to loopback) briefly.
  # Still running after 3 s (exit 124) means parsed and started; 2 is a usage error.
  run_args=$(printf '%s\n' "$args" | sed "s|^$listen\$|127.0.0.1:0|; s|^/data\$|$tmp/$svc|")
  # shellcheck disable=SC2086
  set -- $run_args
  status=0
  timeout 3 "$bin" "$@" >"$tmp/$svc.log" 2>&1 || status=$?
  if [ "$status" = 124 ]; then
    ok "$svc: tributary $* starts"
  else
    fail "$svc: tributary $* exited with $status: $(tail -3 "$tmp/$svc.log")"
  fi
done

if docker compose version >/dev/null 2>&1; then
  docker compose -f "$compose" config -q && ok "docker compose config" || fail "docker compose config"
elif command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f "$compose" config -q && ok "docker-compose config" || fail "docker-compose config"
else
  echo "skipped: no docker compose CLI here, the file was not validated by compose"
fi

[ "$failures" = 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all compose checks passed"
