#!/usr/bin/env bash
# bench/rounds.sh: bench/overhead.sh BENCH_ROUNDS times (default 5), then
# the spread of the throughput ratio: one A-B-A run on a shared 2-core VM
# moves by +-0.03, more than most single changes to the capture, so compare
# builds by the median of several rounds, run back to back.
#
# Environment: BENCH_ROUNDS; BENCH_TLS_MODES, a list of BENCH_TLS values
# ("auto off"): each round runs overhead.sh once per mode, one after the
# other, and the summary gives each mode's median, so that TLS capture on
# and off are measured interleaved, on the same state of the machine
# (default: BENCH_TLS, else auto alone); and everything bench/overhead.sh
# takes (PROPWATCH_BIN to measure a given binary, BENCH_PROTO=h2 for
# HTTP/2 with h2load, BENCH_PROTO=https for wrk over TLS, BENCH_SECONDS,
# ...). Each run writes its JSON to bench/out/ as overhead.sh does; this
# prints one line per run and the summary, and writes nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${BENCH_ROUNDS:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "rounds: BENCH_ROUNDS=$rounds is not a positive number" >&2; exit 2; }
read -r -a modes <<<"${BENCH_TLS_MODES:-${BENCH_TLS:-auto}}"
((${#modes[@]})) || { echo "rounds: BENCH_TLS_MODES is empty" >&2; exit 2; }
for m in "${modes[@]}"; do
	[[ $m == auto || $m == off ]] || { echo "rounds: BENCH_TLS_MODES: '$m' is not auto or off" >&2; exit 2; }
done
mkdir -p bench/out
dir=$(mktemp -d /tmp/propwatch-rounds.XXXXXX)
trap 'rm -rf "$dir"' EXIT

for ((i = 1; i <= rounds; i++)); do
	for m in "${modes[@]}"; do
		run="round-$i-tls-$m"
		if ! BENCH_TLS=$m BENCH_OUT="$dir/$run.json" bash bench/overhead.sh >/dev/null 2>"$dir/$run.log"; then
			tail -5 "$dir/$run.log" >&2
			exit 1
		fi
		cp "$dir/$run.json" "bench/out/overhead-$(date -u +%Y%m%dT%H%M%SZ)-$run.json"
		jq -r --arg i "$i" --arg m "$m" '"round \($i) tls \($m): ratio \(.ratio)  counted \(.counted.share)  cpu/10k \(.propwatch.cpu_seconds_per_10k_requests)  lost \(.propwatch.lost_events)\(if (.machine.noisy | length) > 0 then "  noisy: " + (.machine.noisy | join("; ")) else "" end)"' "$dir/$run.json"
	done
done
for m in "${modes[@]}"; do
	jq -s -r --arg m "$m" '
		(map(.ratio) | sort) as $r
		| ($r | length) as $n
		| (if $n % 2 == 1 then $r[($n - 1) / 2] else ($r[$n / 2 - 1] + $r[$n / 2]) / 2 end) as $median
		| (map(.propwatch.cpu_seconds_per_10k_requests) | sort) as $c
		| (if $n % 2 == 1 then $c[($n - 1) / 2] else ($c[$n / 2 - 1] + $c[$n / 2]) / 2 end) as $cpu
		| "\(.[0].config.protocol) tls \($m): ratio over \($n) rounds: min \($r[0])  median \($median * 1000 | round / 1000)  max \($r[-1])  (target \(.[0].targets.ratio)); propwatch cpu/10k median \($cpu)"' "$dir"/round-*-tls-"$m".json
done
