package kafka

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
)

// The frames and batches the tests decode are built by kafkatest.

// Header values used throughout the tests.
const (
	tp      = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ts      = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	bagMail = "userId=alice,email=alice%40example.com"
)

// traced returns n records, every third without headers, the others with
// traceparent and baggage (which carries an email), and every fourth also
// with tracestate.
func traced(n int) []kafkatest.Record {
	recs := make([]kafkatest.Record, n)
	for i := range recs {
		recs[i].Value = []byte(fmt.Sprintf("payload-%d", i))
		if i%3 == 2 {
			continue
		}
		recs[i].Headers = []kafkatest.Header{kafkatest.H("traceparent", tp), kafkatest.H("baggage", bagMail)}
		if i%4 == 0 {
			recs[i].Headers = append(recs[i].Headers, kafkatest.H("tracestate", ts))
		}
	}
	return recs
}

// threeHeaders returns n records each with traceparent, tracestate and
// baggage, the benchmark's shape.
func threeHeaders(n int) []kafkatest.Record {
	recs := make([]kafkatest.Record, n)
	for i := range recs {
		recs[i] = kafkatest.Record{
			Headers: []kafkatest.Header{kafkatest.H("traceparent", tp), kafkatest.H("tracestate", ts), kafkatest.H("baggage", bagMail)},
			Value:   []byte(fmt.Sprintf(`{"order":%d,"sku":"A-1"}`, i)),
		}
	}
	return recs
}

var ordersID = [16]byte{0x4a, 0x1b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
var paymentsID = [16]byte{0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16}

// seen is what a test keeps of a visited record.
type seen struct {
	topic     string
	partition int32
	offset    int64
	headers   string
}

func (s seen) String() string {
	return fmt.Sprintf("%s/%d@%d[%s]", s.topic, s.partition, s.offset, s.headers)
}

func fieldsString(fs []http1.Field) string {
	var b bytes.Buffer
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(';')
		}
		fmt.Fprintf(&b, "%s=%s", f.Name, f.Value)
	}
	return b.String()
}

// collect returns a visit func that copies what it sees into *out.
func collect(out *[]seen) func(*Record) {
	return func(r *Record) {
		*out = append(*out, seen{r.Topic, r.Partition, r.Offset, fieldsString(r.Headers)})
	}
}

// want returns what visiting recs at the given base offset should see.
func want(topic string, partition int32, base int64, recs []kafkatest.Record) []seen {
	var out []seen
	for i, r := range recs {
		var fs []http1.Field
		for _, hh := range r.Headers {
			fs = append(fs, http1.Field{Name: []byte(hh.Key), Value: hh.Value})
		}
		out = append(out, seen{topic, partition, base + int64(i), fieldsString(fs)})
	}
	return out
}

// gapLog records every OnGap call.
type gapLog []Gap

func (g *gapLog) on(x Gap) { *g = append(*g, x) }

func equalSeen(tb testing.TB, got, wantS []seen) {
	tb.Helper()
	if len(got) != len(wantS) {
		tb.Fatalf("visited %d records, want %d", len(got), len(wantS))
	}
	for i := range got {
		if got[i] != wantS[i] {
			tb.Fatalf("record %d: got %v, want %v", i, got[i], wantS[i])
		}
	}
}
