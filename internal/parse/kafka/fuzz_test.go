package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// checkStats fails on counts no input can explain.
func checkStats(t *testing.T, st Stats, l Limits) {
	t.Helper()
	if st.Records < 0 || st.Records > l.MaxRecords || st.Batches < 0 || st.PartialTrailing < 0 || st.ControlBatches < 0 {
		t.Fatalf("stats %+v", st)
	}
	for _, c := range Codes() {
		if g := st.Gap(c); g.Gaps < 0 || g.Records < 0 || g.Unknown < 0 || g.Unknown > g.Gaps {
			t.Fatalf("gap %s: %+v", c, g)
		}
	}
}

// trace is everything one decode reported, for comparing two decodes.
type trace struct {
	records []seen
	gaps    []Gap
	stats   Stats
}

func decodeTrace(d *Decoder, decode func(*Decoder, func(*Record)) Stats) trace {
	var tr trace
	d.OnGap = func(g Gap) { tr.gaps = append(tr.gaps, g) }
	tr.stats = decode(d, func(r *Record) {
		if len(r.Headers) > MaxHeaders {
			panic("too many headers kept")
		}
		tr.records = append(tr.records, seen{r.Topic, r.Partition, r.Offset, fieldsString(r.Headers)})
	})
	return tr
}

func sameTrace(t *testing.T, a, b trace) {
	t.Helper()
	if !slices.Equal(a.records, b.records) || !slices.Equal(a.gaps, b.gaps) || a.stats != b.stats {
		t.Fatalf("kmsg and the walker disagree:\nkmsg   %+v\nwalker %+v", a, b)
	}
}

func fuzzDecoder() *Decoder {
	d := NewDecoder(Limits{MaxRecords: 1000, MaxDecompressed: 1 << 20}, nil)
	d.Topics.Learn(ordersID, "orders")
	return d
}

// FuzzSniffRequest checks that the sniffer never panics, that what it
// accepts is consistent, and that it decides on a prefix as on the whole.
func FuzzSniffRequest(f *testing.F) {
	f.Add(kafkatest.RequestFrame(APIProduce, 9, 7, "kgo", []byte{1, 2, 3}))
	f.Add(kafkatest.RequestFrame(18, 3, 1, "sarama", nil))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, st := SniffRequest(b)
		switch st {
		case Request:
			if h.HeaderLen > len(b) || h.HeaderLen > h.FrameLen() || len(h.ClientID) > maxClientIDKept ||
				!KnownVersion(h.APIKey, h.APIVersion) || h.ClientIDLen < -1 || h.ClientIDLen > MaxClientID {
				t.Fatalf("inconsistent header %+v", h)
			}
			if again, st2 := SniffRequest(b[:h.HeaderLen]); st2 != Request || again.HeaderLen != h.HeaderLen || again.CorrelationID != h.CorrelationID {
				t.Fatalf("header alone: %v %+v", st2, again)
			}
			for i := 0; i < h.HeaderLen; i++ {
				if _, st2 := SniffRequest(b[:i]); st2 != NeedMore {
					t.Fatalf("prefix %d of a request: %v", i, st2)
				}
			}
		case NotKafka:
			// Appending bytes cannot make a rejected prefix acceptable.
			if _, st2 := SniffRequest(append(b[:len(b):len(b)], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)); st2 != NotKafka {
				t.Fatalf("rejected, then accepted with more bytes: %v", st2)
			}
		}
		for _, kv := range [][2]int16{{0, 9}, {1, 12}, {18, 3}, {3, 1}} {
			rh, rst := ParseResponseHeader(b, kv[0], kv[1])
			if rst == Response && (rh.HeaderLen > len(b) || rh.HeaderLen > rh.FrameLen()) {
				t.Fatalf("inconsistent response header %+v", rh)
			}
		}
	})
}

// FuzzProduce decodes any body as a Produce request, whole and cut, and
// checks the walker against kmsg wherever kmsg reads the body.
func FuzzProduce(f *testing.F) {
	f.Add(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "orders", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(kafkatest.Codecs[0], 0, traced(3))}}}), uint8(9), uint32(60))
	f.Fuzz(func(t *testing.T, body []byte, version uint8, cut uint32) {
		v := int16(version % 16)
		d := fuzzDecoder()
		if kmsg.RequestForKey(0).MaxVersion() >= v {
			req := kmsg.ProduceRequest{Version: v}
			if req.ReadFrom(body) == nil {
				whole := decodeTrace(d, func(d *Decoder, visit func(*Record)) Stats { return d.Produce(body, v, true, visit) })
				walked := decodeTrace(d, func(d *Decoder, visit func(*Record)) Stats { return d.Produce(body, v, false, visit) })
				sameTrace(t, whole, walked)
			}
		}
		checkStats(t, d.Produce(body, v, true, nil), d.Limits())
		c := int(cut % uint32(len(body)+1))
		checkStats(t, d.Produce(body[:c], v, false, nil), d.Limits())
	})
}

// FuzzFetchResponse is FuzzProduce for Fetch responses.
func FuzzFetchResponse(f *testing.F) {
	f.Add(kafkatest.FetchBody(12, kafkatest.Topic{Name: "orders", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(kafkatest.Codecs[0], 0, traced(3))}}}), uint8(12), uint32(80))
	f.Fuzz(func(t *testing.T, body []byte, version uint8, cut uint32) {
		v := int16(version % 20)
		d := fuzzDecoder()
		if kmsg.ResponseForKey(1).MaxVersion() >= v {
			resp := kmsg.FetchResponse{Version: v}
			if resp.ReadFrom(body) == nil {
				whole := decodeTrace(d, func(d *Decoder, visit func(*Record)) Stats { return d.FetchResponse(body, v, true, visit) })
				walked := decodeTrace(d, func(d *Decoder, visit func(*Record)) Stats { return d.FetchResponse(body, v, false, visit) })
				sameTrace(t, whole, walked)
			}
		}
		checkStats(t, d.FetchResponse(body, v, true, nil), d.Limits())
		c := int(cut % uint32(len(body)+1))
		checkStats(t, d.FetchResponse(body[:c], v, false, nil), d.Limits())
	})
}

// FuzzMetadataResponse checks that the walker learns what kmsg learns.
func FuzzMetadataResponse(f *testing.F) {
	f.Add(kafkatest.MetadataBody(12, kafkatest.Topic{Name: "orders", ID: ordersID}), uint8(12), uint32(40))
	f.Fuzz(func(t *testing.T, body []byte, version uint8, cut uint32) {
		v := int16(version % 16)
		whole, walked := NewDecoder(Limits{}, nil), NewDecoder(Limits{}, nil)
		n1, ok1 := whole.MetadataResponse(body, v, true)
		n2, ok2 := walked.MetadataResponse(body, v, false)
		if ok1 && (!ok2 || n1 != n2 || whole.Topics.Len() != walked.Topics.Len()) {
			t.Fatalf("kmsg learnt %d (%d ids), the walker %d (%d ids, ok %v)", n1, whole.Topics.Len(), n2, walked.Topics.Len(), ok2)
		}
		c := int(cut % uint32(len(body)+1))
		if n, _ := walked.MetadataResponse(body[:c], v, false); n < 0 {
			t.Fatal("negative count")
		}
	})
}

// fixBatchCRCs recomputes the CRC of every whole magic 2 batch in b, so
// that the fuzzer's mutations reach the codecs and the record parser
// instead of stopping at the CRC check.
func fixBatchCRCs(b []byte) {
	table := crc32.MakeTable(crc32.Castagnoli)
	for len(b) >= batchHeaderLen {
		total := 12 + int64(int32(binary.BigEndian.Uint32(b[8:])))
		if b[offMagic] != 2 || total < batchHeaderLen || total > int64(len(b)) {
			return
		}
		binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[offCRCStart:total], table))
		b = b[total:]
	}
}

// FuzzRecordBatch feeds a partition's records field straight to the batch
// reader, with CRCs fixed, as a request or a fetch, whole or cut.
func FuzzRecordBatch(f *testing.F) {
	for _, c := range kafkatest.Codecs {
		f.Add(kafkatest.Batch(c, 0, traced(4)), uint8(0), uint32(0))
	}
	f.Fuzz(func(t *testing.T, recs []byte, mode uint8, cut uint32) {
		recs = slices.Clone(recs)
		fixBatchCRCs(recs)
		d := fuzzDecoder()
		have := recs
		if mode&2 != 0 {
			have = recs[:int(cut%uint32(len(recs)+1))]
		}
		d.begin(nil, true, func(r *Record) {
			if len(r.Headers) > MaxHeaders || r.DroppedHeaders < 0 {
				panic("header bounds")
			}
		}, mode&1 != 0)
		d.recordSet(part{topic: "t", partition: 0}, have, len(recs))
		st := d.end()
		checkStats(t, st, d.Limits())
		if len(have) == len(recs) && st.GapTotal() == 0 && st.Records > 0 && st.Batches == 0 {
			t.Fatalf("records without a batch: %+v", st)
		}
	})
}

// TestWriteFuzzSeeds writes real frames as seed corpus files when
// PROPWATCH_WRITE_SEEDS is set; the files are committed, so the fuzzers
// start from every version and codec rather than from f.Add's few.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("PROPWATCH_WRITE_SEEDS") == "" {
		t.Skip("set PROPWATCH_WRITE_SEEDS=1 to rewrite testdata/fuzz seeds")
	}
	write := func(fuzzer, name string, args ...any) {
		dir := filepath.Join("testdata", "fuzz", fuzzer)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out := "go test fuzz v1\n"
		for _, a := range args {
			switch a := a.(type) {
			case []byte:
				out += fmt.Sprintf("[]byte(%q)\n", a)
			case uint8:
				out += fmt.Sprintf("byte(%d)\n", a)
			case uint32:
				out += fmt.Sprintf("uint32(%d)\n", a)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	recs := traced(3)
	for _, c := range kafkatest.Codecs {
		b := kafkatest.Batch(c, 0, recs)
		write("FuzzRecordBatch", "batch-"+c.Name, b, uint8(0), uint32(0))
		write("FuzzRecordBatch", "cut-"+c.Name, b, uint8(3), uint32(len(b)-5))
	}
	write("FuzzRecordBatch", "legacy", legacyMessage(0, 0, "v"), uint8(0), uint32(0))
	for _, v := range []int16{3, 7, 9, 13} {
		b := kafkatest.Batch(kafkatest.Codecs[(v/3)%6], 0, recs)
		body := kafkatest.ProduceBody(v, kafkatest.Topic{Name: "orders", ID: ordersID, Partitions: []kafkatest.Partition{{Partition: 0, Records: b}, {Partition: 1, Records: b}}})
		write("FuzzProduce", fmt.Sprintf("v%d", v), body, uint8(v), uint32(len(body)-30))
		frame := kafkatest.RequestFrame(APIProduce, v, int32(v), "producer-1", body[:20])
		write("FuzzSniffRequest", fmt.Sprintf("produce-v%d", v), frame)
	}
	for _, v := range []int16{4, 11, 12, 13, 17} {
		b := kafkatest.Batch(kafkatest.Codecs[v%6], 100, recs)
		body := kafkatest.FetchBody(v, kafkatest.Topic{Name: "orders", ID: ordersID, Partitions: []kafkatest.Partition{{Partition: 0, Records: append(b, b[:40]...)}}})
		write("FuzzFetchResponse", fmt.Sprintf("v%d", v), body, uint8(v), uint32(len(body)/2))
	}
	write("FuzzSniffRequest", "apiversions-v3", kafkatest.RequestFrame(18, 3, 1, "sarama", []byte{2, 's', 0}))
	write("FuzzSniffRequest", "http", []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	for _, v := range []int16{10, 12, 13} {
		body := kafkatest.MetadataBody(v, kafkatest.Topic{Name: "orders", ID: ordersID}, kafkatest.Topic{Name: "payments", ID: paymentsID})
		write("FuzzMetadataResponse", fmt.Sprintf("v%d", v), body, uint8(v), uint32(len(body)-20))
	}
}
