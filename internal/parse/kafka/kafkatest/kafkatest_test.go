package kafkatest

import (
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/kafka"
)

// TestFramesDecode checks the builders against the decoder: every codec,
// a Produce request and a Fetch response whose headers come back whole.
func TestFramesDecode(t *testing.T) {
	recs := []Record{{Headers: []Header{H("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}, Value: []byte("v")}, {Value: []byte("w")}}
	for _, c := range Codecs {
		t.Run(c.Name, func(t *testing.T) {
			if name := kafka.Codec(c.Codec).String(); !strings.HasPrefix(c.Name, name) {
				t.Fatalf("codec id %d is kafka's %s", c.Codec, name)
			}
			d := kafka.NewDecoder(kafka.Limits{}, nil)
			headers := 0
			visit := func(r *kafka.Record) { headers += len(r.Headers) }
			req := RequestFrame(kafka.APIProduce, 9, 1, "p", ProduceBody(9, Topic{Name: "orders", Partitions: []Partition{{0, Batch(c, 0, recs)}}}))
			h, st := kafka.SniffRequest(req)
			if st != kafka.Request || h.FrameLen() != len(req) {
				t.Fatalf("sniff: %v %+v", st, h)
			}
			if s := d.Produce(req[h.HeaderLen:], 9, true, visit); s.Records != 2 || s.GapTotal() != 0 {
				t.Fatalf("produce: %+v", s)
			}
			resp := ResponseFrame(kafka.APIFetch, 12, 1, FetchBody(12, Topic{Name: "orders", Partitions: []Partition{{0, Batch(c, 5, recs)}}}))
			rh, st := kafka.ParseResponseHeader(resp, kafka.APIFetch, 12)
			if st != kafka.Response || rh.FrameLen() != len(resp) {
				t.Fatalf("response header: %v %+v", st, rh)
			}
			if s := d.FetchResponse(resp[rh.HeaderLen:], 12, true, visit); s.Records != 2 || s.GapTotal() != 0 {
				t.Fatalf("fetch: %+v", s)
			}
			if headers != 2 {
				t.Fatalf("%d headers", headers)
			}
		})
	}
}
