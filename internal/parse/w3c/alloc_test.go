package w3c

import (
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// TestNoAllocs pins the hot-path promise: judging well-formed and
// malformed headers allocates nothing once the caller's defect list has room.
func TestNoAllocs(t *testing.T) {
	tp := []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	badTP := []byte(" 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01.")
	ts := [][]byte{[]byte("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"), []byte("FOO=1,foo=,foo=1,foo=2,x")}
	bad := [][]byte{[]byte(",=v,k,k=a b,k=%zz,k=v;;"), typicalBaggage[0]}
	dst := make(reason.List, 0, 16)
	var b Baggage
	cases := map[string]func(){
		"traceparent":         func() { ParseTraceParent(tp) },
		"traceparent_invalid": func() { ParseTraceParent(badTP) },
		"tracestate":          func() { CheckTraceState(ts, dst[:0]) },
		"baggage": func() {
			b.Reset(typicalBaggage, DefaultBaggageLimits())
			for _, ok := b.Next(); ok; _, ok = b.Next() {
			}
			b.Defects(dst[:0])
		},
		"baggage_malformed": func() {
			b.Reset(bad, BaggageLimits{MaxBytes: 8, MaxMembers: 2})
			for _, ok := b.Next(); ok; _, ok = b.Next() {
			}
			b.Defects(dst[:0])
		},
	}
	for name, fn := range cases {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %v allocs/op", name, n)
		}
	}
}
