package otlp

import (
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/propwatch/propwatch/internal/report"
)

// limiter allows each pair at most rate spans a second, with bursts of as
// many (at least one), by a token bucket per pair. Its table is capped: past maxPairs the
// pair used least recently is forgotten, and comes back with a full bucket.
// A host with more active pairs than the cap can so exceed the rate on some
// of them; the observer caps pairs too (--max-pairs), and the limiter's cap
// is set above it.
type limiter struct {
	rate  float64 // tokens a second
	burst float64 // the bucket's size
	pairs *simplelru.LRU[report.PairKey, *bucket]
}

type bucket struct {
	tokens float64
	last   int64 // UnixNano of the last refill
}

// newLimiter returns a limiter of rate spans a second per pair (rate > 0)
// over at most maxPairs pairs.
func newLimiter(rate float64, maxPairs int) *limiter {
	if maxPairs <= 0 {
		maxPairs = 1
	}
	l := &limiter{rate: rate, burst: max(rate, 1)}
	l.pairs, _ = simplelru.NewLRU[report.PairKey, *bucket](maxPairs, nil)
	return l
}

// allow takes a token from pair's bucket at now, reporting whether there
// was one. Time that goes backwards (capture clocks of two CPUs) adds
// nothing.
func (l *limiter) allow(pair report.PairKey, now time.Time) bool {
	t := now.UnixNano()
	b, ok := l.pairs.Get(pair)
	if !ok {
		b = &bucket{tokens: l.burst, last: t}
		l.pairs.Add(pair, b)
	}
	if d := t - b.last; d > 0 {
		b.tokens = min(l.burst, b.tokens+float64(d)*l.rate/1e9)
		b.last = t
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// len is the number of pairs the limiter remembers.
func (l *limiter) len() int { return l.pairs.Len() }
