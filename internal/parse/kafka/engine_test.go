package kafka_test

import (
	"testing"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/kafka"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEngineJudgesRecordHeaders runs decoded record headers through the
// engine, as the observer will: a valid traceparent, and an email in
// baggage found as PII.
func TestEngineJudgesRecordHeaders(t *testing.T) {
	rec := kmsg.Record{Value: []byte("v"), Headers: []kmsg.Header{
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")},
		{Key: "baggage", Value: []byte("userId=alice,email=alice%40example.com")},
	}}
	body := rec.AppendTo(nil)
	rec.Length = int32(len(body) - 1)
	records := rec.AppendTo(nil)
	rb := kmsg.RecordBatch{Length: int32(49 + len(records)), Magic: 2, NumRecords: 1, Records: records, ProducerID: -1}
	batch := rb.AppendTo(nil)
	// CRC-32C over attributes onwards.
	crc := crc32c(batch[21:])
	batch[17], batch[18], batch[19], batch[20] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	req := kmsg.ProduceRequest{Version: 9, Topics: []kmsg.ProduceRequestTopic{{Topic: "orders",
		Partitions: []kmsg.ProduceRequestTopicPartition{{Records: batch}}}}}

	a := parse.NewAnalyzer(parse.Options{})
	d := kafka.NewDecoder(kafka.Limits{}, nil)
	var verdicts []parse.Verdict
	st := d.Produce(req.AppendTo(nil), 9, true, func(r *kafka.Record) {
		verdicts = append(verdicts, *a.Fields(r.Headers))
	})
	if st.Records != 1 || len(verdicts) != 1 {
		t.Fatalf("%+v", st)
	}
	v := verdicts[0]
	if v.Context != parse.Valid || v.PII[pii.Email] != 1 {
		t.Fatalf("verdict %+v", v)
	}
}

func crc32c(b []byte) uint32 {
	var table [256]uint32
	for i := range table {
		c := uint32(i)
		for range 8 {
			if c&1 == 1 {
				c = c>>1 ^ 0x82f63b78
			} else {
				c >>= 1
			}
		}
		table[i] = c
	}
	crc := ^uint32(0)
	for _, x := range b {
		crc = table[byte(crc)^x] ^ crc>>8
	}
	return ^crc
}
