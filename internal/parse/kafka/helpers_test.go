package kafka

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Header values used throughout the tests.
const (
	tp      = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ts      = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
	bagMail = "userId=alice,email=alice%40example.com"
)

// tcodec is a codec as a test builds it: snappy comes raw or in
// snappy-java's xerial framing.
type tcodec struct {
	name   string
	codec  Codec
	xerial bool
}

var testCodecs = []tcodec{
	{"none", CodecNone, false},
	{"gzip", CodecGzip, false},
	{"snappy", CodecSnappy, false},
	{"snappy-xerial", CodecSnappy, true},
	{"lz4", CodecLZ4, false},
	{"zstd", CodecZstd, false},
}

// hdr is one record header; a nil value is written as null.
type hdr struct {
	key   string
	value []byte
}

func h(k, v string) hdr { return hdr{k, []byte(v)} }

// trec is a record to encode.
type trec struct {
	headers []hdr
	value   []byte
}

// encodeRecords encodes records in the v2 record layout.
func encodeRecords(recs []trec) []byte {
	var out []byte
	for i, r := range recs {
		kr := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Value: r.value}
		for _, hh := range r.headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: hh.key, Value: hh.value})
		}
		body := kr.AppendTo(nil)
		// AppendTo writes Length as given; the first byte is that
		// varint (0), so re-encode with the real length.
		kr.Length = int32(len(body) - 1)
		out = kr.AppendTo(out)
	}
	return out
}

// compress compresses raw as a Kafka client would with c.
func compress(tb testing.TB, c tcodec, raw []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	switch c.codec {
	case CodecNone:
		return raw
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	case CodecSnappy:
		if !c.xerial {
			return snappy.Encode(nil, raw)
		}
		return xerialEncode(raw, 32<<10)
	case CodecLZ4:
		// 64 KiB blocks, as Java's KafkaLZ4BlockOutputStream writes.
		w := lz4.NewWriter(&buf)
		if err := w.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
			tb.Fatal(err)
		}
		w.Write(raw)
		if err := w.Close(); err != nil {
			tb.Fatal(err)
		}
	case CodecZstd:
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			tb.Fatal(err)
		}
		return enc.EncodeAll(raw, nil)
	}
	return buf.Bytes()
}

// xerialEncode writes snappy-java's stream framing with blocks of at most
// block bytes, as SnappyOutputStream does.
func xerialEncode(raw []byte, block int) []byte {
	out := append([]byte(nil), xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1) // version
	out = binary.BigEndian.AppendUint32(out, 1) // compatible version
	for len(raw) > 0 {
		n := min(block, len(raw))
		enc := snappy.Encode(nil, raw[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(enc)))
		out = append(out, enc...)
		raw = raw[n:]
	}
	return out
}

// batchOf builds a whole v2 record batch around already-encoded (and
// possibly compressed) records, with a correct CRC.
func batchOf(firstOffset int64, attrs int16, count int32, records []byte) []byte {
	rb := kmsg.RecordBatch{
		FirstOffset:          firstOffset,
		Length:               int32(batchLengthOverhead + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      count - 1,
		FirstTimestamp:       1700000000000,
		MaxTimestamp:         1700000000000,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           count,
		Records:              records,
	}
	b := rb.AppendTo(nil)
	fixCRC(b)
	return b
}

// fixCRC recomputes the CRC of the batch at the start of b.
func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[offCRCStart:], crc32.MakeTable(crc32.Castagnoli)))
}

// makeBatch encodes recs as one batch compressed with c.
func makeBatch(tb testing.TB, c tcodec, firstOffset int64, recs []trec) []byte {
	return batchOf(firstOffset, int16(c.codec), int32(len(recs)), compress(tb, c, encodeRecords(recs)))
}

// traced returns n records, every third without headers, the others with
// traceparent and baggage (which carries an email), and every fourth also
// with tracestate.
func traced(n int) []trec {
	recs := make([]trec, n)
	for i := range recs {
		recs[i].value = []byte(fmt.Sprintf("payload-%d", i))
		if i%3 == 2 {
			continue
		}
		recs[i].headers = []hdr{h("traceparent", tp), h("baggage", bagMail)}
		if i%4 == 0 {
			recs[i].headers = append(recs[i].headers, h("tracestate", ts))
		}
	}
	return recs
}

// threeHeaders returns n records each with traceparent, tracestate and
// baggage, the benchmark's shape.
func threeHeaders(n int) []trec {
	recs := make([]trec, n)
	for i := range recs {
		recs[i] = trec{
			headers: []hdr{h("traceparent", tp), h("tracestate", ts), h("baggage", bagMail)},
			value:   []byte(fmt.Sprintf(`{"order":%d,"sku":"A-1"}`, i)),
		}
	}
	return recs
}

// tpart is one partition of a built frame.
type tpart struct {
	partition int32
	records   []byte
}

// ttopic is one topic of a built frame.
type ttopic struct {
	name  string
	id    [16]byte
	parts []tpart
}

var ordersID = [16]byte{0x4a, 0x1b, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
var paymentsID = [16]byte{0x77, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16}

// produceBody builds a Produce request body with kmsg.
func produceBody(version int16, topics ...ttopic) []byte {
	req := kmsg.ProduceRequest{Version: version, Acks: -1, TimeoutMillis: 30000}
	for _, t := range topics {
		rt := kmsg.ProduceRequestTopic{Topic: t.name, TopicID: t.id}
		for _, p := range t.parts {
			rt.Partitions = append(rt.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p.partition, Records: p.records})
		}
		req.Topics = append(req.Topics, rt)
	}
	return req.AppendTo(nil)
}

// fetchBody builds a Fetch response body with kmsg.
func fetchBody(version int16, topics ...ttopic) []byte {
	resp := kmsg.FetchResponse{Version: version, SessionID: 7}
	for _, t := range topics {
		rt := kmsg.FetchResponseTopic{Topic: t.name, TopicID: t.id}
		for _, p := range t.parts {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.partition
			rp.HighWatermark = 1000
			rp.LastStableOffset = 1000
			rp.RecordBatches = p.records
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp.AppendTo(nil)
}

// metadataBody builds a Metadata response body mapping the given ids.
func metadataBody(version int16, topics ...ttopic) []byte {
	resp := kmsg.MetadataResponse{Version: version}
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 1, Host: "broker-1.kafka.svc", Port: 9092}}
	cluster := "cluster-a"
	resp.ClusterID = &cluster
	for _, t := range topics {
		name := t.name
		mt := kmsg.MetadataResponseTopic{Topic: &name, TopicID: t.id}
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{{Partition: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp.AppendTo(nil)
}

// requestFrame wraps a body in a request header, as a client writes it.
func requestFrame(key, version int16, correlation int32, clientID string, body []byte) []byte {
	var hd []byte
	hd = binary.BigEndian.AppendUint16(hd, uint16(key))
	hd = binary.BigEndian.AppendUint16(hd, uint16(version))
	hd = binary.BigEndian.AppendUint32(hd, uint32(correlation))
	hd = binary.BigEndian.AppendUint16(hd, uint16(len(clientID)))
	hd = append(hd, clientID...)
	if info, ok := apiFor(key, version); ok && info.reqFlex&(1<<version) != 0 {
		hd = append(hd, 0) // no tagged fields
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(hd)+len(body)))
	out = append(out, hd...)
	return append(out, body...)
}

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
func want(topic string, partition int32, base int64, recs []trec) []seen {
	var out []seen
	for i, r := range recs {
		var fs []http1.Field
		for _, hh := range r.headers {
			fs = append(fs, http1.Field{Name: []byte(hh.key), Value: hh.value})
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
