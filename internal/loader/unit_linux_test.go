//go:build linux && (amd64 || arm64)

package loader

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/propwatch/propwatch/internal/parse/kafka"
)

// These tests need neither root nor eBPF.

// record returns the ring buffer record of ce carrying n bytes of data, in a
// buffer that can hold a whole struct event, as Read provides.
func record(ce *captureEvent, n int) []byte {
	buf := make([]byte, eventSize)
	copy(buf, unsafe.Slice((*byte)(unsafe.Pointer(ce)), eventSize))
	return buf[:eventHeaderSize+n]
}

func TestDecode(t *testing.T) {
	ce := captureEvent{
		KtimeNs: 42, SockIno: 7001, CgroupId: 99, Netns: 4026531840, Pid: 11, Tgid: 10,
		Len: 300, Captured: 5, Family: 2, Lport: 40000, Rport: 8080,
		Direction: 1, Start: 1, Syscall: uint8(captureSyscallIdSYS_RECVFROM),
		Fd: 9, PeerTgid: 12, Proto: 1, KafkaApiKey: kafka.APIFetch, KafkaApiVersion: 13,
	}
	copy(ce.Comm[:], "curl")
	copy(ce.PeerComm[:], "kgo")
	copy(ce.Laddr[:], netip.MustParseAddr("::ffff:127.0.0.1").AsSlice())
	copy(ce.Raddr[:], netip.MustParseAddr("2001:db8::1").AsSlice())
	copy(ce.Data[:], "GET /")

	var ev Event
	if err := ev.decode(record(&ce, 5)); err != nil {
		t.Fatal(err)
	}
	want := Event{
		KtimeNS: 42, TGID: 10, PID: 11, CgroupID: 99, NetNS: 4026531840, Sock: 7001,
		Local:     netip.MustParseAddrPort("127.0.0.1:40000"),
		Remote:    netip.MustParseAddrPort("[2001:db8::1]:8080"),
		Direction: Ingress, Start: true, Syscall: "recvfrom", Len: 300,
		FD: 9, PeerTGID: 12, Protocol: Kafka, KafkaAPIKey: kafka.APIFetch, KafkaAPIVersion: 13,
	}
	copy(want.Comm[:], "curl")
	copy(want.PeerComm[:], "kgo")
	if string(ev.Data) != "GET /" {
		t.Errorf("Data = %q", ev.Data)
	}
	if !eventsEqual(ev, want) {
		t.Errorf("decode =\n%+v\nwant\n%+v", ev, want)
	}
	if ev.CommString() != "curl" {
		t.Errorf("CommString = %q", ev.CommString())
	}
}

func eventsEqual(a, b Event) bool {
	a.Data, a.raw, b.Data, b.raw = nil, nil, nil, nil
	return a.KtimeNS == b.KtimeNS && a.TGID == b.TGID && a.PID == b.PID && a.Comm == b.Comm &&
		a.CgroupID == b.CgroupID && a.NetNS == b.NetNS && a.Sock == b.Sock && a.Local == b.Local &&
		a.Remote == b.Remote && a.Direction == b.Direction && a.Start == b.Start &&
		a.Syscall == b.Syscall && a.Len == b.Len && a.FD == b.FD && a.PeerTGID == b.PeerTGID &&
		a.PeerComm == b.PeerComm && a.Protocol == b.Protocol && a.KafkaAPIKey == b.KafkaAPIKey &&
		a.KafkaAPIVersion == b.KafkaAPIVersion
}

func TestDecodeBadRecords(t *testing.T) {
	var ev Event
	ce := captureEvent{Captured: 10}
	if err := ev.decode(record(&ce, 4)); err == nil {
		t.Error("a record shorter than its captured count decoded")
	}
	if err := ev.decode(make([]byte, eventHeaderSize-1, eventSize)); err == nil {
		t.Error("a record shorter than the header decoded")
	}
}

func TestSyscallNames(t *testing.T) {
	seen := map[string]bool{}
	for id := captureSyscallIdSYS_WRITE; id <= captureSyscallIdSYS_TLS_READ; id++ {
		name := syscallName(id)
		if name == "unknown" || seen[name] {
			t.Errorf("syscall id %d: name %q is unknown or repeated", id, name)
		}
		seen[name] = true
	}
	if syscallName(captureSyscallIdSYS_UNKNOWN) != "unknown" || syscallName(captureSyscallIdSYS_TLS_READ+1) != "unknown" {
		t.Error("ids outside the enum must be unknown")
	}
}

func TestLostNames(t *testing.T) {
	for i, name := range lostNames {
		if name == "" {
			t.Errorf("lost reason %d has no name: add it to lostNames", i)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := Config{}.withDefaults()
	if err != nil || cfg.CaptureBytes != 16384 || cfg.RingBufferBytes != 8<<20 {
		t.Errorf("zero Config: %+v, %v", cfg, err)
	}
	for _, bad := range []Config{
		{CaptureBytes: 16385},
		{CaptureBytes: 8},
		{CaptureBytes: -1},
		{RingBufferBytes: 3 << 20},
		{RingBufferBytes: 1024},
		{RingBufferBytes: -4096},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if _, err := Open(Config{CaptureBytes: 1 << 20}); err == nil || !strings.Contains(err.Error(), "capture bytes") {
		t.Errorf("Open with a bad Config: %v, want the Config error before anything is loaded", err)
	}
}

func TestFieldOffsets(t *testing.T) {
	format := `name: sys_enter_write
ID: 840
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:unsigned int fd;	offset:16;	size:8;	signed:0;
	field:const char * buf;	offset:24;	size:8;	signed:0;
	field:size_t count;	offset:32;	size:8;	signed:0;
	field:struct mmsghdr * mmsg;	offset:40;	size:8;	signed:0;
`
	got := fieldOffsets([]byte(format))
	want := map[string]int{"fd": 16, "buf": 24, "count": 32, "mmsg": 40}
	if len(got) != len(want) {
		t.Errorf("fieldOffsets = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("fieldOffsets[%s] = %d, want %d", k, got[k], v)
		}
	}
}

func TestTracefsInMountinfo(t *testing.T) {
	info := `22 1 0:21 / / rw,relatime - ext4 /dev/root rw
36 25 0:12 / /sys/kernel/debug rw,nosuid - debugfs debugfs rw
40 36 0:13 /sub /mnt/sub rw - tracefs tracefs rw
41 25 0:13 / /host/sys/kernel/trac\040ing rw,nosuid shared:7 - tracefs tracefs rw
`
	if got := tracefsInMountinfo([]byte(info)); got != "/host/sys/kernel/trac ing" {
		t.Errorf("tracefsInMountinfo = %q", got)
	}
	if got := tracefsInMountinfo([]byte("22 1 0:21 / / rw - ext4 /dev/root rw\n")); got != "" {
		t.Errorf("no tracefs: got %q", got)
	}
}

func TestDirection(t *testing.T) {
	if Egress.String() != "egress" || Ingress.String() != "ingress" || Direction(7).String() != "unknown" {
		t.Error("Direction.String")
	}
}

// TestSyscallNumbers: the numbers the raw hook matches are this
// architecture's, as golang.org/x/sys/unix has them.
func TestSyscallNumbers(t *testing.T) {
	for _, c := range []struct {
		name string
		bpf  captureSyscallNr
		unix uintptr
	}{
		{"read", captureSyscallNrNR_READ, unix.SYS_READ},
		{"write", captureSyscallNrNR_WRITE, unix.SYS_WRITE},
		{"readv", captureSyscallNrNR_READV, unix.SYS_READV},
		{"writev", captureSyscallNrNR_WRITEV, unix.SYS_WRITEV},
		{"sendto", captureSyscallNrNR_SENDTO, unix.SYS_SENDTO},
		{"recvfrom", captureSyscallNrNR_RECVFROM, unix.SYS_RECVFROM},
		{"sendmsg", captureSyscallNrNR_SENDMSG, unix.SYS_SENDMSG},
		{"recvmsg", captureSyscallNrNR_RECVMSG, unix.SYS_RECVMSG},
		{"sendmmsg", captureSyscallNrNR_SENDMMSG, unix.SYS_SENDMMSG},
		{"recvmmsg", captureSyscallNrNR_RECVMMSG, unix.SYS_RECVMMSG},
	} {
		if uintptr(c.bpf) != c.unix {
			t.Errorf("%s: the capture program matches %d, the syscall is %d", c.name, c.bpf, c.unix)
		}
	}
}

// TestClock: Clock puts a CLOCK_MONOTONIC reading at the moment time.Now
// gives, and keeps the distance between two readings.
func TestClock(t *testing.T) {
	c := NewClock()
	var ts unix.Timespec
	before := time.Now()
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	at := c.Time(uint64(ts.Nano()))
	if at.Before(before.Add(-time.Millisecond)) || at.After(after.Add(time.Millisecond)) {
		t.Errorf("Time(now) = %v, want within [%v, %v]", at, before, after)
	}
	later := c.Time(uint64(ts.Nano()) + uint64(3*time.Second))
	if d := later.Sub(at); d != 3*time.Second {
		t.Errorf("Time(k+3s) - Time(k) = %v, want 3s", d)
	}
	if !later.After(time.Now()) {
		t.Errorf("Time(k+3s) = %v is not after now", later)
	}
}

// rejection is the error LoadAndAssign returns when the verifier rejects a
// program: its log, wrapped as cilium/ebpf wraps it.
func rejection(prog string, log ...string) error {
	ve := &ebpf.VerifierError{Cause: unix.EACCES, Log: log}
	return fmt.Errorf("assign values: field X: program %s: %w", prog, ve)
}

// TestOpenError: when no hook set loads, the error has one line per set
// with its reason, and the whole errors only when verbose; the verifier's
// error still unwraps from it.
func TestOpenError(t *testing.T) {
	stats := "processed 113849 insns (limit 1000000) max_states_per_insn 21 total_states 6047 peak_states 1886 mark_read 0"
	var filler []string
	for i := range 50 {
		filler = append(filler, fmt.Sprintf("%d: (b7) r0 = %d", i, i))
	}
	// err is the error of open with Config.Verbose = v.
	sets := []struct {
		set      HookSet
		err      func(v bool) error
		reason   string
		rejected bool
		denied   bool
	}{
		{HooksSock, func(bool) error { return probeErr("tracepoint sock/sock_send_length not in this kernel (Linux 6.3+)") },
			"tracepoint sock/sock_send_length not in this kernel (Linux 6.3+)", false, false},
		{HooksBTF, func(v bool) error {
			return loadError(rejection("pw_btf_sys_exit", append(filler,
				"Func#9 ('ship_event') is safe for any args that match its prototype",
				"combined stack size of 5 calls is 592. Too large", stats)...), v)
		}, "verifier rejected pw_btf_sys_exit: combined stack size of 5 calls is 592. Too large", true, false},
		{HooksRaw, func(v bool) error {
			return loadError(rejection("pw_sys_exit", "60: (bf) r0 = r5", "R5 !read_ok", stats, "verification time 12 usec", "stack depth 8", ""), v)
		}, "verifier rejected pw_sys_exit: 60: (bf) r0 = r5: R5 !read_ok", true, false},
		{HooksSyscalls, func(v bool) error { return loadError(rejection("pw_exit_read"), v) },
			"kernel refused to load pw_exit_read: permission denied", false, false},
	}
	for _, verbose := range []bool{false, true} {
		oe := &OpenError{Kernel: "6.1.0-57-cloud-amd64"}
		for _, s := range sets {
			oe.Sets = append(oe.Sets, hookSetError(s.set, s.err(verbose), verbose))
		}
		var err error = oe
		lines := strings.Split(err.Error(), "\n")
		if lines[0] != "no hook set loaded and attached on this kernel (Linux 6.1.0-57-cloud-amd64):" {
			t.Errorf("first line %q", lines[0])
		}
		for i, s := range sets {
			if want := "  " + string(s.set) + ": " + s.reason; len(lines) <= i+1 || lines[i+1] != want {
				t.Errorf("verbose=%v: line %d is not %q:\n%s", verbose, i+1, want, err)
			}
			if got := oe.Sets[i]; got.Rejected != s.rejected || got.Denied != s.denied {
				t.Errorf("%s: Rejected, Denied = %v, %v, want %v, %v", s.set, got.Rejected, got.Denied, s.rejected, s.denied)
			}
		}
		if whole := strings.Contains(err.Error(), "0: (b7) r0 = 0"); !verbose && len(lines) != 1+len(sets) || verbose && !whole {
			t.Errorf("verbose=%v: %d lines, whole log %v:\n%s", verbose, len(lines), whole, err)
		}
		if !oe.Rejected() || oe.Denied() {
			t.Errorf("Rejected() = %v, Denied() = %v", oe.Rejected(), oe.Denied())
		}
		var ve *ebpf.VerifierError
		if !errors.As(err, &ve) {
			t.Error("the OpenError does not unwrap to *ebpf.VerifierError")
		}
	}
}

// probeErr is an error of a hook set's probe.
func probeErr(msg string) error { return errors.New(msg) }

// TestOpenErrorDenied: a load or an attach refused with EPERM names the
// capabilities, on one line; another load error reads as one line too.
func TestOpenErrorDenied(t *testing.T) {
	load := hookSetError(HooksBTF, loadError(fmt.Errorf("program pw_btf_sys_exit: %w",
		&ebpf.VerifierError{Cause: unix.EPERM}), false), false)
	attach := hookSetError(HooksSyscalls, fmt.Errorf("attach tracepoint syscalls/sys_exit_write: %w",
		needsCaps(unix.EPERM, bpfCaps)), false)
	for _, c := range []struct {
		e    *HookSetError
		want string
	}{
		{load, "btf: kernel refused to load pw_btf_sys_exit: operation not permitted (needs " + bpfCaps + ")"},
		{attach, "syscalls: attach tracepoint syscalls/sys_exit_write: operation not permitted (needs " + bpfCaps + ")"},
	} {
		if c.e.Error() != c.want || !c.e.Denied || c.e.Rejected {
			t.Errorf("%q (Denied %v, Rejected %v), want %q, denied", c.e, c.e.Denied, c.e.Rejected, c.want)
		}
	}
	// Not a permission error, nor the verifier's: the load's own error,
	// without the wrapping.
	reloc := hookSetError(HooksBTF, loadError(fmt.Errorf("assign values: field PwBtfSysExit: program pw_btf_sys_exit: apply CO-RE relocations: %w",
		errors.New("no BTF found for kernel version")), false), false)
	if want := "btf: load pw_btf_sys_exit: apply CO-RE relocations: no BTF found for kernel version"; reloc.Error() != want || reloc.Denied || reloc.Rejected {
		t.Errorf("%q (Denied %v, Rejected %v), want %q", reloc, reloc.Denied, reloc.Rejected, want)
	}
	if oe := (&OpenError{Sets: []*HookSetError{load, attach}}); !oe.Denied() || oe.Rejected() {
		t.Errorf("Denied() = %v, Rejected() = %v", oe.Denied(), oe.Rejected())
	}
}

// TestFallbackLines: the reasons auto passed the cheaper sets read one set
// a line.
func TestFallbackLines(t *testing.T) {
	err := joinSetErrors([]*HookSetError{
		hookSetError(HooksSock, probeErr("tracepoint sock/sock_send_length not in this kernel (Linux 6.3+)"), false),
		hookSetError(HooksBTF, loadError(rejection("pw_btf_sys_exit", "combined stack size of 5 calls is 592. Too large"), false), false),
	})
	want := "sock: tracepoint sock/sock_send_length not in this kernel (Linux 6.3+)\n" +
		"btf: verifier rejected pw_btf_sys_exit: combined stack size of 5 calls is 592. Too large"
	if err == nil || err.Error() != want {
		t.Errorf("Fallback error\n%v\nwant\n%s", err, want)
	}
	if joinSetErrors(nil) != nil {
		t.Error("no set skipped: want nil")
	}
}
