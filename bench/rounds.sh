#!/usr/bin/env bash
# bench/rounds.sh: bench/overhead.sh BENCH_ROUNDS times (default 5), then
# the spread of the throughput ratio: one A-B-A run on a shared 2-core VM
# moves by +-0.03, more than most single changes to the capture, so compare
# builds by the median of several rounds, run back to back.
#
# Environment: BENCH_ROUNDS, and everything bench/overhead.sh takes
# (PROPWATCH_BIN to measure a given binary, BENCH_PROTO=h2 for HTTP/2 with
# h2load, BENCH_SECONDS, ...). Each round
# writes its JSON to bench/out/ as overhead.sh does; this prints one line
# per round and the summary, and writes nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${BENCH_ROUNDS:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "rounds: BENCH_ROUNDS=$rounds is not a positive number" >&2; exit 2; }
mkdir -p bench/out
dir=$(mktemp -d /tmp/propwatch-rounds.XXXXXX)
trap 'rm -rf "$dir"' EXIT

for ((i = 1; i <= rounds; i++)); do
	if ! BENCH_OUT="$dir/round-$i.json" bash bench/overhead.sh >/dev/null 2>"$dir/round-$i.log"; then
		tail -5 "$dir/round-$i.log" >&2
		exit 1
	fi
	cp "$dir/round-$i.json" "bench/out/overhead-round-$(date -u +%Y%m%dT%H%M%SZ)-$i.json"
	jq -r --arg i "$i" '"round \($i): ratio \(.ratio)  counted \(.counted.share)  cpu/10k \(.propwatch.cpu_seconds_per_10k_requests)  lost \(.propwatch.lost_events)\(if (.machine.noisy | length) > 0 then "  noisy: " + (.machine.noisy | join("; ")) else "" end)"' "$dir/round-$i.json"
done
jq -s -r '
	(map(.ratio) | sort) as $r
	| ($r | length) as $n
	| (if $n % 2 == 1 then $r[($n - 1) / 2] else ($r[$n / 2 - 1] + $r[$n / 2]) / 2 end) as $median
	| "ratio over \($n) rounds: min \($r[0])  median \($median * 1000 | round / 1000)  max \($r[-1])  (target \(.[0].targets.ratio))"' "$dir"/round-*.json
