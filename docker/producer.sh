#!/bin/sh
# Sample sensor readings for the compose stack: JSON lines, one reading per sensor per
# tick, published to MQTT (`sensors/<id>/reading`) or produced to a Kafka topic.
#
#   producer.sh mqtt HOST PORT         (needs mosquitto_pub: the eclipse-mosquitto image)
#   producer.sh kafka BROKERS TOPIC    (needs rpk: the Redpanda image)
#
# SENSORS (default 20) and INTERVAL (seconds between ticks, default 1) tune the load.
set -eu
mode=${1:?usage: producer.sh mqtt HOST PORT | kafka BROKERS TOPIC}
sensors=${SENSORS:-20}
interval=${INTERVAL:-1}

tick() {
  # Epoch milliseconds from whole seconds: busybox date has no %N.
  now=$(( $(date +%s) * 1000 ))
  i=0
  while [ "$i" -lt "$sensors" ]; do
    # A baseline per sensor plus a small wobble; every 97th tick sensor 3 spikes.
    value=$(( 20 + i % 10 + (now / 1000 + i) % 3 ))
    if [ "$i" -eq 3 ] && [ $(( now / 1000 % 97 )) -eq 0 ]; then value=$(( value + 40 )); fi
    printf '%s %s\n' "$i" "{\"sensor_id\": $i, \"ts\": $now, \"value\": $value.0}"
    i=$(( i + 1 ))
  done
}

case "$mode" in
  mqtt)
    host=${2:?host}; port=${3:?port}
    while true; do
      tick | while read -r id json; do
        mosquitto_pub -h "$host" -p "$port" -q 1 -t "sensors/$id/reading" -m "$json"
      done
      sleep "$interval"
    done ;;
  kafka)
    brokers=${2:?brokers}; topic=${3:?topic}
    rpk topic create "$topic" --brokers "$brokers" >/dev/null 2>&1 || true
    while true; do
      tick | cut -d' ' -f2- | rpk topic produce "$topic" --brokers "$brokers" >/dev/null
      sleep "$interval"
    done ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
