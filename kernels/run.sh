#!/usr/bin/env bash
# make test-kernels: the kernel matrix. Boots each kernel of
# kernels/matrix.txt under QEMU (software emulation: CI machines have no
# /dev/kvm) with an initramfs that holds busybox, the test binaries of the
# packages whose tests need the kernel, propwatch and kcat; the guest's /init
# (kernels/guest-init.sh) starts propwatch with each hook set and runs the
# test binaries as root with PROPWATCH_REQUIRE_BPF=1, then powers off.
# kernels/summary reads what each guest reported, prints one line per kernel
# and the kernel × hook set table, and fails unless every kernel passed.
#
# Runs as root on a fresh Debian 12 machine (it installs what is missing);
# nothing of the kernels is installed on the host, they are unpacked into
# kernels/.cache. Knobs (environment):
#   KERNELS_ONLY=6.12        boot only the matrix lines that contain this
#   KERNELS_GUEST_TIMEOUT=s  wall-clock limit per guest (default 600)
#   KERNELS_TEST_TIMEOUT=d   -test.timeout of each test binary (default 8m)
#   KERNELS_TEST_ARGS=...    more test flags, e.g. -test.run=TestVerifierStats
#   KERNELS_MEM=2G KERNELS_SMP=2
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
MATRIX=kernels/matrix.txt
CACHE=kernels/.cache
ONLY=${KERNELS_ONLY:-}
GUEST_TIMEOUT=${KERNELS_GUEST_TIMEOUT:-600}
TEST_TIMEOUT=${KERNELS_TEST_TIMEOUT:-8m}
TEST_ARGS=${KERNELS_TEST_ARGS:-}
MEM=${KERNELS_MEM:-2G}
SMP=${KERNELS_SMP:-2}

say() { printf '== %s\n' "$*"; }
die() { printf 'test-kernels: %s\n' "$*" >&2; exit 1; }

# --- Tools ---------------------------------------------------------------
# QEMU to boot, a static busybox for the guest's userland (the initramfs has
# no libc for it), kcat because the Kafka end-to-end test runs it, cpio to
# pack the initramfs.
apt_updated=no
apt_update() {
	if [ "$apt_updated" = no ]; then
		apt-get update -qq
		apt_updated=yes
	fi
}
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
# busybox-static replaces Debian's dynamically linked busybox; ldd fails
# on a static binary.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
command -v kcat >/dev/null || missing+=(kcat)
command -v cpio >/dev/null || missing+=(cpio)
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root or apt-get install -y --no-install-recommends ${missing[*]}"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Kernels ---------------------------------------------------------------
# Each line of the matrix: arch, package, exact version. The package is
# downloaded, not installed, and only its vmlinuz is kept.
labels=()
vmlinuzes=()
while read -r arch pkg version rest; do
	case "$arch" in '' | '#'*) continue ;; esac
	[ -n "$version" ] && [ -z "$rest" ] || die "$MATRIX: want 'arch package version', got: $arch $pkg $version $rest"
	[ "$arch" = amd64 ] || die "$MATRIX: $pkg: only amd64 guests are wired up"
	case "$pkg $version" in *"$ONLY"*) ;; *) continue ;; esac
	dir=$CACHE/kernels/${pkg}_${version}
	if [ ! -s "$dir/vmlinuz" ]; then
		say "fetching $pkg=$version"
		rm -rf "$dir" && mkdir -p "$dir/deb"
		apt-cache show "$pkg=$version" >/dev/null 2>&1 || apt_update
		# apt-get download drops privileges to _apt where it can; the cache
		# may be unreadable to _apt, which only earns a warning.
		(cd "$dir/deb" && apt-get download -q=2 "$pkg=$version" 2>&1 | grep -v 'unsandboxed' || true)
		deb=$(ls "$dir"/deb/*.deb 2>/dev/null) || die "apt-get download $pkg=$version failed (version gone from the archive? see apt-cache policy $pkg)"
		dpkg-deb -x "$deb" "$dir/x"
		vmlinuz=$(ls "$dir"/x/boot/vmlinuz-*)
		basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$dir/release"
		cp "$dir"/x/boot/config-* "$dir/config"
		mv "$vmlinuz" "$dir/vmlinuz"
		rm -rf "$dir/x" "$dir/deb"
	fi
	# The guest has no modules: what booting and the tests need must be
	# built in.
	for opt in SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP DEVTMPFS BPF_SYSCALL BPF_EVENTS FTRACE UNIX INET IPV6; do
		grep -qx "CONFIG_$opt=y" "$dir/config" || die "$pkg: CONFIG_$opt is not built in"
	done
	labels+=("$(cat "$dir/release")")
	vmlinuzes+=("$dir/vmlinuz")
done <"$MATRIX"
[ ${#labels[@]} -gt 0 ] || die "no kernel of $MATRIX matches KERNELS_ONLY=$ONLY"

# --- Binaries ------------------------------------------------------------
# The packages whose tests need root and eBPF are the ones that call
# privtest.RequireBPF; their test binaries run in the guest whole, as
# `go test` would run them (the unit tests too). Static (CGO_ENABLED=0):
# the guest has no libc but kcat's.
build=$CACHE/build
rm -rf "$build" && mkdir -p "$build"
mapfile -t pkgs < <(grep -rl --include='*_test.go' 'privtest\.RequireBPF' cmd internal | xargs -n1 dirname | sort -u)
for want in internal/loader cmd/propwatch; do
	printf '%s\n' "${pkgs[@]}" | grep -qx "$want" || die "$want has no privtest.RequireBPF test any more: check the package list"
done
tests=()
for p in "${pkgs[@]}"; do
	bin=$(echo "$p" | tr / _).test
	say "go test -c ./$p"
	CGO_ENABLED=0 GOARCH=amd64 $GO test -c -o "$build/$bin" "./$p"
	tests+=("$p:$bin")
done
say "go build ./cmd/propwatch"
CGO_ENABLED=0 GOARCH=amd64 $GO build -o "$build/propwatch" ./cmd/propwatch
$GO build -o "$build/summary" ./kernels/summary

# --- Initramfs -------------------------------------------------------------
# One for every kernel: the kernels need no module for any of this (serial
# console, BPF, tracefs, loopback are built in; run.sh checks the configs).
root=$build/root
mkdir -p "$root"/{bin,usr/bin,usr/local/bin,etc,src,root,tmp,proc,sys,dev}
cp /bin/busybox "$root/bin/busybox"
install -m 0755 kernels/guest-init.sh "$root/init"
cp "$build/propwatch" "$root/usr/local/bin/propwatch"
# The source tree as `go test` sees it (tests read README.md, examples/,
# testdata), and each test binary in its package's directory.
git ls-files -co --exclude-standard | while IFS= read -r f; do
	if [ -f "$f" ]; then printf '%s\0' "$f"; fi
done | tar --null -T - -cf - | tar -xf - -C "$root/src"
for t in "${tests[@]}"; do cp "$build/${t#*:}" "$root/src/${t%:*}/"; done
# kcat with the shared libraries ldd names and the dynamic loader.
copy_with_libs() {
	cp "$1" "$root$1"
	ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
copy_with_libs "$(command -v kcat)"
# Names and users for whatever looks them up; libc's files backend.
printf '127.0.0.1 localhost pwk-guest\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf 'hosts: files\npasswd: files\ngroup: files\n' >"$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
# The guest's configuration, sourced by its /init.
cat >"$root/etc/pwk.conf" <<EOF
export HOME=/root TMPDIR=/tmp
export PROPWATCH_REQUIRE_BPF=1
export PROPWATCH_E2E_BIN=/usr/local/bin/propwatch
PWK_TESTS="${tests[*]}"
PWK_TEST_TIMEOUT="$TEST_TIMEOUT"
PWK_TEST_ARGS="$TEST_ARGS"
EOF
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$build/initramfs.gz"
say "initramfs $(du -h "$build/initramfs.gz" | cut -f1)"

# --- Guests ------------------------------------------------------------------
# Single-threaded TCG (thread=single: one host thread runs both vCPUs in
# turn). Debian 12's QEMU 7.2 with thread=multi races when one vCPU patches
# kernel text that another executes (fixed in QEMU 8.1, "accel/tcg: Always
# lock pages before translation"): attaching and detaching the syscall
# tracepoints flips static keys, and a 6.12 guest died here with
# "Oops: int3" in syscall_trace_enter. The guest still has two CPUs.
# KERNELS_JOBS guests at a time (default: one per host core): the
# verifier, which is most of the time, runs on one vCPU anyway, and two
# guests fill both cores. ttyS0 is the
# console, kept as a file; ttyS1 carries the result lines. panic=-1 with
# -no-reboot: a guest that panics ends QEMU at once instead of waiting for
# the timeout.
JOBS=${KERNELS_JOBS:-$(nproc)}
logs=$CACHE/logs
mkdir -p "$logs"

# boot LABEL VMLINUZ: runs one guest to its end and appends how QEMU ended
# to its result log.
boot() {
	local label=$1 vmlinuz=$2 start rc=0 wall timedout=no
	local console=$logs/$label.console.log result=$logs/$label.results.log
	rm -f "$console" "$result"
	start=$(date +%s)
	timeout -k 10 "$GUEST_TIMEOUT" qemu-system-x86_64 \
		-accel tcg,thread=single -smp "$SMP" -m "$MEM" -cpu max \
		-nodefaults -no-reboot -display none -monitor none -nic none \
		-kernel "$vmlinuz" -initrd "$build/initramfs.gz" \
		-append "console=ttyS0 panic=-1" \
		-serial "file:$console" -serial "file:$result" </dev/null || rc=$?
	wall=$(($(date +%s) - start))
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then timedout=yes; fi
	echo "PWK host label=$label qemu-rc=$rc timeout=$timedout wall=$wall" >>"$result"
	say "$label: qemu exit $rc after ${wall}s (timeout ${GUEST_TIMEOUT}s)"
}

total_start=$(date +%s)
results=()
running=0
for i in "${!labels[@]}"; do
	if [ "$running" -ge "$JOBS" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	say "booting ${labels[$i]} (console: $logs/${labels[$i]}.console.log)"
	boot "${labels[$i]}" "${vmlinuzes[$i]}" &
	running=$((running + 1))
	results+=("$logs/${labels[$i]}.results.log")
done
wait
total=$(($(date +%s) - total_start))
say "all guests: ${total}s"
for label in "${labels[@]}"; do
	result=$logs/$label.results.log
	if ! grep -q '^PWK done' "$result" || ! grep -q '^PWK host .*qemu-rc=0 ' "$result"; then
		echo "---- $label did not finish cleanly: last 40 lines of $logs/$label.console.log"
		tail -n 40 "$logs/$label.console.log" || true
		echo "----"
	fi
done

# The host kernel is the third column of the matrix, but not booted here:
# `make test` runs the same tests on it (CI: .ci/run, before this).
say "host $(uname -r): tested by make test, not by this script"
"$build/summary" "${results[@]}"
