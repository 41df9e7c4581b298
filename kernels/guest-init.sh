#!/bin/busybox sh
# /init of the test guest that kernels/run.sh boots under QEMU. It runs as
# PID 1 from the initramfs (there is no disk), sets up what the tests expect
# of a Linux host, runs the test binaries as root and powers off.
#
# Two ports: the console (kernel messages and everything below, for a
# human reading the console log), and PWK_RESULTS (ttyS1 on x86, hvc0 on
# arm64), which gets only the lines that kernels/run.sh parses, so that a
# kernel message can never break one.
# Every line for the parser starts with "PWK "; a test binary's own output
# goes to both ports between "PWK test-begin" and "PWK test-end".
#
# The test list and timeouts come from /etc/pwk.conf, which run.sh writes.

/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin
set -o pipefail

mkdir -p /proc /sys /dev /tmp /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# The capture attaches to tracepoints (tracefs), the loader may pin or
# probe through bpffs, and propwatch reads cgroup v2 ids: mount them where
# a systemd host has them.
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /tmp

# Everything the tests do is on loopback (IPv4 and IPv6); localhost must
# resolve for anything that looks it up.
ip link set lo up
hostname pwk-guest

. /etc/pwk.conf
# The modules of the result port where the kernel has them as modules
# (virtio on 6.1 arm64), dependencies first; its device node appears when
# the driver has probed.
if [ -f /lib/modules/pwk/order ]; then
	while read -r m; do insmod "/lib/modules/pwk/$m.ko"; done </lib/modules/pwk/order
fi
# The node can exist before its port opens (a virtio console answers
# ENODEV until the host side is up); a failed redirection of exec would end
# this shell, so try it in a subshell first.
n=0
until (true >"$PWK_RESULTS") 2>/dev/null || [ "$n" -ge 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
exec 3>"$PWK_RESULTS"
say() {
	echo "PWK $*" >&3
	echo "PWK $*"
}

say "uname $(uname -r)"
say "arch $(uname -m)"
if [ -e /sys/kernel/btf/vmlinux ]; then say "btf present"; else say "btf absent"; fi
# Whether the kernel has the tracepoints of the sock hook set (6.3+),
# straight from tracefs: where it has them, sock must load.
if [ -d /sys/kernel/tracing/events/sock/sock_send_length ] && [ -d /sys/kernel/tracing/events/sock/sock_recv_length ]; then
	say "sock-tracepoints present"
else
	say "sock-tracepoints absent"
fi

# Each hook set on its own, the way a user would start propwatch, then
# auto: did it load and attach (its "capture attached" log line and exit
# 0), and if not, the error: its first line names what failed, its last
# line (but the verifier's statistics) the reason.
for set in sock btf raw syscalls auto; do
	start=$(date +%s)
	propwatch run --quiet --hooks "$set" --duration 2s >/tmp/hooks.out 2>/tmp/hooks.err
	rc=$?
	end=$(date +%s)
	cat /tmp/hooks.err /tmp/hooks.out
	attached=$(sed -n 's/.*msg="capture attached" set=\([a-z]*\).*/\1/p' /tmp/hooks.err | head -n 1)
	first=- last=-
	if [ "$rc" != 0 ]; then
		first=$(grep -m 1 '^propwatch:' /tmp/hooks.err | cut -c1-200)
		last=$(grep -v -e '^[[:space:]]*$' -e '^[[:space:]]*processed [0-9]* insns' -e 'verification time' /tmp/hooks.err | tail -n 1 | tr -d '\t' | cut -c1-200)
	fi
	say "hooks $set rc=$rc secs=$((end - start)) attached=${attached:--} err=${first:--} | ${last:--}"
done

# The test binaries, each in its package's directory and by its absolute
# path, as `go test` runs them (some tests read files next to their
# package; some look at os.Args[0], e.g. its directory).
for t in $PWK_TESTS; do
	dir=${t%:*}
	bin=${t#*:}
	say "test-begin $bin"
	start=$(date +%s)
	(cd "/src/$dir" && "/src/$dir/$bin" -test.v -test.count=1 -test.timeout="$PWK_TEST_TIMEOUT" $PWK_TEST_ARGS) 2>&1 | tee "$PWK_RESULTS"
	rc=$?
	end=$(date +%s)
	say "test-end $bin rc=$rc secs=$((end - start))"
done

say "done"
poweroff -f
