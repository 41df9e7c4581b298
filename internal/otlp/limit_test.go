package otlp

import (
	"fmt"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/report"
)

func TestLimiterRate(t *testing.T) {
	l := newLimiter(10, 100)
	a := report.PairKey{Source: "a", Destination: "b", Protocol: "http"}
	b := report.PairKey{Source: "b", Destination: "a", Protocol: "http"}
	t0 := time.Unix(1000, 0)
	allowed := func(p report.PairKey, at time.Time, n int) int {
		k := 0
		for range n {
			if l.allow(p, at) {
				k++
			}
		}
		return k
	}
	// A burst of the rate, then nothing until time passes.
	if n := allowed(a, t0, 50); n != 10 {
		t.Errorf("burst allowed %d", n)
	}
	// Each pair has its own bucket.
	if n := allowed(b, t0, 50); n != 10 {
		t.Errorf("other pair allowed %d", n)
	}
	// 0.5 s refills 5.
	if n := allowed(a, t0.Add(500*time.Millisecond), 50); n != 5 {
		t.Errorf("after 0.5s allowed %d", n)
	}
	// Time going backwards adds nothing.
	if n := allowed(a, t0, 50); n != 0 {
		t.Errorf("backwards allowed %d", n)
	}
	// A long pause refills at most the burst.
	if n := allowed(a, t0.Add(time.Hour), 50); n != 10 {
		t.Errorf("after an hour allowed %d", n)
	}
	// Over 10 s at 1000 offers a second: 10 a second plus the first burst.
	l = newLimiter(10, 100)
	n := 0
	for i := range 10000 {
		if l.allow(a, t0.Add(time.Duration(i)*time.Millisecond)) {
			n++
		}
	}
	if n < 109 || n > 111 {
		t.Errorf("10s at 1000/s allowed %d, want 110", n)
	}
}

func TestLimiterFractionalRate(t *testing.T) {
	l := newLimiter(0.5, 10)
	p := report.PairKey{Source: "a"}
	t0 := time.Unix(1000, 0)
	if !l.allow(p, t0) || l.allow(p, t0.Add(time.Second)) || !l.allow(p, t0.Add(2*time.Second)) {
		t.Error("0.5/s: want one span every two seconds")
	}
}

// TestLimiterBounded: the table never holds more than its cap however many
// pairs come, and the pair used least recently goes first.
func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1, 100)
	t0 := time.Unix(1000, 0)
	hot := report.PairKey{Source: "hot"}
	l.allow(hot, t0)
	for i := range 100000 {
		l.allow(report.PairKey{Source: fmt.Sprint(i)}, t0)
		if i%50 == 0 {
			l.allow(hot, t0) // keeps it recent, and its bucket empty
		}
	}
	if l.len() != 100 {
		t.Errorf("%d pairs remembered", l.len())
	}
	if l.allow(hot, t0) {
		t.Error("the hot pair was forgotten: its bucket came back full")
	}
}
