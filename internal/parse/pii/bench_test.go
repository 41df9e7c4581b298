package pii

import (
	"strings"
	"testing"
	"time"
)

var benchClean = [][]byte{
	[]byte("alice"),
	[]byte("acme-prod"),
	[]byte("1700000000"),
	[]byte("550e8400-e29b-41d4-a716-446655440000"),
	[]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
	[]byte("checkout-7d9f8b6c5d-x2x7k"),
}

var sink Set

func BenchmarkScanClean(b *testing.B) {
	for _, v := range benchClean {
		b.Run(benchName(v), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				sink = Scan(v, 0)
			}
		})
	}
}

func BenchmarkScanFindings(b *testing.B) {
	for _, tc := range []struct{ name, v string }{
		{"email", "alice@example.com"},
		{"card", "4111 1111 1111 1111"},
		{"jwt", jwtHS256},
		{"iban", "DE89 3704 0044 0532 0130 00"},
	} {
		v := []byte(tc.v)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				sink = Scan(v, 0)
			}
		})
	}
}

// hostile inputs: each is built to make a naive matcher restart its scan at
// every position. n is the target size; the pattern repeats to fill it.
var hostile = []struct{ name, unit string }{
	{"at", "a@"},
	{"ones", "1"},
	{"ones_spaced", "1 "},
	{"ones_dashed", "1-"},
	{"eyJ", "eyJ"},
	{"eyJ_dots", "eyJaaaaaaaa."},
	{"pem", "-----BEGINPRIVATE KE"},
	{"iban_groups", "DE89 "},
	{"plus", "+1"},
	{"local", "a.a-a+"},
	{"upper", "AKIA"},
	{"dots_at", "a.b@c.d"},
}

func hostileValue(unit string, n int) []byte {
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

func BenchmarkScanHostile(b *testing.B) {
	for _, size := range []int{64 << 10, 1 << 20} {
		for _, h := range hostile {
			v := hostileValue(h.unit, size)
			b.Run(h.name+"/"+sizeName(size), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(v)))
				for b.Loop() {
					sink = Scan(v, HintPhone|HintSSN)
				}
			})
		}
	}
}

var hintSink KeyHint

func BenchmarkClassifyKey(b *testing.B) {
	for _, k := range []string{"user.id", "user.email", "X_API_KEY", "deployment.environment", "userPhoneNumber"} {
		key := []byte(k)
		b.Run(k, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hintSink = ClassifyKey(key)
			}
		})
	}
}

func BenchmarkFingerprint(b *testing.B) {
	f := NewFingerprinterWithKey([]byte("bench-key"))
	v := []byte("alice@example.com")
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf = f.AppendSum(buf[:0], v)
	}
}

func benchName(v []byte) string {
	if len(v) > 20 {
		return string(v[:20])
	}
	return string(v)
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return "1MiB"
	}
	return "64KiB"
}

// TestScanLinear compares Scan on 64 KiB and 1 MiB of each hostile pattern.
// Linear code takes about 16× longer on the larger input; quadratic code
// 256×. The bound of 64× leaves room for timer noise on a shared machine.
func TestScanLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	for _, h := range hostile {
		small := hostileValue(h.unit, 64<<10)
		large := hostileValue(h.unit, 1<<20)
		ts := minDuration(func() { Scan(small, HintPhone|HintSSN) })
		tl := minDuration(func() { Scan(large, HintPhone|HintSSN) })
		if ts <= 0 {
			ts = time.Nanosecond
		}
		if ratio := float64(tl) / float64(ts); ratio > 64 {
			t.Errorf("%s: 1 MiB took %v, 64 KiB took %v (ratio %.0f): not linear", h.name, tl, ts, ratio)
		}
	}
}

func minDuration(fn func()) time.Duration {
	best := time.Duration(1 << 62)
	for i := 0; i < 7; i++ {
		start := time.Now()
		fn()
		if d := time.Since(start); d < best {
			best = d
		}
	}
	return best
}
