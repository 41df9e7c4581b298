package report

import (
	"strconv"

	"github.com/propwatch/propwatch/internal/parse/formats"
)

// BaggageBuckets are the upper bounds, in bytes and inclusive, of the
// baggage-size histogram. They bracket the limits that matter: 4096 (at
// risk behind common proxies), 8192 (the W3C minimum and Apache's field
// limit) and beyond, where baggage is dropped outright.
var BaggageBuckets = [...]int{128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768}

// NumBuckets is the number of histogram buckets, +Inf included.
const NumBuckets = len(BaggageBuckets) + 1

// Histogram counts observations in the fixed BaggageBuckets. It is a plain
// value: copying it copies the counts.
type Histogram struct {
	// Counts[i] counts the observations v with BaggageBuckets[i-1] < v <=
	// BaggageBuckets[i]; the last entry counts those above every bound.
	// Counts are per bucket, not cumulative (see Cumulative).
	Counts [NumBuckets]uint64
	// Sum is the total of the observations, Count their number.
	Sum, Count uint64
}

// Observe adds one observation of v bytes.
func (h *Histogram) Observe(v int) {
	i := 0
	for i < len(BaggageBuckets) && v > BaggageBuckets[i] {
		i++
	}
	h.Counts[i]++
	if v > 0 {
		h.Sum += uint64(v)
	}
	h.Count++
}

// Add adds every observation of o to h.
func (h *Histogram) Add(o Histogram) {
	for i, n := range o.Counts {
		h.Counts[i] += n
	}
	h.Sum += o.Sum
	h.Count += o.Count
}

// Cumulative returns the counts the Prometheus way: entry i counts every
// observation at or below bound i, and the last one equals Count.
func (h *Histogram) Cumulative() [NumBuckets]uint64 {
	var c [NumBuckets]uint64
	var run uint64
	for i, n := range h.Counts {
		run += n
		c[i] = run
	}
	return c
}

// bucketLabel names bucket i as reports and metrics do: "128", …, "+Inf".
func bucketLabel(i int) string {
	if i >= len(BaggageBuckets) {
		return "+Inf"
	}
	return strconv.Itoa(BaggageBuckets[i])
}

// formatName names bit i of a formats.Format, or returns "" for a bit
// that names no format.
func formatName(i int) string {
	return formats.Format(1 << i).String()
}
