#!/usr/bin/env bash
# make test-kernels: the kernel matrix. Boots each kernel of
# kernels/matrix.txt under QEMU (software emulation: CI machines have no
# /dev/kvm) with an initramfs that holds busybox, the test binaries of the
# packages whose tests need the kernel, propwatch, kcat and capsh; the guest's /init
# (kernels/guest-init.sh) starts propwatch with each hook set and runs the
# test binaries as root with PROPWATCH_REQUIRE_BPF=1, then powers off.
# kernels/summary reads what each guest reported, prints one line per kernel
# and the kernel × hook set table, and fails unless every kernel passed.
#
# Runs as root on a fresh Debian 12 machine (it installs what is missing);
# nothing of the kernels is installed on the host, they are unpacked into
# kernels/.cache. For a guest of another architecture (arm64 on an amd64
# host), its kernel, busybox and kcat come from Debian's packages for that
# architecture, fetched with package lists of its own under kernels/.cache
# (the host's apt configuration is left alone), and the Go binaries are
# cross-compiled. Knobs (environment):
#   KERNELS_ONLY=6.12        boot only the matrix lines that contain this
#   KERNELS_JOBS=n           guests at a time (default: one per host core)
#   KERNELS_GUEST_TIMEOUT=s  wall-clock limit per guest (default 1200)
#   KERNELS_TEST_TIMEOUT=d   -test.timeout of each test binary (default 15m)
#   KERNELS_TEST_ARGS=...    more test flags, e.g. -test.run=TestVerifierStats
#   KERNELS_MEM=2G KERNELS_SMP=2
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
MATRIX=kernels/matrix.txt
CACHE=kernels/.cache
ONLY=${KERNELS_ONLY:-}
JOBS=${KERNELS_JOBS:-$(nproc)}
GUEST_TIMEOUT=${KERNELS_GUEST_TIMEOUT:-1200}
TEST_TIMEOUT=${KERNELS_TEST_TIMEOUT:-15m}
TEST_ARGS=${KERNELS_TEST_ARGS:-}
MEM=${KERNELS_MEM:-2G}
SMP=${KERNELS_SMP:-2}
HOST_ARCH=$(dpkg --print-architecture)

say() { printf '== %s\n' "$*"; }
die() { printf 'test-kernels: %s\n' "$*" >&2; exit 1; }

# --- The matrix --------------------------------------------------------------
# Each line: Debian architecture, package, exact version.
arches=() pkgs=() versions=()
while read -r arch pkg version rest; do
	case "$arch" in '' | '#'*) continue ;; esac
	[ -n "$version" ] && [ -z "$rest" ] || die "$MATRIX: want 'arch package version', got: $arch $pkg $version $rest"
	case "$arch" in amd64 | arm64) ;; *) die "$MATRIX: $pkg: no QEMU set-up for $arch guests" ;; esac
	case "$arch $pkg $version" in *"$ONLY"*) ;; *) continue ;; esac
	arches+=("$arch") pkgs+=("$pkg") versions+=("$version")
done <"$MATRIX"
[ ${#pkgs[@]} -gt 0 ] || die "no kernel of $MATRIX matches KERNELS_ONLY=$ONLY"
mapfile -t guest_arches < <(printf '%s\n' "${arches[@]}" | sort -u)

# --- Tools -------------------------------------------------------------------
# QEMU to boot; for guests of the host's architecture a static busybox (the
# initramfs has no libc for it) and kcat (the Kafka end-to-end test runs it)
# from the host; cpio to pack the initramfs.
apt_updated=no
apt_update() {
	if [ "$apt_updated" = no ]; then
		apt-get update -qq
		apt_updated=yes
	fi
}
missing=()
for arch in "${guest_arches[@]}"; do
	case "$arch" in
	amd64) command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86) ;;
	arm64) command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm) ;;
	esac
done
if printf '%s\n' "${guest_arches[@]}" | grep -qx "$HOST_ARCH"; then
	# busybox-static replaces Debian's dynamically linked busybox; ldd
	# fails on a static binary.
	if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then missing+=(busybox-static); fi
	command -v kcat >/dev/null || missing+=(kcat)
	# capsh: the end-to-end test that runs propwatch under exactly the
	# DaemonSet's capabilities.
	[ -x /usr/sbin/capsh ] || missing+=(libcap2-bin)
fi
command -v cpio >/dev/null || missing+=(cpio)
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: run as root or apt-get install -y --no-install-recommends ${missing[*]}"
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt_update
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# apt_for ARCH sets APT to the apt options for packages of ARCH: none for
# the host's, else package lists of that architecture alone, kept in the
# cache and fetched once per run.
declare -A apt_arch_ready=()
apt_for() {
	APT=()
	[ "$1" = "$HOST_ARCH" ] && return
	local d=$PWD/$CACHE/apt/$1
	APT=(-o "APT::Architecture=$1" -o "APT::Architectures::=$1" -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
	if [ -z "${apt_arch_ready[$1]:-}" ]; then
		mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
		say "apt-get update for $1 packages (lists in $d)"
		apt-get "${APT[@]}" update -qq
		apt_arch_ready[$1]=yes
	fi
}

# fetch ARCH DIR PACKAGE[=VERSION]...: downloads the packages of ARCH and
# unpacks them all into DIR, without installing anything.
fetch() {
	local arch=$1 dir=$2 deb
	shift 2
	apt_for "$arch"
	if [ "$arch" = "$HOST_ARCH" ] && ! apt-cache show "$@" >/dev/null 2>&1; then apt_update; fi
	rm -rf "$dir.deb" && mkdir -p "$dir.deb" "$dir"
	# apt-get download drops privileges to _apt where it can; the cache
	# may be unreadable to _apt, which only earns a warning.
	(cd "$dir.deb" && apt-get "${APT[@]}" download -q=2 "$@" 2>&1 | grep -v 'unsandboxed' || true)
	[ "$(ls "$dir.deb" | wc -l)" = $# ] || die "apt-get download $* for $arch failed (version gone from the archive? see apt-cache policy)"
	for deb in "$dir.deb"/*.deb; do dpkg-deb -x "$deb" "$dir"; done
	rm -rf "$dir.deb"
}

# --- Kernels -----------------------------------------------------------------
# Of each package only the vmlinuz, the config and the few modules the
# guest loads are kept. What booting and the tests need must be built in;
# the one exception is the virtio console that carries the result lines of
# arm64 guests, a module in some kernels (6.1): those modules, with what
# they depend on, go into a small cpio that is appended to the initramfs.

# keep_modules DIR MODULE...: copies MODULE.ko and the modules it depends
# on (the depends= of their modinfo) from the unpacked package in DIR/x to
# DIR/modules, with DIR/modules/order listing them dependencies first.
keep_modules() {
	local dir=$1 m
	shift
	mkdir -p "$dir/modules/lib/modules/pwk"
	for m in "$@"; do keep_module "$dir" "$m"; done
	(cd "$dir/modules" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$dir/modules.cpio.gz"
}
keep_module() {
	local dir=$1 m=$2 ko dep out=$1/modules/lib/modules/pwk
	grep -qx "$m" "$out/order" 2>/dev/null && return
	ko=$(find "$dir/x/lib/modules" -name "$m.ko" | head -n 1)
	[ -n "$ko" ] || return 0 # built in
	for dep in $(tr '\0' '\n' <"$ko" | sed -n 's/^depends=//p' | tr ',' ' '); do keep_module "$dir" "$dep"; done
	cp "$ko" "$out/"
	echo "$m" >>"$out/order"
}

labels=() vmlinuzes=() extras=()
for i in "${!pkgs[@]}"; do
	arch=${arches[$i]} pkg=${pkgs[$i]} version=${versions[$i]}
	dir=$CACHE/kernels/${pkg}_${version}
	if [ ! -s "$dir/vmlinuz" ]; then
		say "fetching $pkg=$version ($arch)"
		rm -rf "$dir"
		fetch "$arch" "$dir/x" "$pkg=$version"
		vmlinuz=$(ls "$dir"/x/boot/vmlinuz-*)
		basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$dir/release"
		cp "$dir"/x/boot/config-* "$dir/config"
		mv "$vmlinuz" "$dir/vmlinuz"
		if [ "$arch" = arm64 ]; then keep_modules "$dir" virtio_pci virtio_console; fi
		rm -rf "$dir/x"
	fi
	need=(BLK_DEV_INITRD RD_GZIP DEVTMPFS BPF_SYSCALL BPF_EVENTS FTRACE UNIX INET IPV6)
	case "$arch" in
	amd64) need+=(SERIAL_8250_CONSOLE) ;;
	arm64) need+=(SERIAL_AMBA_PL011_CONSOLE PCI_HOST_GENERIC) ;;
	esac
	for opt in "${need[@]}"; do
		grep -qx "CONFIG_$opt=y" "$dir/config" || die "$pkg: CONFIG_$opt is not built in"
	done
	if [ "$arch" = arm64 ]; then
		for opt in VIRTIO_PCI VIRTIO_CONSOLE; do
			grep -qx "CONFIG_$opt=[ym]" "$dir/config" || die "$pkg: no CONFIG_$opt"
		done
	fi
	labels+=("$(cat "$dir/release")")
	vmlinuzes+=("$dir/vmlinuz")
	extras+=("$dir/modules.cpio.gz")
done

# --- Initramfs, one per architecture -------------------------------------------
# The packages whose tests need root and eBPF are the ones that call
# privtest.RequireBPF; their test binaries run in the guest whole, as
# `go test` would run them (the unit tests too). Static (CGO_ENABLED=0):
# the guest has no libc but kcat's.
build=$CACHE/build
rm -rf "$build" && mkdir -p "$build"
mapfile -t testpkgs < <(grep -rl --include='*_test.go' 'privtest\.RequireBPF' cmd internal | xargs -n1 dirname | sort -u)
for want in internal/loader cmd/propwatch; do
	printf '%s\n' "${testpkgs[@]}" | grep -qx "$want" || die "$want has no privtest.RequireBPF test any more: check the package list"
done
$GO build -o "$build/summary" ./kernels/summary

# copy_with_libs ROOT BINARY: BINARY of the host with the shared libraries
# ldd names and the dynamic loader.
copy_with_libs() {
	mkdir -p "$1$(dirname "$2")"
	cp "$2" "$1$2"
	ldd "$2" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$1$(dirname "$lib")"
		cp -L "$lib" "$1$lib"
	done
}

build_initramfs() {
	local arch=$1 out=$build/$1 root=$build/$1/root tests=() p bin
	mkdir -p "$root"/{bin,usr/bin,usr/local/bin,etc,src,root,tmp,proc,sys,dev}
	for p in "${testpkgs[@]}"; do
		bin=$(echo "$p" | tr / _).test
		say "go test -c ./$p ($arch)"
		CGO_ENABLED=0 GOARCH=$arch $GO test -c -o "$out/$bin" "./$p"
		tests+=("$p:$bin")
	done
	say "go build ./cmd/propwatch ($arch)"
	CGO_ENABLED=0 GOARCH=$arch $GO build -o "$root/usr/local/bin/propwatch" ./cmd/propwatch
	install -m 0755 kernels/guest-init.sh "$root/init"
	# The source tree as `go test` sees it (tests read README.md,
	# examples/, testdata), and each test binary in its package's
	# directory.
	git ls-files -co --exclude-standard | while IFS= read -r f; do
		if [ -f "$f" ]; then printf '%s\0' "$f"; fi
	done | tar --null -T - -cf - | tar -xf - -C "$root/src"
	for t in "${tests[@]}"; do cp "$out/${t#*:}" "$root/src/${t%:*}/"; done
	if [ "$arch" = "$HOST_ARCH" ]; then
		cp /bin/busybox "$root/bin/busybox"
		copy_with_libs "$root" "$(command -v kcat)"
		copy_with_libs "$root" /usr/sbin/capsh
	else
		# busybox-static and kcat of the guest's architecture, with the
		# packages of the libraries kcat loads here (the same names on
		# every architecture) and the dynamic loader's.
		local kcatpkgs
		mapfile -t kcatpkgs < <({ echo kcat; echo libcap2-bin; { ldd "$(command -v kcat)"; ldd /usr/sbin/capsh; } | grep -o '/[^ ]*' | while read -r lib; do
			# ldd names /lib/... what dpkg may know as /usr/lib/...
			dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib"
		done | cut -d: -f1; } | sort -u)
		say "fetching busybox-static ${kcatpkgs[*]} ($arch)"
		fetch "$arch" "$out/sysroot" busybox-static "${kcatpkgs[@]}"
		cp "$out/sysroot/bin/busybox" "$root/bin/busybox"
		cp "$out/sysroot/usr/bin/kcat" "$root/usr/bin/kcat"
		mkdir -p "$root/usr/sbin"
		cp "$out/sysroot/sbin/capsh" "$root/usr/sbin/capsh" # /sbin in the package
		# Libraries only (libc6's gconv modules and the like stay out).
		(cd "$out/sysroot" && find lib usr/lib -maxdepth 2 -name '*.so*' \( -type f -o -type l \) -print0 | tar --null -T - -cf -) | tar -xf - -C "$root"
	fi
	# Names and users for whatever looks them up; libc's files backend.
	printf '127.0.0.1 localhost pwk-guest\n::1 localhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	printf 'hosts: files\npasswd: files\ngroup: files\n' >"$root/etc/nsswitch.conf"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	# The guest's configuration, sourced by its /init. The result lines
	# go to a second serial port on x86 and to a virtio console on arm64
	# (QEMU's virt machine has one UART).
	local results=/dev/ttyS1
	[ "$arch" = arm64 ] && results=/dev/hvc0
	cat >"$root/etc/pwk.conf" <<-EOF
		export HOME=/root TMPDIR=/tmp
		export PROPWATCH_REQUIRE_BPF=1
		# No PROPWATCH_REQUIRE_KUBE: there is no Kubernetes control
		# plane (etcd, kube-apiserver) in the guests, and the tests that
		# need one skip.
		export PROPWATCH_E2E_BIN=/usr/local/bin/propwatch
		PWK_RESULTS=$results
		PWK_TESTS="${tests[*]}"
		PWK_TEST_TIMEOUT="$TEST_TIMEOUT"
		PWK_TEST_ARGS="$TEST_ARGS"
	EOF
	(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$out/initramfs.gz"
	say "initramfs $arch $(du -h "$out/initramfs.gz" | cut -f1)"
}
for arch in "${guest_arches[@]}"; do build_initramfs "$arch"; done

# --- Guests --------------------------------------------------------------------
# Single-threaded TCG (thread=single: one host thread runs both vCPUs in
# turn). Debian 12's QEMU 7.2 with thread=multi races when one vCPU patches
# kernel text that another executes (fixed in QEMU 8.1, "accel/tcg: Always
# lock pages before translation"): attaching and detaching the syscall
# tracepoints flips static keys, and a 6.12 guest died here with
# "Oops: int3" in syscall_trace_enter. The guest still has two CPUs.
# KERNELS_JOBS guests at a time: the verifier, which is most of the time,
# runs on one vCPU anyway, and two guests fill both cores. The console is
# kept as a file; the result lines have a port of their own. panic=-1
# with -no-reboot: a guest that panics ends QEMU at once instead of
# waiting for the timeout.
logs=$CACHE/logs
mkdir -p "$logs"

# boot ARCH LABEL VMLINUZ MODULES: runs one guest to its end and appends
# how QEMU ended to its result log. The kernel unpacks concatenated cpio
# archives one after the other: the kernel's modules, if any, follow the
# initramfs of its architecture.
boot() {
	local arch=$1 label=$2 vmlinuz=$3 modules=$4 start rc=0 wall timedout=no qemu
	local console=$logs/$label.console.log result=$logs/$label.results.log initrd=$build/$label.initrd.gz
	rm -f "$console" "$result"
	cat "$build/$arch/initramfs.gz" >"$initrd"
	if [ -f "$modules" ]; then cat "$modules" >>"$initrd"; fi
	case "$arch" in
	amd64)
		qemu=(qemu-system-x86_64 -cpu max -append "console=ttyS0 panic=-1"
			-serial "file:$console" -serial "file:$result")
		;;
	arm64)
		# pauth-impdef: QEMU's architected pointer authentication
		# (QARMA) is slow to emulate; the implementation-defined
		# algorithm behaves the same for the guest.
		qemu=(qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on -append "console=ttyAMA0 panic=-1"
			-serial "file:$console" -device virtio-serial-pci
			-chardev "file,id=results,path=$result" -device virtconsole,chardev=results)
		;;
	esac
	start=$(date +%s)
	timeout -k 10 "$GUEST_TIMEOUT" "${qemu[@]}" \
		-accel tcg,thread=single -smp "$SMP" -m "$MEM" \
		-nodefaults -no-reboot -display none -monitor none -nic none \
		-kernel "$vmlinuz" -initrd "$initrd" </dev/null || rc=$?
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
	boot "${arches[$i]}" "${labels[$i]}" "${vmlinuzes[$i]}" "${extras[$i]}" &
	running=$((running + 1))
	results+=("$logs/${labels[$i]}.results.log")
done
wait
say "all guests: $(($(date +%s) - total_start))s"
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
