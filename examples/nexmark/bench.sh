#!/usr/bin/env bash
# Nexmark throughput for BENCHMARKS.md: each query RUNS times (default 5) on 1 and 2 workers,
# the median run's figures and the largest peak RSS (GNU time's "Maximum resident set size").
#
#   bash examples/nexmark/bench.sh [EVENTS] [QUERIES...]     # defaults: 10000000, all queries
#
# WORKERS="1 2" (default) picks the worker counts. Prints one markdown table row per
# (query, workers). Needs the release binary:
#   cargo build --release -p tributary-nexmark
set -euo pipefail
cd "$(dirname "$0")/../.."

events="${1:-10000000}"
shift || true
queries=("$@")
[ ${#queries[@]} -gt 0 ] || queries=(q0 q1 q2 q3 q4 q5 q7 q8)
runs="${RUNS:-5}"
bin="${CARGO_TARGET_DIR:-target}/release/tributary-nexmark"
[ -x "$bin" ] || { echo "build first: cargo build --release -p tributary-nexmark" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }

flink() {
  case "$1" in
    q0|q1|q2|q3) echo 163500 ;; q4) echo 34000 ;; q5) echo 22000 ;; q7) echo 12000 ;; q8) echo 146000 ;;
  esac
}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
for q in "${queries[@]}"; do
  for w in ${WORKERS:-1 2}; do
    seconds=()
    rss=0
    for _ in $(seq "$runs"); do
      line=$(/usr/bin/time -v "$bin" --query "$q" --events "$events" --workers "$w" 2>"$log")
      seconds+=("$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")")
      kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
      [ "$kb" -gt "$rss" ] && rss=$kb
    done
    median=$(printf '%s\n' "${seconds[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
    awk -v q="$q" -v w="$w" -v n="$events" -v s="$median" -v f="$(flink "$q")" -v rss="$rss" -v all="${seconds[*]}" 'BEGIN {
      rate = n / s; core = rate / w
      printf "| %s | %d | %d | %.2f s | %.0f K | %.0f K | %.1f× | %.0f MiB | %s |\n", q, w, n, s, rate / 1000, core / 1000, core / f, rss / 1024, all
    }'
  done
done
