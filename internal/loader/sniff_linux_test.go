//go:build linux && (amd64 || arm64)

package loader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/privtest"
)

// Test-only wrappers of bpf/http.h and bpf/kafka.h (bpf/sniff_test.c), generated into
// snifftest_bpfel_test.go and .o: they never reach the propwatch binary.
//go:generate go tool bpf2go -tags linux -target bpfel -type sniff_args snifftest ../../bpf/sniff_test.c -- -mcpu=v3 -Wall -Werror -Wpadded

// The results of http_sniff (enum sniff in bpf/http.h).
const (
	sniffNone   = 0
	sniffPrefix = 1
	sniffStart  = 2
)

// goSniff is the reference http_sniff is checked against: the request
// methods of RFC 9110 followed by a space.
func goSniff(b []byte) uint32 {
	b = b[:min(len(b), 8)]
	prefix := false
	for _, m := range []string{"GET ", "PUT ", "POST ", "HEAD ", "PATCH ", "TRACE ", "DELETE ", "OPTIONS ", "CONNECT "} {
		if len(b) >= len(m) {
			if string(b[:len(m)]) == m {
				return sniffStart
			}
		} else if m[:len(b)] == string(b) {
			prefix = true
		}
	}
	if prefix {
		return sniffPrefix
	}
	return sniffNone
}

// goTailPush is the reference of tail_push: the last four bytes of the
// stream after n fresh bytes.
func goTailPush(tail, fresh uint32, n int) uint32 {
	var stream []byte
	stream = binary.LittleEndian.AppendUint32(stream, tail)
	stream = binary.LittleEndian.AppendUint32(stream, fresh)
	stream = stream[:4+min(n, 4)]
	return binary.LittleEndian.Uint32(stream[len(stream)-4:])
}

// sniffProgs loads the test programs, or skips when the kernel cannot run
// them.
func sniffProgs(t testing.TB) *snifftestObjects {
	t.Helper()
	privtest.RequireBPF(t)
	var objs snifftestObjects
	if err := loadSnifftestObjects(&objs, nil); err != nil {
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("BPF_PROG_TYPE_SYSCALL programs (Linux 5.14+) not supported: %v", err)
		}
		t.Fatalf("load sniff test programs: %v", err)
	}
	t.Cleanup(func() { objs.Close() })
	return &objs
}

func runSniff(t testing.TB, p *ebpf.Program, args snifftestSniffArgs) uint32 {
	t.Helper()
	ret, err := p.Run(&ebpf.RunOptions{Context: args})
	if err != nil {
		t.Fatalf("run %v: %v", p, err)
	}
	return ret
}

// sniffKernel runs http_sniff on the first bytes of b.
func sniffKernel(t testing.TB, objs *snifftestObjects, b []byte) uint32 {
	var word [8]byte
	n := copy(word[:], b)
	return runSniff(t, objs.RunHttpSniff, snifftestSniffArgs{Word: binary.LittleEndian.Uint64(word[:]), N: uint32(n)})
}

func TestHTTPSniff(t *testing.T) {
	objs := sniffProgs(t)
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"GET / HTTP/1.1", sniffStart},
		{"GET ", sniffStart},
		{"POST /", sniffStart},
		{"OPTIONS * HTTP/1.1", sniffStart},
		{"CONNECT host:443 HTTP/1.1", sniffStart},
		{"DELETE /x", sniffStart},
		{"G", sniffPrefix},
		{"GE", sniffPrefix},
		{"GET", sniffPrefix},
		{"P", sniffPrefix},
		{"PA", sniffPrefix},
		{"OPTIONS", sniffPrefix},
		{"GETS / HTTP/1.1", sniffNone},
		{"get / HTTP/1.1", sniffNone},
		{"HTTP/1.1 200 OK", sniffNone},
		{"\x16\x03\x01\x02\x00", sniffNone},
		{"X", sniffNone},
		{"POSTGRES", sniffNone},
	} {
		got := sniffKernel(t, objs, []byte(tc.in))
		if got != tc.want || goSniff([]byte(tc.in)) != tc.want {
			t.Errorf("sniff(%q) = kernel %d, Go %d, want %d", tc.in, got, goSniff([]byte(tc.in)), tc.want)
		}
	}
}

// TestHTTPResponse: what makes the sock hooks skip a direction for good
// (sk_note.responses) must be an HTTP/1.0 or 1.1 status line and nothing
// else, judged on exactly eight bytes.
func TestHTTPResponse(t *testing.T) {
	objs := sniffProgs(t)
	for _, tc := range []struct {
		in   string
		want uint32
	}{
		{"HTTP/1.1 200 OK", 1},
		{"HTTP/1.0 404 Not Found", 1},
		{"HTTP/1.1", 1},
		{"HTTP/2.0 200", 0},
		{"HTTP/1.", 0}, // seven bytes: undecided, so no
		{"http/1.1 200", 0},
		{"GET / HTTP/1.1", 0},
		{"HTTP/1.2 200", 0},
		{"", 0},
	} {
		var word [8]byte
		n := copy(word[:], tc.in)
		got := runSniff(t, objs.RunHttpResponse, snifftestSniffArgs{Word: binary.LittleEndian.Uint64(word[:]), N: uint32(n)})
		if got != tc.want {
			t.Errorf("http_response(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzHTTPSniff checks the kernel's http_sniff against goSniff.
func FuzzHTTPSniff(f *testing.F) {
	for _, s := range []string{"GET / ", "PATCH /", "PUT", "HEAD /", "TRACE /", "CONNECT ", "OPTIONS*", "\x00\x01", "P"} {
		f.Add([]byte(s))
	}
	objs := sniffProgs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		if got, want := sniffKernel(t, objs, b), goSniff(b); got != want {
			t.Errorf("sniff(%q): kernel %d, Go %d", b, got, want)
		}
	})
}

// FuzzTailPush checks the kernel's tail_push, and with it the detection of
// a head's end split across chunks, against goTailPush.
func FuzzTailPush(f *testing.F) {
	f.Add(uint32(0x0a0d0000), uint32(0x0a0d), uint8(2))
	f.Add(uint32(0x0d0a0d0a), uint32(0x0a), uint8(1))
	f.Add(uint32(1), uint32(0x0a0d0a0d), uint8(4))
	f.Add(uint32(7), uint32(9), uint8(0))
	objs := sniffProgs(f)
	f.Fuzz(func(t *testing.T, tail, fresh uint32, n uint8) {
		n %= 9
		got := runSniff(t, objs.RunTailPush, snifftestSniffArgs{Tail: tail, Fresh: fresh, N: uint32(n)})
		if want := goTailPush(tail, fresh, int(n)); got != want {
			t.Errorf("tail_push(%#x, %#x, %d) = %#x, want %#x", tail, fresh, n, got, want)
		}
	})
}

// TestHeadEndAcrossChunks feeds "\r\n\r\n" split every way through
// tail_push.
func TestHeadEndAcrossChunks(t *testing.T) {
	objs := sniffProgs(t)
	stream := []byte("Host: x\r\n\r\n")
	for cut := 1; cut < 4; cut++ {
		first, rest := stream[:len(stream)-cut], stream[len(stream)-cut:]
		tail := binary.LittleEndian.Uint32(first[len(first)-4:])
		var fresh [4]byte
		copy(fresh[:], rest)
		got := runSniff(t, objs.RunTailPush, snifftestSniffArgs{Tail: tail, Fresh: binary.LittleEndian.Uint32(fresh[:]), N: uint32(len(rest))})
		if !bytes.Equal(binary.LittleEndian.AppendUint32(nil, got), []byte("\r\n\r\n")) {
			t.Errorf("cut %d: tail %q, want \\r\\n\\r\\n", cut, binary.LittleEndian.AppendUint32(nil, got))
		}
	}
}

// goKafkaSniff is the Go reference of the kernel's kafka_sniff: 0 none, 1
// a Produce request (capture), 2 any other request (track).
func goKafkaSniff(b []byte) uint32 {
	if len(b) < 8 {
		return 0
	}
	size := binary.BigEndian.Uint32(b)
	key, ver := int16(binary.BigEndian.Uint16(b[4:])), int16(binary.BigEndian.Uint16(b[6:]))
	if size < 10 || size > kafka.MaxRequestSize || key < 0 || key > 127 || ver < 0 || ver > 31 {
		return 0
	}
	if key == kafka.APIProduce {
		if ver >= 2 && ver <= 13 {
			return 1
		}
		return 0
	}
	return 2
}

// goKafkaSizePrefix is the reference of kafka_size_prefix.
func goKafkaSizePrefix(b []byte) uint32 {
	if len(b) != 4 {
		return 0
	}
	if size := binary.BigEndian.Uint32(b); size >= 8 && size <= kafka.MaxRequestSize {
		return 1
	}
	return 0
}

func kafkaKernel(t testing.TB, p *ebpf.Program, b []byte) uint32 {
	var word [8]byte
	n := copy(word[:], b)
	return runSniff(t, p, snifftestSniffArgs{Word: binary.LittleEndian.Uint64(word[:]), N: uint32(n)})
}

func TestKafkaSniff(t *testing.T) {
	objs := sniffProgs(t)
	frame := func(size uint32, key, ver int16) []byte {
		b := binary.BigEndian.AppendUint32(nil, size)
		b = binary.BigEndian.AppendUint16(b, uint16(key))
		return binary.BigEndian.AppendUint16(b, uint16(ver))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want uint32
	}{
		{"produce v9", frame(300, 0, 9), 1},
		{"produce v3", frame(300, 0, 3), 1},
		{"produce v14", frame(300, 0, 14), 0},
		{"produce v2", frame(300, 0, 2), 1},
		{"produce v1", frame(300, 0, 1), 0},
		{"http2 settings on stream 0 (produce v0)", []byte{0, 0, 0x12, 4, 0, 0, 0, 0}, 0},
		{"http2 window update on stream 0 (produce v0)", []byte{0, 0, 4, 8, 0, 0, 0, 0}, 0},
		{"http2 data on stream 1 (produce v1)", []byte{0, 0x10, 0, 0, 0, 0, 0, 1}, 0},
		{"fetch v17", frame(60, 1, 17), 2},
		{"metadata v12", frame(40, 3, 12), 2},
		{"api versions", frame(40, 18, 3), 2},
		{"api key 128", frame(40, 128, 0), 0},
		{"version 32", frame(40, 1, 32), 0},
		{"size too small", frame(9, 0, 9), 0},
		{"size too large", frame(100<<20+1, 0, 9), 0},
		{"negative version", frame(300, 0, -1), 0},
		{"short", frame(300, 0, 9)[:7], 0},
		{"http", []byte("GET / HT"), 0},
	} {
		got, ref := kafkaKernel(t, objs.RunKafkaSniff, tc.in), goKafkaSniff(tc.in)
		if got != tc.want || ref != tc.want {
			t.Errorf("%s: kafka_sniff = kernel %d, Go %d, want %d", tc.name, got, ref, tc.want)
		}
	}
	for _, tc := range []struct {
		in   []byte
		want uint32
	}{
		{[]byte{0, 0, 1, 0}, 1},
		{[]byte{0, 0, 0, 7}, 0},
		{[]byte{0, 0, 1, 0, 0}, 0},
		{[]byte{0x7f, 0, 0, 0}, 0},
	} {
		if got := kafkaKernel(t, objs.RunKafkaSizePrefix, tc.in); got != tc.want {
			t.Errorf("kafka_size_prefix(%x) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// FuzzKafkaSniff checks the kernel's Kafka sniffers against the Go
// references.
func FuzzKafkaSniff(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 0, 0, 9})
	f.Add([]byte{0, 0, 0, 60, 0, 1, 0, 17})
	f.Add([]byte{0, 0, 1, 0})
	objs := sniffProgs(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 8 {
			b = b[:8]
		}
		if got, want := kafkaKernel(t, objs.RunKafkaSniff, b), goKafkaSniff(b); got != want {
			t.Errorf("kafka_sniff(%x): kernel %d, Go %d", b, got, want)
		}
		if got, want := kafkaKernel(t, objs.RunKafkaSizePrefix, b), goKafkaSizePrefix(b); got != want {
			t.Errorf("kafka_size_prefix(%x): kernel %d, Go %d", b, got, want)
		}
	})
}
