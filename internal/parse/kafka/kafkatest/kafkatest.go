// Package kafkatest builds Kafka frames for tests: record batches (v2, any
// codec, with a correct CRC), Produce request, Fetch response and Metadata
// response bodies encoded with franz-go's kmsg, and the frame headers
// around them. It is imported by tests only, package kafka's own among
// them, so it must not import package kafka.
package kafkatest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Header is one record header; a nil Value is written as null.
type Header struct {
	Key   string
	Value []byte
}

// H returns a header with a string value.
func H(k, v string) Header { return Header{k, []byte(v)} }

// Record is a record to encode.
type Record struct {
	Headers []Header
	Value   []byte
}

// The codec ids of a batch's attributes, kafka.Codec's values.
const (
	codecNone uint8 = iota
	codecGzip
	codecSnappy
	codecLZ4
	codecZstd
)

// Codec is a codec as a test builds it: snappy comes raw or in
// snappy-java's xerial framing.
type Codec struct {
	Name string
	// Codec is the codec's id, as kafka.Codec numbers it.
	Codec  uint8
	Xerial bool
}

// Codecs are every codec Kafka defines, snappy in both framings.
var Codecs = []Codec{
	{"none", codecNone, false},
	{"gzip", codecGzip, false},
	{"snappy", codecSnappy, false},
	{"snappy-xerial", codecSnappy, true},
	{"lz4", codecLZ4, false},
	{"zstd", codecZstd, false},
}

// EncodeRecords encodes records in the v2 record layout.
func EncodeRecords(recs []Record) []byte {
	var out []byte
	for i, r := range recs {
		kr := kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: int64(i), Value: r.Value}
		for _, h := range r.Headers {
			kr.Headers = append(kr.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		body := kr.AppendTo(nil)
		// AppendTo writes Length as given (0, one byte): re-encode with
		// the real length.
		kr.Length = int32(len(body) - 1)
		out = kr.AppendTo(out)
	}
	return out
}

// Compress compresses raw as a Kafka client would with c.
func Compress(c Codec, raw []byte) []byte {
	var buf bytes.Buffer
	switch c.Codec {
	case codecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case codecSnappy:
		if !c.Xerial {
			return snappy.Encode(nil, raw)
		}
		return xerialEncode(raw, 32<<10)
	case codecLZ4:
		// 64 KiB blocks, as Java's KafkaLZ4BlockOutputStream writes.
		w := lz4.NewWriter(&buf)
		w.Apply(lz4.BlockSizeOption(lz4.Block64Kb))
		w.Write(raw)
		w.Close()
	case codecZstd:
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			panic(err)
		}
		return enc.EncodeAll(raw, nil)
	default:
		return raw
	}
	return buf.Bytes()
}

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

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

// batchLengthOverhead is what a batch's length field counts besides the
// records: the header after the length field.
const batchLengthOverhead = 61 - 12

// offCRCStart is where the CRC-32C's coverage starts (attributes).
const offCRCStart = 21

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchOf builds a whole v2 record batch around already-encoded (and
// possibly compressed) records, with a correct CRC.
func BatchOf(firstOffset int64, attrs int16, count int32, records []byte) []byte {
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
	FixCRC(b)
	return b
}

// FixCRC recomputes the CRC of the batch at the start of b.
func FixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[offCRCStart:], castagnoli))
}

// Batch encodes recs as one batch compressed with c.
func Batch(c Codec, firstOffset int64, recs []Record) []byte {
	return BatchOf(firstOffset, int16(c.Codec), int32(len(recs)), Compress(c, EncodeRecords(recs)))
}

// Partition is one partition of a built frame.
type Partition struct {
	Partition int32
	Records   []byte
}

// Topic is one topic of a built frame; ID is used by the versions that
// name topics by id.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions []Partition
}

// ProduceBody builds a Produce request body.
func ProduceBody(version int16, topics ...Topic) []byte {
	req := kmsg.ProduceRequest{Version: version, Acks: -1, TimeoutMillis: 30000}
	for _, t := range topics {
		rt := kmsg.ProduceRequestTopic{Topic: t.Name, TopicID: t.ID}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.ProduceRequestTopicPartition{Partition: p.Partition, Records: p.Records})
		}
		req.Topics = append(req.Topics, rt)
	}
	return req.AppendTo(nil)
}

// FetchBody builds a Fetch response body.
func FetchBody(version int16, topics ...Topic) []byte {
	resp := kmsg.FetchResponse{Version: version, SessionID: 7}
	for _, t := range topics {
		rt := kmsg.FetchResponseTopic{Topic: t.Name, TopicID: t.ID}
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			rp.HighWatermark = 1000
			rp.LastStableOffset = 1000
			rp.RecordBatches = p.Records
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp.AppendTo(nil)
}

// MetadataBody builds a Metadata response body that maps the topics' ids
// to their names.
func MetadataBody(version int16, topics ...Topic) []byte {
	resp := kmsg.MetadataResponse{Version: version}
	resp.Brokers = []kmsg.MetadataResponseBroker{{NodeID: 1, Host: "broker-1.kafka.svc", Port: 9092}}
	cluster := "cluster-a"
	resp.ClusterID = &cluster
	for _, t := range topics {
		name := t.Name
		mt := kmsg.MetadataResponseTopic{Topic: &name, TopicID: t.ID}
		mt.Partitions = []kmsg.MetadataResponseTopicPartition{{Partition: 0, Leader: 1, Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}}}
		resp.Topics = append(resp.Topics, mt)
	}
	return resp.AppendTo(nil)
}

// RequestFrame wraps a request body in its size and request header, as a
// client writes it.
func RequestFrame(key, version int16, correlation int32, clientID string, body []byte) []byte {
	var hd []byte
	hd = binary.BigEndian.AppendUint16(hd, uint16(key))
	hd = binary.BigEndian.AppendUint16(hd, uint16(version))
	hd = binary.BigEndian.AppendUint32(hd, uint32(correlation))
	hd = binary.BigEndian.AppendUint16(hd, uint16(len(clientID)))
	hd = append(hd, clientID...)
	if req := kmsg.RequestForKey(key); req != nil {
		req.SetVersion(version)
		if req.IsFlexible() {
			hd = append(hd, 0) // no tagged fields
		}
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(hd)+len(body)))
	out = append(out, hd...)
	return append(out, body...)
}

// ResponseFrame wraps a response body to a request of key and version in
// its size and response header, as a broker writes it.
func ResponseFrame(key, version int16, correlation int32, body []byte) []byte {
	hd := binary.BigEndian.AppendUint32(nil, uint32(correlation))
	if resp := kmsg.ResponseForKey(key); resp != nil && key != 18 { // ApiVersions: header v0 always
		resp.SetVersion(version)
		if resp.IsFlexible() {
			hd = append(hd, 0)
		}
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(hd)+len(body)))
	out = append(out, hd...)
	return append(out, body...)
}
