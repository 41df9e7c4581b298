# propwatch build and test entry points. `make test` is the command the README
# and CI run; everything else is for development.

GO       ?= go
PKGS     ?= ./...
FUZZTIME ?= 2m
BIN      := bin/propwatch

.PHONY: all build test bench fuzz lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/propwatch

# The test command of the README and of .ci/run: vet, then every test. Tests
# that need root and eBPF skip when they cannot run, unless
# PROPWATCH_REQUIRE_BPF=1 (CI sets it) turns the skip into a failure.
# -p 1: the eBPF tests of different packages observe the whole host, so
# running them side by side would make each see the other's programs and
# traffic.
test:
	$(GO) vet $(PKGS)
	$(GO) test -p 1 -count=1 $(PKGS)

# The kernel matrix: boots each kernel of kernels/matrix.txt (Debian 12's
# 6.1 and 6.12 cloud kernels, amd64 and arm64, pinned by version) under
# QEMU with software emulation, runs the eBPF test binaries and each hook
# set of propwatch in it as root, and prints one line per kernel and a
# kernel x hook set table; fails unless every kernel passes. Root on
# Debian: it installs qemu, busybox-static, kcat and cpio if missing. The
# host kernel is `make test`. About 8 minutes on 2 cores (two guests at a
# time, 3.5 to 4.5 minutes each); see kernels/run.sh for the knobs.
# kube-apiserver for the tests' Kubernetes control plane
# (internal/kubetest), built from the Go module proxy into
# $${PROPWATCH_CACHE:-/var/cache/propwatch} unless it is there; etcd and
# kubectl come from Debian (etcd-server, kubectl). About 5 minutes on 2
# cores the first time. Without them the tests that need a control plane
# skip, unless PROPWATCH_REQUIRE_KUBE=1 (.ci/run sets it for make test).
.PHONY: kube-apiserver
kube-apiserver:
	GO=$(GO) bash kube/controlplane.sh build

.PHONY: test-kernels
test-kernels:
	GO=$(GO) bash kernels/run.sh

# Benchmarks. `make bench` runs both kinds, one after the other (never in
# parallel, even under -j: the overhead benchmark needs the machine to itself):
#   bench-go        hot-path Go micro-benchmarks with allocation counts
#   bench-overhead  bench/overhead.sh, as root: nginx on loopback driven by wrk
#                   with trace headers, A-B-A without, with and again without
#                   propwatch; prints the throughput ratio, propwatch's CPU per
#                   10k requests, the share of requests counted, lost events
#                   and peak RSS (PASS/FAIL against ratio >= 0.90 and counted
#                   >= 99%, exit 0 either way) and writes them as JSON to
#                   bench/out/. Knobs: BENCH_SECONDS, BENCH_CONNECTIONS,
#                   BENCH_THREADS, BENCH_BPF_STATS=1, ... (see the script).
.PHONY: bench-go bench-overhead
bench:
	@$(MAKE) --no-print-directory bench-go
	@$(MAKE) --no-print-directory bench-overhead

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

bench-overhead:
	GO=$(GO) bash bench/overhead.sh

# bench/overhead.sh BENCH_ROUNDS times (default 5) and the median ratio: the
# way to compare two builds on a noisy machine. The -h2 targets measure
# cleartext HTTP/2 instead: nginx with `listen ... http2` driven by h2load
# (nghttp2-client) with the same trace headers (BENCH_PROTO=h2). The -tls
# targets measure HTTP/1.1 over TLS: nginx with `listen ... ssl` driven by
# wrk over https:// (BENCH_PROTO=https); bench-rounds-tls runs each round
# with TLS capture on (propwatch's default) and off (--tls=off),
# interleaved, and gives the median of each (BENCH_TLS_MODES="auto off").
.PHONY: bench-rounds bench-overhead-h2 bench-rounds-h2 bench-overhead-tls bench-rounds-tls
bench-rounds:
	GO=$(GO) bash bench/rounds.sh

bench-overhead-h2:
	BENCH_PROTO=h2 GO=$(GO) bash bench/overhead.sh

bench-rounds-h2:
	BENCH_PROTO=h2 GO=$(GO) bash bench/rounds.sh

bench-overhead-tls:
	BENCH_PROTO=https GO=$(GO) bash bench/overhead.sh

bench-rounds-tls:
	BENCH_PROTO=https BENCH_TLS_MODES="auto off" GO=$(GO) bash bench/rounds.sh

# Run every fuzz target for FUZZTIME each, one after another. New crashers
# land in the package's testdata/fuzz and become regression seeds.
fuzz:
	@set -e; for pkg in $$($(GO) list ./internal/...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target"; \
			$(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) -parallel 1; \
		done; \
	done

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

# Rebuild the eBPF capture (bpf/) and its Go bindings in internal/loader with
# bpf2go (pinned in go.mod's tool block). Needs clang, llvm-strip and
# libbpf-dev's headers (Debian: apt-get install clang llvm libbpf-dev); the
# committed objects were built with Debian 12's clang 14 and libbpf 1.1.
# The output is reproducible: run it twice and nothing changes.
.PHONY: generate
generate:
	$(GO) generate ./internal/loader/

# Rebuild as above and fail, naming the files, when a committed object or
# binding differs from what bpf/ builds: the objects must match their
# sources. .ci/run runs it on a clean clone, before the tests.
GENERATED := internal/loader/*_bpfel*
.PHONY: check-generate
check-generate: generate
	@changed=$$(git status --porcelain --untracked-files=all -- '$(GENERATED)'); \
	if [ -n "$$changed" ]; then \
		echo "check-generate: make generate changed these generated files, so the committed ones do not match bpf/:"; \
		echo "$$changed"; \
		echo "Commit what make generate builds (with Debian 12's clang 14; this is $$(clang --version | head -n 1))."; \
		exit 1; \
	fi; \
	echo "check-generate: the committed eBPF objects and bindings match bpf/"

clean:
	rm -rf bin
