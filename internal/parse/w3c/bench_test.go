package w3c

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

var (
	sinkTP    TraceParent
	sinkCode  reason.Code
	sinkInt   int
	sinkBytes []byte
)

func BenchmarkParseTraceParent(b *testing.B) {
	v := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		sinkTP, sinkCode = ParseTraceParent(v)
	}
}

func BenchmarkParseTraceParentInvalid(b *testing.B) {
	v := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like")
	b.ReportAllocs()
	for b.Loop() {
		sinkTP, sinkCode = ParseTraceParent(v)
	}
}

func BenchmarkCheckTraceState(b *testing.B) {
	values := [][]byte{[]byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,vendor@tenant=opaque-value_1")}
	dst := make(reason.List, 0, 8)
	b.ReportAllocs()
	b.SetBytes(int64(len(values[0])))
	for b.Loop() {
		var st TraceStateStats
		st, dst = CheckTraceState(values, dst[:0])
		sinkInt = st.Members + len(dst)
	}
}

// typicalBaggage is five members, about 150 bytes, with a property and an
// escape, as an instrumented service would send.
var typicalBaggage = [][]byte{[]byte("userId=alice%40example.com,serverNode=DF%2028,isProduction=false,tenant=acme-corp;ttl=60,session=9f1c2b7e4d3a4c5b8e6f0a1b2c3d4e5f;origin=edge-eu-west-1")}

func BenchmarkBaggage(b *testing.B) {
	benchBaggage(b, typicalBaggage)
}

func benchBaggage(b *testing.B, values [][]byte) {
	var bg Baggage
	dst := make(reason.List, 0, 8)
	n := 0
	for _, v := range values {
		n += len(v)
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		bg.Reset(values, DefaultBaggageLimits())
		for m, ok := bg.Next(); ok; m, ok = bg.Next() {
			sinkInt += len(m.Value)
		}
		dst = bg.Defects(dst[:0])
	}
}

const mib = 1 << 20

func repeatTo(unit string, n int) []byte {
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

// BenchmarkBaggageHostile feeds 1 MiB baggage values built to hurt a
// careless parser: nothing but separators, a flood of tiny members, one
// gigantic member full of escapes, and many properties.
func BenchmarkBaggageHostile(b *testing.B) {
	cases := []struct {
		name string
		v    []byte
	}{
		{"commas", repeatTo(",", mib)},
		{"tiny_members", repeatTo("k=v,", mib)},
		{"one_escaped_member", append([]byte("k="), repeatTo("%E2%82", mib-2)...)},
		{"properties", append([]byte("k=v"), repeatTo(";p=%41", mib-3)...)},
		{"equals_and_ows", repeatTo(" = \t;", mib)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { benchBaggage(b, [][]byte{c.v}) })
	}
}

func BenchmarkCheckTraceStateHostile(b *testing.B) {
	cases := []struct {
		name string
		v    []byte
	}{
		{"same_key", repeatTo("k=v,", mib)},
		{"long_keys", repeatTo(strings.Repeat("a", 250)+"=v,", mib)},
		// 32 stored keys that share length and all but the last character
		// with every later key: the duplicate check's worst case.
		{"near_duplicate_keys", func() []byte {
			var b strings.Builder
			for i := 0; b.Len() < mib; i++ {
				fmt.Fprintf(&b, "%s%02x=v,", strings.Repeat("a", 254), i%256)
			}
			return []byte(b.String()[:mib])
		}()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			dst := make(reason.List, 0, 8)
			b.ReportAllocs()
			b.SetBytes(mib)
			for b.Loop() {
				_, dst = CheckTraceState([][]byte{c.v}, dst[:0])
			}
		})
	}
}

func BenchmarkParseTraceParentHostile(b *testing.B) {
	v := append([]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), bytes.Repeat([]byte{' '}, mib)...)
	v = append(v, 'x')
	b.ReportAllocs()
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		sinkTP, sinkCode = ParseTraceParent(v)
	}
}

func BenchmarkPercentDecode(b *testing.B) {
	src := []byte("Am%C3%A9lie%20DF%2028%E2%82%AC")
	dst := make([]byte, 0, 3*len(src))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		sinkBytes, _ = PercentDecode(dst[:0], src)
	}
}

func BenchmarkPercentDecodeHostile(b *testing.B) {
	src := repeatTo("%E2%82", mib)
	dst := make([]byte, 0, 3*len(src))
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		sinkBytes, _ = PercentDecode(dst[:0], src)
	}
}
