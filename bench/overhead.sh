#!/usr/bin/env bash
# bench/overhead.sh: what propwatch costs a saturated HTTP/1.1 server.
#
# One A-B-A run on loopback: nginx (Debian's) serves a tiny static response
# and wrk drives it at saturation with W3C trace headers (traceparent,
# tracestate, ~100 B of baggage).
#
#   warm-up  wrk alone, BENCH_WARMUP_SECONDS (not measured)
#   A1       wrk alone                                   -> requests/s
#   B        wrk while `propwatch run` observes the host -> requests/s,
#            propwatch's CPU, peak RSS, its report
#   A2       wrk alone again                             -> requests/s
#
# and prints (stdout) and writes as JSON (BENCH_OUT, else
# bench/out/overhead-<UTC timestamp>.json):
#
#   ratio    B / mean(A1, A2). Ratios, not absolute times: A1 and A2 bracket
#            B so that drift of a noisy machine shows as A1 != A2.
#   cpu/10k  propwatch's own CPU (utime+stime from /proc/PID/stat) during
#            B's wrk run, per 10,000 requests. The eBPF programs run in the
#            context of the traced syscalls, so their cost is charged to
#            wrk and nginx, not here: it shows in the ratio (and with
#            BENCH_BPF_STATS=1, per program).
#   counted  requests the report puts on the wrk -> nginx pair / requests
#            wrk completed in B.
#   lost events, parse failures and peak RSS (VmHWM) of propwatch.
#
# A shared or virtual machine is noisy: the summary says when a phase
# overlapped other processes' CPU use (over 5% of the machine) or another
# propwatch capture (eBPF programs pw_* not loaded by this run, e.g. the
# loader's tests), which tax every syscall; A2/A1 shows drift that neither
# explains (a noisy host). Compare runs of the same build and repeat them.
#
# BENCH_PROTO=h2 measures cleartext HTTP/2 instead (h2c with prior
# knowledge): nginx listens with `http2`, and h2load (Debian's
# nghttp2-client) drives it with BENCH_H2_STREAMS concurrent streams on
# each connection and the same headers (from bench/wrk-request.lua). h2load
# prints no percentiles: the latency fields are its mean and max.
#
# BENCH_PROTO=https measures HTTP/1.1 over TLS: nginx listens with `ssl`
# (a self-signed P-256 certificate made with openssl in the temp dir) and
# wrk drives https:// with the same headers. Both link the system's libssl,
# so with TLS capture on (BENCH_TLS=auto, propwatch's default) the uprobes
# on SSL_write/SSL_read run in wrk and nginx: their cost shows in the
# ratio, not in propwatch's CPU. "counted" is then the requests on the
# wrk -> nginx pair that says tls: true; a wrk -> nginx pair without it
# would be ciphertext taken for requests, and is listed under other pairs.
# BENCH_TLS=off runs propwatch with --tls=off: nothing is attached to the
# TLS libraries, and over https nothing may be counted (the target is then
# 0 counted and no other pair). bench/rounds.sh with BENCH_TLS_MODES="auto
# off" runs both, interleaved.
#
# PASS/FAIL is printed against the targets (ratio >= 0.90, counted >= 99%),
# but the exit status is 0 whenever the benchmark itself ran: the numbers
# are for people, not a gate.
#
# Needs root (eBPF). Installs nginx-light, wrk and jq with apt-get when they
# are missing (and bpftool for BENCH_BPF_STATS=1). Only loopback traffic;
# every step is bounded in time; nginx, propwatch and the temp dir are
# cleaned up on any exit.
#
# Environment:
#   BENCH_PROTO=http1        http1 (wrk), h2 (h2load, h2c) or https (wrk, TLS)
#   BENCH_TLS=auto           auto: propwatch's default TLS capture; off: --tls=off
#   BENCH_H2_STREAMS=10      h2load -m: concurrent streams per connection
#   BENCH_SECONDS=10         length of each measured wrk run
#   BENCH_CONNECTIONS=50     wrk -c
#   BENCH_THREADS=2          wrk -t
#   BENCH_WARMUP_SECONDS=2   length of the warm-up run
#   BENCH_NGINX_WORKERS=auto nginx worker_processes
#   BENCH_ATTACH_TIMEOUT=60  seconds to wait for "capture attached"
#   BENCH_BPF_STATS=0        1: enable kernel.bpf_stats_enabled during B and
#                            report run_cnt / run_time_ns per eBPF program
#                            (the accounting itself costs some throughput)
#   BENCH_OUT                path of the JSON summary
#   BENCH_KEEP_TMP=0         1: keep the temp dir (configs, wrk output,
#                            propwatch's report and log) for a look after
#   PROPWATCH_ARGS           extra arguments for `propwatch run`
#                            (e.g. --ringbuf-bytes 33554432)
#   PROPWATCH_BIN            run this propwatch binary instead of building
#                            ./cmd/propwatch (to measure a patched build)
#   GO=go                    the Go toolchain
set -Eeuo pipefail

prog=overhead
log() { printf '%s: %s\n' "$prog" "$*" >&2; }
died=""
die() {
	log "error: $*"
	died=1
	exit 1
}
# Name the command that stopped the script when set -e did, not die.
failed=""
trap 'failed="line $LINENO: $BASH_COMMAND"' ERR

if [[ $(id -u) -ne 0 ]]; then
	echo "$prog: must run as root: propwatch attaches eBPF programs (try: sudo make bench-overhead)" >&2
	exit 1
fi

SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-50}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP_SECONDS:-2}
WORKERS=${BENCH_NGINX_WORKERS:-auto}
ATTACH_TIMEOUT=${BENCH_ATTACH_TIMEOUT:-60}
BPF_STATS=${BENCH_BPF_STATS:-0}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
PROTO=${BENCH_PROTO:-http1}
STREAMS=${BENCH_H2_STREAMS:-10}
[[ $PROTO == http1 || $PROTO == h2 || $PROTO == https ]] || die "BENCH_PROTO must be http1, h2 or https, not '$PROTO'"
TLS_MODE=${BENCH_TLS:-auto}
[[ $TLS_MODE == auto || $TLS_MODE == off ]] || die "BENCH_TLS must be auto or off, not '$TLS_MODE'"
GO=${GO:-go}
read -r -a PW_EXTRA <<<"${PROPWATCH_ARGS:-}"
# auto passes nothing: what propwatch does by default.
[[ $TLS_MODE == off ]] && PW_EXTRA+=(--tls=off)
for v in SECS CONNS THREADS WARMUP ATTACH_TIMEOUT STREAMS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[[ $WORKERS == auto || $WORKERS =~ ^[1-9][0-9]*$ ]] || die "BENCH_NGINX_WORKERS must be auto or a positive integer"
((CONNS >= THREADS)) || die "BENCH_CONNECTIONS must be at least BENCH_THREADS (wrk's rule)"

readonly TARGET_RATIO=0.90 TARGET_COUNTED=0.99
# wrk runs with this service name (propwatch names a process by
# OTEL_SERVICE_NAME), so its pair is told apart from any other wrk on the
# host. nginx rewrites its environment area with its process title, so it
# is named by its comm, "nginx".
# h2load likewise, as propwatch-bench-h2load; CLIENT is the driver's comm.
if [[ $PROTO == h2 ]]; then
	readonly WRK_SERVICE=propwatch-bench-h2load CLIENT=h2load LISTEN_OPTS=" http2"
elif [[ $PROTO == https ]]; then
	readonly WRK_SERVICE=propwatch-bench-wrk CLIENT=wrk LISTEN_OPTS=" ssl"
else
	readonly WRK_SERVICE=propwatch-bench-wrk CLIENT=wrk LISTEN_OPTS=""
fi
readonly NGINX_SERVICE=nginx
SCHEME=http
[[ $PROTO == https ]] && SCHEME=https
readonly SCHEME
# The Host of bench/wrk-request.lua, not resolvable (RFC 2606): a request
# whose server propwatch could not name shows under it.
readonly BENCH_HOST=propwatch-bench.invalid

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# --- state and cleanup ------------------------------------------------------

tmp="" nginx_pid="" pw_pid="" wrk_pid="" bpf_stats_old="" made_policy=""

# state PID: the process state letter, or X when it is gone (bash reaps
# its children as they exit and keeps their status for `wait`).
state() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo X; return; }
	s=${s##*) }
	echo "${s%% *}"
}

# wait_exit PID SECONDS: wait until the child PID has exited (zombie or
# gone), at most SECONDS; 1 on timeout.
wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		case $(state "$1") in Z | X) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

# stop PID SIGNAL SECONDS: signal a child, give it SECONDS, then SIGKILL,
# and reap it.
stop() {
	kill -s "$2" "$1" 2>/dev/null || true
	if ! wait_exit "$1" "$3"; then
		log "pid $1 ignored SIG$2 for $3s: killing it"
		kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	if ((rc != 0 && rc < 128)) && [[ -z $died && -n $failed ]]; then
		log "error: failed at $failed"
	fi
	[[ -n $wrk_pid ]] && stop "$wrk_pid" TERM 10
	[[ -n $pw_pid ]] && stop "$pw_pid" INT 20
	[[ -n $nginx_pid ]] && stop "$nginx_pid" QUIT 10
	[[ -n $bpf_stats_old ]] && sysctl -qw "kernel.bpf_stats_enabled=$bpf_stats_old"
	[[ -n $made_policy ]] && rm -f "$made_policy"
	if [[ -z $tmp ]]; then
		:
	elif [[ $KEEP_TMP == 1 ]]; then
		log "kept $tmp"
	else
		rm -rf "$tmp"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; died=1; exit 130' INT
trap 'log "terminated"; died=1; exit 143' TERM

# --- dependencies -----------------------------------------------------------

apt_install() {
	log "installing $* (apt-get)"
	# Debian's nginx package starts the system nginx on :80 from its postinst
	# unless policy-rc.d says no (Docker-style images already ship one):
	# the benchmark must leave no daemon behind.
	local policy=/usr/sbin/policy-rc.d rc=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=$policy
	fi
	{ DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"; } >&2 || rc=$?
	if [[ -n $made_policy ]]; then
		rm -f "$made_policy"
		made_policy=""
	fi
	return "$rc"
}

missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
if [[ $PROTO == h2 ]]; then
	command -v h2load >/dev/null || missing+=(nghttp2-client)
else
	command -v wrk >/dev/null || missing+=(wrk)
fi
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
if [[ $PROTO == https ]] && ! command -v openssl >/dev/null; then missing+=(openssl); fi
if [[ $BPF_STATS == 1 ]] && ! command -v bpftool >/dev/null; then missing+=(bpftool); fi
if ((${#missing[@]})); then
	# nginx-light is a transitional package on newer Debian: fall back to nginx.
	apt_install "${missing[@]}" ||
		apt_install "${missing[@]/nginx-light/nginx}" ||
		die "could not install ${missing[*]}"
fi
CLK_TCK=$(getconf CLK_TCK)
tmp=$(mktemp -d /tmp/propwatch-bench.XXXXXX)
MY_PGRP=$(awk '{sub(/^.*\) /, ""); print $3}' /proc/$$/stat)

# --- build ------------------------------------------------------------------

if [[ -n ${PROPWATCH_BIN:-} ]]; then
	[[ -x $PROPWATCH_BIN ]] || die "PROPWATCH_BIN=$PROPWATCH_BIN is not an executable"
	cp "$PROPWATCH_BIN" "$tmp/propwatch"
else
	command -v "$GO" >/dev/null || die "no Go toolchain ($GO) on PATH"
	log "building propwatch"
	"$GO" build -o "$tmp/propwatch" ./cmd/propwatch
fi
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $commit != unknown && -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
	commit+="-dirty"
fi
[[ -z ${PROPWATCH_BIN:-} ]] || commit="binary $PROPWATCH_BIN"
# The tree moves under uncommitted work: a digest of the binary tells two
# runs of the same build apart from runs of different ones.
build_digest=$(sha256sum "$tmp/propwatch" | cut -c1-12)

# --- nginx ------------------------------------------------------------------

# Everything nginx writes goes to $tmp: pid file, error log (-e: before the
# config is read), temp paths (else it creates /var/lib/nginx/*).
write_nginx_conf() {
	local tls=""
	if [[ $PROTO == https ]]; then
		tls="ssl_certificate $tmp/cert.pem;
        ssl_certificate_key $tmp/key.pem;"
	fi
	cat >"$tmp/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes $WORKERS;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log warn;
events {
    worker_connections $((CONNS * 2 + 256));
}
http {
    access_log off;
    client_body_temp_path $tmp/nginx-tmp/body;
    proxy_temp_path $tmp/nginx-tmp/proxy;
    fastcgi_temp_path $tmp/nginx-tmp/fastcgi;
    uwsgi_temp_path $tmp/nginx-tmp/uwsgi;
    scgi_temp_path $tmp/nginx-tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$1 default_server reuseport$LISTEN_OPTS;
        server_name _;
        $tls
        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
EOF
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_nginx() {
	local port i
	mkdir -p "$tmp/nginx-tmp"
	if [[ $PROTO == https && ! -e $tmp/cert.pem ]]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
			-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 \
			-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 || die "openssl could not make a certificate"
	fi
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		write_nginx_conf "$port"
		nginx -q -c "$tmp/nginx.conf" -p "$tmp" -e "$tmp/nginx-error.log" -t >/dev/null 2>&1 ||
			die "nginx rejects its config: $(nginx -c "$tmp/nginx.conf" -p "$tmp" -e "$tmp/nginx-error.log" -t 2>&1 | tail -3)"
		nginx -c "$tmp/nginx.conf" -p "$tmp" -e "$tmp/nginx-error.log" </dev/null >"$tmp/nginx.out" 2>&1 &
		nginx_pid=$!
		for ((i = 0; i < 50; i++)); do
			if [[ $(curl -fsS --max-time 1 $([[ $PROTO == h2 ]] && echo --http2-prior-knowledge) \
				$([[ $PROTO == https ]] && echo --cacert "$tmp/cert.pem") "$SCHEME://127.0.0.1:$port/" 2>/dev/null) == ok ]]; then
				PORT=$port
				return 0
			fi
			case $(state "$nginx_pid") in Z | X) break ;; esac
			sleep 0.1
		done
		stop "$nginx_pid" QUIT 5
		nginx_pid=""
		grep -q "Address already in use" "$tmp/nginx-error.log" 2>/dev/null ||
			die "nginx did not start: $(tail -3 "$tmp/nginx-error.log" 2>/dev/null)"
	done
	die "no free loopback port for nginx after 5 tries"
}

start_nginx
log "nginx on 127.0.0.1:$PORT ($WORKERS workers)"

# --- wrk --------------------------------------------------------------------

# The request (bench/wrk-request.lua, shared with bench/interleave.py).
cp "$root/bench/wrk-request.lua" "$tmp/headers.lua"
grep -q "\"$BENCH_HOST\"" "$tmp/headers.lua" || die "bench/wrk-request.lua does not send Host: $BENCH_HOST"
# h2load gets the same request as -H options (Host as :authority) and path.
H2_ARGS=()
while IFS=$'\t' read -r k v; do
	[[ $k == Host ]] && k=:authority
	H2_ARGS+=(-H "$k: $v")
done < <(sed -n 's/^wrk\.headers\["\([^"]*\)"\] = "\(.*\)"$/\1\t\2/p' "$tmp/headers.lua")
H2_PATH=$(sed -n 's/^wrk\.path = "\(.*\)"$/\1/p' "$tmp/headers.lua")
[[ $PROTO == http1 || (${#H2_ARGS[@]} -ge 8 && -n $H2_PATH) ]] || die "cannot read bench/wrk-request.lua's headers for h2load"

# to_us VALUE: a wrk duration (812.00us, 1.20ms, 2.00s, 1.00m) in µs.
to_us() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		f = (u == "us") ? 1 : (u == "ms") ? 1e3 : (u == "s") ? 1e6 : (u == "m") ? 6e7 : (u == "h") ? 3.6e9 : 0
		printf "%.1f", n * f
	}'
}

# run_wrk NAME SECONDS: one wrk run; sets REQS, RPS and the JSON of the
# phase in PHASE_JSON. It is bounded: wrk stops by itself after SECONDS,
# and timeout kills it if it does not.
run_wrk() {
	local name=$1 secs=$2 out="$tmp/wrk-$1.txt" foreign ft0 ft1 fshare
	foreign=$(foreign_captures)
	ft0=$(foreign_ticks)
	# In the background and waited for, so that a signal to this script is
	# acted on at once (cleanup stops wrk); --foreground keeps wrk in this
	# process group.
	if [[ $PROTO == h2 ]]; then
		run_h2load "$name" "$secs" "$out"
		return
	fi
	timeout --foreground -k 5 $((secs + 30)) \
		env -u OTEL_RESOURCE_ATTRIBUTES OTEL_SERVICE_NAME="$WRK_SERVICE" \
		wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency -s "$tmp/headers.lua" \
		"$SCHEME://127.0.0.1:$PORT/" >"$out" 2>&1 &
	wrk_pid=$!
	local rc=0
	wait "$wrk_pid" || rc=$?
	wrk_pid=""
	((rc == 0)) || die "wrk ($name) failed: $(tail -5 "$out")"
	ft1=$(foreign_ticks)
	case $(state "$nginx_pid") in Z | X) die "nginx exited during $name: $(tail -3 "$tmp/nginx-error.log")" ;; esac
	REQS=$(awk '/ requests in /{print $1; exit}' "$out")
	RPS=$(awk '/^Requests\/sec:/{print $2; exit}' "$out")
	[[ $REQS =~ ^[0-9]+$ && -n $RPS ]] || die "cannot read wrk's output ($name): $(cat "$out")"
	# wrk stops early, and still reports, when it is interrupted.
	local took
	took=$(to_us "$(awk '/ requests in /{sub(/,$/, "", $4); print $4; exit}' "$out")")
	awk -v t="$took" -v s="$secs" 'BEGIN {exit !(t >= s * 1e6 * 0.95)}' ||
		die "wrk ($name) ran $(awk -v t="$took" 'BEGIN {printf "%.2f", t / 1e6}')s of ${secs}s: interrupted?"
	local errors non2xx p50 p99
	errors=$(awk '/Socket errors:/{gsub(/,/, ""); print $4 + $6 + $8 + $10; exit}' "$out")
	non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF; exit}' "$out")
	p50=$(to_us "$(awk '$1 == "50%" {print $2; exit}' "$out")")
	p99=$(to_us "$(awk '$1 == "99%" {print $2; exit}' "$out")")
	errors=${errors:-0} non2xx=${non2xx:-0}
	if ((errors + non2xx > 0)); then
		log "warning: $name: $errors socket errors, $non2xx non-2xx responses"
	fi
	local after
	after=$(foreign_captures)
	foreign=$((after > foreign ? after : foreign))
	if ((foreign > 0)) && [[ $name != warm-up ]]; then
		log "warning: $name: $foreign eBPF programs of another propwatch capture were loaded: this phase is skewed"
		NOISY+=("$name: another capture loaded")
	fi
	# The share of the machine that other processes took during the run.
	fshare=$(awk -v t=$((ft1 - ft0)) -v s="$secs" -v n="$(nproc)" -v hz="$CLK_TCK" \
		'BEGIN {printf "%.3f", t / (s * n * hz)}')
	if [[ $name != warm-up ]] && awk -v f="$fshare" 'BEGIN {exit !(f > 0.05)}'; then
		log "warning: $name: other processes took $(awk -v f="$fshare" 'BEGIN {printf "%.0f", f * 100}')% of the CPU: this phase is skewed"
		NOISY+=("$name: other processes took $(awk -v f="$fshare" 'BEGIN {printf "%.0f", f * 100}')% of the CPU")
	fi
	PHASE_JSON=$(jq -n --argjson r "$REQS" --argjson rps "$RPS" --argjson e "$errors" \
		--argjson n "$non2xx" --argjson p50 "$p50" --argjson p99 "$p99" --argjson f "$foreign" \
		--argjson fs "$fshare" \
		'{requests: $r, requests_per_sec: $rps, socket_errors: $e, non_2xx: $n,
		  latency_p50_us: $p50, latency_p99_us: $p99,
		  other_processes_cpu_share: $fs, other_captures_loaded: $f}')
	log "$(printf '%-7s %10.0f req/s  (%d requests)' "$name" "$RPS" "$REQS")"
}

# run_h2load NAME SECONDS OUT: run_wrk for BENCH_PROTO=h2. h2load speaks
# h2c with prior knowledge to an http:// URI; -D runs for SECONDS. It sets
# what run_wrk sets, from h2load's summary lines:
#   finished in 10.00s, 123456.70 req/s, 4.71MB/s
#   requests: 1234567 total, 1234617 started, 1234567 done, 1234567 succeeded, 0 failed, 0 errored, 0 timeout
#   time for request:   153us  41.73ms   3.93ms   2.01ms  87.39%
run_h2load() {
	local name=$1 secs=$2 out=$3 foreign ft0 ft1 fshare rc=0
	foreign=$(foreign_captures)
	ft0=$(foreign_ticks)
	timeout --foreground -k 5 $((secs + 30)) \
		env -u OTEL_RESOURCE_ATTRIBUTES OTEL_SERVICE_NAME="$WRK_SERVICE" \
		h2load -t"$THREADS" -c"$CONNS" -m"$STREAMS" -D"$secs" "${H2_ARGS[@]}" \
		"http://127.0.0.1:$PORT$H2_PATH" >"$out" 2>&1 &
	wrk_pid=$!
	wait "$wrk_pid" || rc=$?
	wrk_pid=""
	((rc == 0)) || die "h2load ($name) failed: $(tail -5 "$out")"
	ft1=$(foreign_ticks)
	case $(state "$nginx_pid") in Z | X) die "nginx exited during $name: $(tail -3 "$tmp/nginx-error.log")" ;; esac
	REQS=$(awk '/^requests: /{print $6; exit}' "$out")
	RPS=$(awk '/^finished in /{print $4; exit}' "$out")
	[[ $REQS =~ ^[0-9]+$ && -n $RPS ]] || die "cannot read h2load's output ($name): $(cat "$out")"
	local errors non2xx mean max
	errors=$(awk '/^requests: /{print $12 + $14 + $16; exit}' "$out")
	non2xx=$(awk '/^status codes: /{print $5 + $7 + $9; exit}' "$out")
	mean=$(to_us "$(awk '/^time for request:/{print $6; exit}' "$out")")
	max=$(to_us "$(awk '/^time for request:/{print $5; exit}' "$out")")
	errors=${errors:-0} non2xx=${non2xx:-0}
	if ((errors + non2xx > 0)); then
		log "warning: $name: $errors failed or errored requests, $non2xx non-2xx responses"
	fi
	local after
	after=$(foreign_captures)
	foreign=$((after > foreign ? after : foreign))
	if ((foreign > 0)) && [[ $name != warm-up ]]; then
		log "warning: $name: $foreign eBPF programs of another propwatch capture were loaded: this phase is skewed"
		NOISY+=("$name: another capture loaded")
	fi
	fshare=$(awk -v t=$((ft1 - ft0)) -v s="$secs" -v n="$(nproc)" -v hz="$CLK_TCK" \
		'BEGIN {printf "%.3f", t / (s * n * hz)}')
	if [[ $name != warm-up ]] && awk -v f="$fshare" 'BEGIN {exit !(f > 0.05)}'; then
		log "warning: $name: other processes took $(awk -v f="$fshare" 'BEGIN {printf "%.0f", f * 100}')% of the CPU: this phase is skewed"
		NOISY+=("$name: other processes took $(awk -v f="$fshare" 'BEGIN {printf "%.0f", f * 100}')% of the CPU")
	fi
	# No percentiles from h2load: its mean and max stand in p50's and p99's fields.
	PHASE_JSON=$(jq -n --argjson r "$REQS" --argjson rps "$RPS" --argjson e "$errors" \
		--argjson n "$non2xx" --argjson p50 "$mean" --argjson p99 "$max" --argjson f "$foreign" \
		--argjson fs "$fshare" \
		'{requests: $r, requests_per_sec: $rps, socket_errors: $e, non_2xx: $n,
		  latency_p50_us: $p50, latency_p99_us: $p99, latency_is_mean_max: true,
		  other_processes_cpu_share: $fs, other_captures_loaded: $f}')
	log "$(printf '%-7s %10.0f req/s  (%d requests)' "$name" "$RPS" "$REQS")"
}

# --- propwatch --------------------------------------------------------------

# cpu_ticks PID: utime + stime of the process, in clock ticks. Fields 14 and
# 15 of /proc/PID/stat, counted after the ")" that ends comm (which may
# hold spaces).
cpu_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	# shellcheck disable=SC2086 # split on purpose
	set -- $s
	(($# >= 13)) || return 1
	echo $((${12} + ${13}))
}

# bpf_snapshot: run_cnt and run_time_ns of propwatch's eBPF programs, as a
# JSON object keyed by program name. The programs are the ones whose fds
# propwatch holds (/proc/PID/fdinfo has prog_id and the counters), so that
# another capture loaded on the host (a test) is not mixed in; bpftool only
# names them.
bpf_snapshot() {
	local names info
	names=$(bpftool prog show --json 2>/dev/null) || names='[]'
	# A program's fdinfo has run_cnt; a link's has prog_id too, but not that.
	info=$(cat "/proc/$pw_pid/fdinfo/"* 2>/dev/null) || true
	awk '/^pos:/ { out() }
		/^prog_id:/ { id = $2 }
		/^run_time_ns:/ { rt = $2 }
		/^run_cnt:/ { rc = $2 }
		function out() { if (rc != "" && id != "") print id, rt + 0, rc + 0; id = ""; rt = 0; rc = "" }
		END { out() }' <<<"$info" |
		jq -R -s --argjson progs "$names" '
			($progs | map({key: (.id | tostring), value: .name}) | from_entries) as $names
			| split("\n") | map(select(length > 0) | split(" "))
			| map({key: ($names[.[0]] // ("prog " + .[0])),
			       value: {run_time_ns: (.[1] | tonumber), run_cnt: (.[2] | tonumber)}})
			| from_entries'
}

# foreign_captures: how many eBPF programs named pw_* are loaded by anything
# but this run's propwatch (another propwatch, the loader's tests): they tax
# every syscall and skew the phase they overlap. Needs bpftool; 0 without.
foreign_captures() {
	local progs ours="" n
	command -v bpftool >/dev/null || { echo 0; return; }
	progs=$(bpftool prog show --json 2>/dev/null) || { echo 0; return; }
	if [[ -n $pw_pid ]]; then
		ours=$(cat "/proc/$pw_pid/fdinfo/"* 2>/dev/null) || true
	fi
	n=$(awk '/^prog_id:/ { print $2 }' <<<"$ours" |
		jq -s --argjson progs "$progs" '. as $ours
			| [$progs[] | select((.name // "") | startswith("pw_")) | select(.id as $i | $ours | index($i) | not)]
			| length') || n=0
	echo "$n"
}

# foreign_ticks: CPU ticks used so far by processes that are not this
# benchmark's: every process outside its process group (nginx, wrk and
# propwatch are in it), plus what their reaped children used (cutime and
# cstime), so that short-lived processes such as test binaries count too.
# Kernel threads (pgrp 0) are left out: they do the softirq work of the
# benchmark's own traffic. Processes come and go while /proc is read:
# whatever could be read counts.
foreign_ticks() {
	local stats
	stats=$(cat /proc/[0-9]*/stat 2>/dev/null) || true
	awk -v me="$MY_PGRP" '{
		s = $0; sub(/^.*\) /, "", s); split(s, f, " ")
		if (f[3] != me && f[3] != 0) t += f[12] + f[13] + f[14] + f[15]
	} END { printf "%d\n", t }' <<<"$stats"
}

# busy_share SECONDS: the share of the machine's CPU time in use over
# SECONDS, from /proc/stat (idle and iowait count as idle).
busy_share() {
	local a b
	a=$(head -1 /proc/stat)
	sleep "$1"
	b=$(head -1 /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN {
		n = split(a, x); split(b, y); t = 0
		for (i = 2; i <= n; i++) t += y[i] - x[i]
		idle = (y[5] - x[5]) + (y[6] - x[6])
		printf "%.2f", (t > 0) ? 1 - idle / t : 0
	}'
}

run_propwatch_phase() {
	local report="$tmp/report.json" i t rc=0
	if [[ $BPF_STATS == 1 ]]; then
		bpf_stats_old=$(sysctl -n kernel.bpf_stats_enabled)
		sysctl -qw kernel.bpf_stats_enabled=1
	fi
	"$tmp/propwatch" run --quiet --report "$report" "${PW_EXTRA[@]}" \
		</dev/null >"$tmp/propwatch.out" 2>"$tmp/propwatch.err" &
	pw_pid=$!
	for ((i = 0; i < ATTACH_TIMEOUT * 10; i++)); do
		grep -q 'capture attached' "$tmp/propwatch.err" && break
		case $(state "$pw_pid") in Z | X)
			wait "$pw_pid" || true
			pw_pid=""
			die "propwatch exited before attaching: $(tail -5 "$tmp/propwatch.err")"
			;;
		esac
		sleep 0.1
	done
	grep -q 'capture attached' "$tmp/propwatch.err" ||
		die "propwatch did not log \"capture attached\" within ${ATTACH_TIMEOUT}s"
	log "propwatch attached (pid $pw_pid)"

	local bpf0="{}" bpf1="{}" cpu0 cpu1 cpu2
	[[ $BPF_STATS == 1 ]] && bpf0=$(bpf_snapshot)
	cpu0=$(cpu_ticks "$pw_pid")
	run_wrk B "$SECS"
	cpu1=$(cpu_ticks "$pw_pid")
	PW_HWM_KB=$(awk '/^VmHWM:/{print $2}' "/proc/$pw_pid/status")
	[[ $BPF_STATS == 1 ]] && bpf1=$(bpf_snapshot)

	# Stop it the way an operator does: it detaches, drains the ring buffer,
	# names what is queued and writes the report. Its CPU time is sampled
	# until it is gone, to see what that drain cost (to within 0.1s).
	kill -INT "$pw_pid"
	cpu2=$cpu1
	for ((i = 0; i < 600; i++)); do
		t=$(cpu_ticks "$pw_pid") || break
		cpu2=$t
		sleep 0.1
	done
	wait_exit "$pw_pid" 1 || die "propwatch did not exit within 60s of SIGINT"
	wait "$pw_pid" || rc=$?
	pw_pid=""
	((rc == 0)) || die "propwatch exited with status $rc: $(tail -5 "$tmp/propwatch.err")"
	[[ -s $report ]] || die "propwatch wrote no report"
	# The kernel frees a program after an RCU grace period, not at the
	# exit of the process that held it: let that pass before A2.
	for ((i = 0; i < 50; i++)); do
		(($(foreign_captures) == 0)) && break
		sleep 0.1
	done
	if [[ -n $bpf_stats_old ]]; then
		sysctl -qw "kernel.bpf_stats_enabled=$bpf_stats_old"
		bpf_stats_old=""
	fi

	PW_CPU=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')
	PW_DRAIN_CPU=$(awk -v t=$((cpu2 - cpu1)) -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}')
	BPF_JSON=null
	if [[ $BPF_STATS == 1 ]]; then
		BPF_JSON=$(jq -n --argjson a "$bpf0" --argjson b "$bpf1" '
			[ $b | to_entries[]
			  | {program: .key,
			     calls: (.value.run_cnt - ($a[.key].run_cnt // 0)),
			     run_time_ns: (.value.run_time_ns - ($a[.key].run_time_ns // 0))}
			  | select(.calls > 0)
			  | .ns_per_call = ((.run_time_ns / .calls) | floor) ]
			| sort_by(-.run_time_ns)')
	fi
}

# --- the run ----------------------------------------------------------------

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
NOISY=()
BUSY=$(busy_share 1)
if awk -v b="$BUSY" 'BEGIN {exit !(b > 0.15)}'; then
	log "warning: $(awk -v b="$BUSY" 'BEGIN {print b * 100}')% of the CPU was in use before the run: expect noisy numbers"
	NOISY+=("busy before the run")
fi
DRIVER="wrk -t$THREADS -c$CONNS"
[[ $PROTO == h2 ]] && DRIVER="h2load -t$THREADS -c$CONNS -m$STREAMS (h2c)"
[[ $PROTO == https ]] && DRIVER="wrk -t$THREADS -c$CONNS (https)"
DRIVER+=", tls capture $TLS_MODE"
log "A-B-A: ${SECS}s per phase, $DRIVER, warm-up ${WARMUP}s"
run_wrk warm-up "$WARMUP"
run_wrk A1 "$SECS"
A1_RPS=$RPS A1_JSON=$PHASE_JSON
run_propwatch_phase
B_RPS=$RPS B_REQS=$REQS B_JSON=$PHASE_JSON
run_wrk A2 "$SECS"
A2_RPS=$RPS A2_JSON=$PHASE_JSON
stop "$nginx_pid" QUIT 10
nginx_pid=""

# --- summary ----------------------------------------------------------------

report="$tmp/report.json"
# The wrk -> nginx pair. Propwatch counts a loopback request once, from
# whichever end it sees first, and names the other end by the process that
# owns it; wrk is named by OTEL_SERVICE_NAME, or by its comm if its
# environment could not be read. propwatch starts after the warm-up and A1
# and stops before A2, on connections wrk opens in B, so nothing of the
# other phases is in the report. Over https only the pair that says
# tls: true counts.
TLS_JSON=$([[ $PROTO == https ]] && echo true || echo false)
COUNTED=$(jq --arg w "$WRK_SERVICE" --arg c "$CLIENT" --arg n "$NGINX_SERVICE" --argjson tls "$TLS_JSON" \
	'[.pairs[] | select((.source == $w or .source == $c) and .destination == $n and (($tls | not) or .tls == true))
	 | .requests] | add // 0' "$report")
# Benchmark requests on another pair: one end was not named (it shows as an
# address or as $BENCH_HOST), or, over https, the pair does not say tls:
# true (ciphertext counted as requests). They are not in COUNTED.
OTHER_PAIRS=$(jq -c --arg w "$WRK_SERVICE" --arg c "$CLIENT" --arg n "$NGINX_SERVICE" --arg h "$BENCH_HOST" \
	--argjson tls "$TLS_JSON" '
	[.pairs[] | select(((.source == $w or .source == $c) and .destination != $n)
	                   or (.destination == $n and .source != $w and .source != $c)
	                   or .destination == $h
	                   or ($tls and (.source == $w or .source == $c) and .destination == $n and .tls != true))
	          | {source, destination, requests, tls}]' "$report")
LOST=$(jq '.lost_events' "$report")
LOST_BY=$(jq -c '.lost_by_reason' "$report")
FAILURES=$(jq -c '.parse_failures' "$report")

# Share counted: wrk counts the responses it completed, propwatch the
# requests it saw sent or received. When B's wrk run ends, up to one request
# per connection has been sent (and counted by propwatch) but its response
# not read by wrk, so the share may exceed 100% by up to
# BENCH_CONNECTIONS / requests.
read -r RATIO CPU10K SHARE CPU_CORE < <(awk -v a1="$A1_RPS" -v b="$B_RPS" -v a2="$A2_RPS" \
	-v cpu="$PW_CPU" -v reqs="$B_REQS" -v counted="$COUNTED" -v secs="$SECS" 'BEGIN {
	printf "%.3f %.4f %.4f %.3f\n", b / ((a1 + a2) / 2), (reqs ? cpu / reqs * 10000 : 0),
		(reqs ? counted / reqs : 0), cpu / secs
}')
DRIFT=$(awk -v a1="$A1_RPS" -v a2="$A2_RPS" 'BEGIN {printf "%.3f", a2 / a1}')
RATIO_OK=$(awk -v r="$RATIO" -v t="$TARGET_RATIO" 'BEGIN {print (r >= t) ? "true" : "false"}')
COUNTED_OK=$(awk -v r="$SHARE" -v t="$TARGET_COUNTED" 'BEGIN {print (r >= t) ? "true" : "false"}')
COUNTED_TARGET=$(awk -v t="$TARGET_COUNTED" 'BEGIN {printf ">= %.0f%%", t * 100}')
TARGET_COUNTED_JSON=$TARGET_COUNTED
if [[ $PROTO == https && $TLS_MODE == off ]]; then
	# Nothing is readable: any request counted, on any pair, is ciphertext
	# taken for one.
	COUNTED_TARGET="0 (tls off)"
	TARGET_COUNTED_JSON=0
	COUNTED_OK=$([[ $COUNTED == 0 && $OTHER_PAIRS == "[]" ]] && echo true || echo false)
fi
verdict() { [[ $1 == true ]] && echo PASS || echo FAIL; }

summary=$(
	printf 'propwatch overhead (%s, build %s, %s, %s CPUs, nginx %s workers, %s, %ss per phase)\n' \
		"$commit" "$build_digest" "$(uname -r)" "$(nproc)" "$WORKERS" "$DRIVER" "$SECS"
	printf '  A1 without propwatch   %10.0f req/s\n' "$A1_RPS"
	printf '  B  with propwatch      %10.0f req/s\n' "$B_RPS"
	printf '  A2 without propwatch   %10.0f req/s   (A2/A1 %s: drift of the machine)\n' "$A2_RPS" "$DRIFT"
	printf '  ratio B/mean(A1,A2)    %10s         target >= %s   %s\n' "$RATIO" "$TARGET_RATIO" "$(verdict "$RATIO_OK")"
	printf '  counted                %10s / %s = %.2f%%   target %s   %s\n' \
		"$COUNTED" "$B_REQS" "$(awk -v s="$SHARE" 'BEGIN {print s * 100}')" \
		"$COUNTED_TARGET" "$(verdict "$COUNTED_OK")"
	[[ $OTHER_PAIRS == "[]" ]] || printf '  on other pairs         %s\n' "$OTHER_PAIRS"
	printf '  propwatch CPU          %10s s per 10k requests (%s s in B, %.0f%% of a core; %s s more to drain and stop)\n' \
		"$CPU10K" "$PW_CPU" "$(awk -v c="$CPU_CORE" 'BEGIN {print c * 100}')" "$PW_DRAIN_CPU"
	printf '  lost events            %10s   %s\n' "$LOST" "$LOST_BY"
	[[ $FAILURES == "{}" ]] || printf '  parse failures         %s\n' "$FAILURES"
	((${#NOISY[@]} == 0)) || printf '  noisy                  %s\n' "$(IFS=';'; echo "${NOISY[*]}")"
	printf '  peak RSS (VmHWM)       %10.1f MiB\n' "$(awk -v k="$PW_HWM_KB" 'BEGIN {print k / 1024}')"
	if [[ $BPF_JSON != null ]]; then
		printf '  eBPF programs (bpf_stats on during B: B is slowed by the accounting)\n'
		jq -r --argjson reqs "$B_REQS" '.[] | "    \(.program | .+ " " * (16 - length)) \(.calls) calls  \(.ns_per_call) ns/call  \((.run_time_ns / $reqs) | floor) ns/request"' <<<"$BPF_JSON"
		jq -r --argjson reqs "$B_REQS" '"    total            \((map(.run_time_ns) | add // 0) / $reqs | floor) ns per request"' <<<"$BPF_JSON"
	fi
)
echo "$summary"

out=${BENCH_OUT:-$root/bench/out/overhead-$(date -u +%Y%m%dT%H%M%SZ).json}
mkdir -p "$(dirname "$out")"
jq -n \
	--arg started "$started" --arg commit "$commit" --arg build "$build_digest" --arg kernel "$(uname -r)" \
	--argjson cpus "$(nproc)" --arg workers "$WORKERS" --argjson busy "$BUSY" \
	--argjson noisy "$(printf '%s\n' "${NOISY[@]}" | jq -R -s -c 'split("\n") | map(select(length > 0))')" \
	--argjson secs "$SECS" --argjson conns "$CONNS" --argjson threads "$THREADS" \
	--argjson warmup "$WARMUP" --arg proto "$PROTO" --arg tls "$TLS_MODE" --argjson streams "$STREAMS" --argjson bpf_stats "$([[ $BPF_STATS == 1 ]] && echo true || echo false)" \
	--argjson a1 "$A1_JSON" --argjson b "$B_JSON" --argjson a2 "$A2_JSON" \
	--argjson ratio "$RATIO" --argjson drift "$DRIFT" \
	--argjson cpu "$PW_CPU" --argjson cpu10k "$CPU10K" --argjson drain "$PW_DRAIN_CPU" \
	--argjson hwm "$PW_HWM_KB" --argjson lost "$LOST" --argjson lost_by "$LOST_BY" \
	--argjson failures "$FAILURES" --argjson counted "$COUNTED" --argjson share "$SHARE" \
	--argjson other "$OTHER_PAIRS" --argjson bpf "$BPF_JSON" \
	--argjson tr "$TARGET_RATIO" --argjson tc "$TARGET_COUNTED_JSON" \
	--argjson ratio_ok "$RATIO_OK" --argjson counted_ok "$COUNTED_OK" \
	'{schema: "propwatch.bench.overhead/v1", started: $started, commit: $commit, build_sha256: $build,
	  machine: {kernel: $kernel, cpus: $cpus, busy_before_run: $busy, noisy: $noisy},
	  config: {protocol: $proto, tls_capture: $tls, h2_streams: $streams, seconds: $secs, connections: $conns, threads: $threads, warmup_seconds: $warmup,
	           nginx_workers: $workers, bpf_stats: $bpf_stats},
	  phases: {a1: $a1, b: $b, a2: $a2},
	  ratio: $ratio, drift_a2_over_a1: $drift,
	  propwatch: {cpu_seconds: $cpu, cpu_seconds_per_10k_requests: $cpu10k,
	              drain_cpu_seconds: $drain, peak_rss_kib: $hwm,
	              lost_events: $lost, lost_by_reason: $lost_by, parse_failures: $failures},
	  counted: {requests: $counted, wrk_requests: $b.requests, share: $share, other_pairs: $other},
	  bpf_programs: $bpf,
	  targets: {ratio: $tr, counted_share: $tc},
	  pass: {ratio: $ratio_ok, counted: $counted_ok}}' >"$out"
log "wrote $out"
