package kafka

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// onlyGaps fails unless the stats hold exactly the given gap counts.
func onlyGaps(tb testing.TB, st Stats, want map[reason.Code]GapCount) {
	tb.Helper()
	for _, c := range Codes() {
		if got := st.Gap(c); got != want[c] {
			tb.Errorf("gap %s: got %+v, want %+v", c, got, want[c])
		}
	}
}

func TestProduceVersions(t *testing.T) {
	recs := traced(7)
	for _, v := range []int16{3, 7, 9, 12, 13} {
		t.Run(string(rune('0'+v/10))+string(rune('0'+v%10)), func(t *testing.T) {
			batch := kafkatest.Batch(kafkatest.Codecs[0], 0, recs)
			body := kafkatest.ProduceBody(v, kafkatest.Topic{Name: "orders", ID: ordersID, Partitions: []kafkatest.Partition{{Partition: 3, Records: batch}}})
			d := NewDecoder(Limits{}, nil)
			if v >= 13 {
				n, ok := d.MetadataResponse(kafkatest.MetadataBody(12, kafkatest.Topic{Name: "orders", ID: ordersID}), 12, true)
				if !ok || n != 1 {
					t.Fatalf("metadata learnt %d, ok %v", n, ok)
				}
			}
			var got []seen
			st := d.Produce(body, v, true, collect(&got))
			equalSeen(t, got, want("orders", 3, 0, recs))
			if st.Records != 7 || st.Batches != 1 {
				t.Fatalf("stats %+v", st)
			}
			onlyGaps(t, st, nil)
		})
	}
}

func TestProduceV13UnknownTopicID(t *testing.T) {
	recs := traced(5)
	body := kafkatest.ProduceBody(13,
		kafkatest.Topic{ID: ordersID, Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(kafkatest.Codecs[1], 0, recs)}, {Partition: 1, Records: kafkatest.Batch(kafkatest.Codecs[0], 0, recs[:2])}}},
		kafkatest.Topic{ID: paymentsID, Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(kafkatest.Codecs[0], 0, recs[:1])}}})
	d := NewDecoder(Limits{}, nil)
	// Learn only payments.
	d.MetadataResponse(kafkatest.MetadataBody(13, kafkatest.Topic{Name: "payments", ID: paymentsID}), 13, true)
	var gaps gapLog
	d.OnGap = gaps.on
	var got []seen
	st := d.Produce(body, 13, true, collect(&got))
	equalSeen(t, got, want("payments", 0, 0, recs[:1]))
	onlyGaps(t, st, map[reason.Code]GapCount{UnknownTopicID: {Gaps: 2, Records: 7}})
	if len(gaps) != 2 || gaps[0].TopicID != ordersID || gaps[0].Partition != 0 || gaps[0].Records != 5 ||
		gaps[1].Partition != 1 || gaps[1].Records != 2 || gaps[0].Topic != "" {
		t.Fatalf("gaps %+v", gaps)
	}
	// Once the id is learnt the same frame decodes.
	d.MetadataResponse(kafkatest.MetadataBody(10, kafkatest.Topic{Name: "orders", ID: ordersID}), 10, true)
	got = nil
	st = d.Produce(body, 13, true, collect(&got))
	if st.Records != 8 || st.GapTotal() != 0 || got[0].topic != "orders" {
		t.Fatalf("after learning: %+v %v", st, got)
	}
}

func TestFetchVersions(t *testing.T) {
	recs := traced(6)
	for _, v := range []int16{4, 5, 7, 11, 12, 13, 15, 16, 17, 18} {
		t.Run("v"+itoa(int(v)), func(t *testing.T) {
			b1 := kafkatest.Batch(kafkatest.Codecs[0], 100, recs[:4])
			b2 := kafkatest.Batch(kafkatest.Codecs[5], 104, recs[4:])
			records := append(append([]byte(nil), b1...), b2...)
			body := kafkatest.FetchBody(v,
				kafkatest.Topic{Name: "orders", ID: ordersID, Partitions: []kafkatest.Partition{{Partition: 0, Records: records}, {Partition: 1, Records: nil}}},
				kafkatest.Topic{Name: "payments", ID: paymentsID, Partitions: []kafkatest.Partition{{Partition: 2, Records: kafkatest.Batch(kafkatest.Codecs[2], 9, recs[:1])}}})
			topics := NewTopicIDs(0)
			topics.Learn(ordersID, "orders")
			topics.Learn(paymentsID, "payments")
			d := NewDecoder(Limits{}, topics)
			var got []seen
			st := d.FetchResponse(body, v, true, collect(&got))
			w := append(want("orders", 0, 100, recs), want("payments", 2, 9, recs[:1])...)
			equalSeen(t, got, w)
			if st.Records != 7 || st.Batches != 3 || st.PartialTrailing != 0 {
				t.Fatalf("stats %+v", st)
			}
			onlyGaps(t, st, nil)
		})
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestCodecs(t *testing.T) {
	recs := traced(50)
	for _, c := range kafkatest.Codecs {
		t.Run(c.Name, func(t *testing.T) {
			batch := kafkatest.Batch(c, 0, recs)
			d := NewDecoder(Limits{}, nil)
			for _, v := range []int16{7, 9} {
				var got []seen
				st := d.Produce(kafkatest.ProduceBody(v, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: batch}}}), v, true, collect(&got))
				equalSeen(t, got, want("t", 0, 0, recs))
				onlyGaps(t, st, nil)
			}
			for _, v := range []int16{4, 12} {
				var got []seen
				st := d.FetchResponse(kafkatest.FetchBody(v, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 5, Records: batch}}}), v, true, collect(&got))
				equalSeen(t, got, want("t", 5, 0, recs))
				onlyGaps(t, st, nil)
			}
		})
	}
}

func TestNullHeaderValueAndNoHeaders(t *testing.T) {
	recs := []kafkatest.Record{
		{Headers: []kafkatest.Header{{Key: "baggage", Value: nil}, kafkatest.H("traceparent", tp)}},
		{},
		{Headers: []kafkatest.Header{kafkatest.H("", "")}},
	}
	d := NewDecoder(Limits{}, nil)
	var values [][]byte
	var counts []int
	st := d.Produce(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(kafkatest.Codecs[0], 0, recs)}}}), 9, true, func(r *Record) {
		counts = append(counts, len(r.Headers))
		for _, f := range r.Headers {
			values = append(values, f.Value)
		}
	})
	if st.Records != 3 || !slices.Equal(counts, []int{2, 0, 1}) {
		t.Fatalf("stats %+v counts %v", st, counts)
	}
	if values[0] == nil || len(values[0]) != 0 || string(values[1]) != tp {
		t.Fatalf("values %q", values)
	}
}

func TestPartialTrailingFetch(t *testing.T) {
	recs := traced(10)
	b1 := kafkatest.Batch(kafkatest.Codecs[0], 0, recs[:5])
	b2 := kafkatest.Batch(kafkatest.Codecs[1], 5, recs[5:])
	for cut := 1; cut < len(b2); cut++ {
		records := append(append([]byte(nil), b1...), b2[:cut]...)
		d := NewDecoder(Limits{}, nil)
		var got []seen
		st := d.FetchResponse(kafkatest.FetchBody(12, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: records}}}), 12, true, collect(&got))
		equalSeen(t, got, want("t", 0, 0, recs[:5]))
		if st.PartialTrailing != 1 || st.Batches != 1 || st.GapTotal() != 0 {
			t.Fatalf("cut %d: %+v", cut, st)
		}
	}
	// Cut by the capture inside the partial batch, the cut hides the
	// partition that follows.
	records := append(append([]byte(nil), b1...), b2[:70]...)
	body := kafkatest.FetchBody(12, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: records}, {Partition: 1, Records: b1}}})
	d0 := NewDecoder(Limits{}, nil)
	var gaps gapLog
	d0.OnGap = gaps.on
	st := d0.FetchResponse(body[:bytes.Index(body, b2[:70])+30], 12, false, nil)
	if st.Records != 5 || st.PartialTrailing != 1 || len(gaps) != 1 || gaps[0].Code != FrameTruncated || gaps[0].Partition != 0 {
		t.Fatalf("%+v %+v", st, gaps)
	}
	// In a request the same thing is a broken batch.
	d := NewDecoder(Limits{}, nil)
	st = d.Produce(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: records}}}), 9, true, nil)
	onlyGaps(t, st, map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 5}})
}

// TestCutEverywhere cuts a two-topic Produce and Fetch at every byte and
// checks that the records visited are a prefix of the whole frame's and
// that exactly one gap reports the cut.
func TestCutEverywhere(t *testing.T) {
	recs := traced(9)
	for _, c := range kafkatest.Codecs {
		t.Run(c.Name, func(t *testing.T) {
			topics := []kafkatest.Topic{
				{Name: "orders", Partitions: []kafkatest.Partition{
					{Partition: 0, Records: append(kafkatest.Batch(c, 0, recs[:4]), kafkatest.Batch(c, 4, recs[4:])...)},
					{Partition: 1, Records: kafkatest.Batch(c, 0, recs[:2])},
				}},
				{Name: "payments", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(c, 0, recs[:3])}}},
			}
			for _, fetch := range []bool{false, true} {
				var body []byte
				if fetch {
					body = kafkatest.FetchBody(12, topics...)
				} else {
					body = kafkatest.ProduceBody(9, topics...)
				}
				d := NewDecoder(Limits{}, nil)
				decode := func(b []byte, complete bool, out *[]seen) Stats {
					if fetch {
						return d.FetchResponse(b, 12, complete, collect(out))
					}
					return d.Produce(b, 9, complete, collect(out))
				}
				var all []seen
				if st := decode(body, true, &all); st.Records != 14 || st.GapTotal() != 0 {
					t.Fatalf("whole: %+v", st)
				}
				for cut := 0; cut < len(body); cut++ {
					var got []seen
					st := decode(body[:cut], false, &got)
					if len(got) > len(all) || !slices.Equal(got, all[:len(got)]) {
						t.Fatalf("fetch %v cut %d: visited %v, not a prefix of %v", fetch, cut, got, all)
					}
					n := st.Gap(BatchTruncated).Gaps + st.Gap(FrameTruncated).Gaps
					// Only a cut in the frame's trailing tags hides
					// nothing at all.
					if n != st.GapTotal() || n > 1 || (n == 0 && (len(got) != 14 || cut != len(body)-1)) {
						t.Fatalf("fetch %v cut %d: gaps %+v", fetch, cut, st)
					}
					if g := st.Gap(BatchTruncated); g.Gaps == 1 && g.Unknown == 0 && int(g.Records)+len(got) > 14 {
						t.Fatalf("fetch %v cut %d: %d visited + %d missing", fetch, cut, len(got), g.Records)
					}
				}
			}
		})
	}
}

func TestCutInsideBatchGivesPrefix(t *testing.T) {
	recs := traced(1000)
	for _, c := range kafkatest.Codecs {
		t.Run(c.Name, func(t *testing.T) {
			batch := kafkatest.Batch(c, 0, recs)
			body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: batch}}})
			d := NewDecoder(Limits{}, nil)
			var gaps gapLog
			d.OnGap = gaps.on
			var got []seen
			// Cut 100 bytes before the end of the batch, inside the
			// compressed data of every codec.
			d.Produce(body[:len(body)-2-100], 9, false, collect(&got))
			equalSeen(t, got, want("t", 0, 0, recs[:len(got)]))
			if len(gaps) != 1 || gaps[0].Code != BatchTruncated || gaps[0].Records != int64(1000-len(got)) || gaps[0].Topic != "t" {
				t.Fatalf("gaps %+v after %d records", gaps, len(got))
			}
			// Raw snappy is one block that needs all its bytes; gzip
			// streams; lz4, zstd and xerial give whole blocks (64 KiB,
			// 128 KiB and 32 KiB here, of about 60 KiB of records).
			minimum := map[string]int{"none": 998, "gzip": 900, "snappy": 0, "snappy-xerial": 500, "lz4": 0, "zstd": 0}[c.Name]
			if len(got) < minimum || (c.Name == "snappy" && len(got) != 0) {
				t.Fatalf("%d records before the cut", len(got))
			}
			t.Logf("%s: %d of 1000 records before the cut", c.Name, len(got))
		})
	}
}

func TestFrameLimit(t *testing.T) {
	recs := traced(30)
	b := kafkatest.Batch(kafkatest.Codecs[0], 0, recs)
	body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: b}, {Partition: 1, Records: b}}})
	d := NewDecoder(Limits{MaxFrame: len(body) - len(b)/2}, nil)
	var got []seen
	st := d.Produce(body, 9, true, collect(&got))
	if st.Gap(FrameLimit).Gaps != 1 || st.GapTotal() != 1 || len(got) < 30 || len(got) >= 60 {
		t.Fatalf("%+v, %d records", st, len(got))
	}
	if g := st.Gap(FrameLimit); g.Records != int64(60-len(got)) {
		t.Fatalf("frame limit gap %+v after %d records", g, len(got))
	}
}

func TestMaxRecords(t *testing.T) {
	recs := traced(10)
	body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: kafkatest.Batch(kafkatest.Codecs[1], 0, recs)}, {Partition: 1, Records: kafkatest.Batch(kafkatest.Codecs[0], 0, recs)}}})
	d := NewDecoder(Limits{MaxRecords: 4}, nil)
	var got []seen
	st := d.Produce(body, 9, true, collect(&got))
	equalSeen(t, got, want("t", 0, 0, recs[:4]))
	onlyGaps(t, st, map[reason.Code]GapCount{TooManyRecords: {Gaps: 2, Records: 16}})
}

// legacyMessage encodes one magic 1 message as it sits in a message set.
func legacyMessage(offset int64, attrs byte, value string) []byte {
	var m []byte
	m = append(m, 0, 0, 0, 0) // crc, not checked
	m = append(m, 1, attrs)
	m = binary.BigEndian.AppendUint64(m, 1700000000000)
	m = binary.BigEndian.AppendUint32(m, 0xffffffff) // null key
	m = binary.BigEndian.AppendUint32(m, uint32(len(value)))
	m = append(m, value...)
	out := binary.BigEndian.AppendUint64(nil, uint64(offset))
	out = binary.BigEndian.AppendUint32(out, uint32(len(m)))
	return append(out, m...)
}

func TestLegacyMessageFormat(t *testing.T) {
	set := append(append(legacyMessage(0, 0, "a"), legacyMessage(1, 0, "b")...), legacyMessage(2, 0, "c")...)
	d := NewDecoder(Limits{}, nil)
	for _, v := range []int16{2, 3} {
		st := d.Produce(kafkatest.ProduceBody(v, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: set}}}), v, true, nil)
		onlyGaps(t, st, map[reason.Code]GapCount{LegacyMessageFormat: {Gaps: 1, Records: 3}})
	}
	// A compressed wrapper hides its count; a v2 batch after the run
	// ends it.
	set2 := append(append(legacyMessage(0, 0, "a"), legacyMessage(1, 1, "zz")...), kafkatest.Batch(kafkatest.Codecs[0], 2, traced(2))...)
	st := d.FetchResponse(kafkatest.FetchBody(4, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: set2}}}), 4, true, nil)
	onlyGaps(t, st, map[reason.Code]GapCount{LegacyMessageFormat: {Gaps: 1, Unknown: 1}})
	if st.Records != 2 {
		t.Fatalf("%+v", st)
	}
}

func TestControlBatch(t *testing.T) {
	marker := kafkatest.BatchOf(5, attrControl|0x10, 1, kafkatest.EncodeRecords([]kafkatest.Record{{Value: []byte{0, 0, 0, 0, 0, 0}}}))
	records := append(kafkatest.Batch(kafkatest.Codecs[0], 0, traced(5)), marker...)
	d := NewDecoder(Limits{}, nil)
	st := d.FetchResponse(kafkatest.FetchBody(12, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: records}}}), 12, true, nil)
	if st.Records != 5 || st.ControlBatches != 1 || st.GapTotal() != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestCRCMismatchAndCodecError(t *testing.T) {
	recs := traced(4)
	bad := kafkatest.Batch(kafkatest.Codecs[0], 0, recs)
	bad[len(bad)-1] ^= 1
	d := NewDecoder(Limits{}, nil)
	st := d.Produce(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: bad}}}), 9, true, nil)
	onlyGaps(t, st, map[reason.Code]GapCount{CRCMismatch: {Gaps: 1, Records: 4}})

	for _, attrs := range []int16{5, 6, 7} {
		b := kafkatest.BatchOf(0, attrs, 4, kafkatest.EncodeRecords(recs))
		st = d.Produce(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: b}}}), 9, true, nil)
		onlyGaps(t, st, map[reason.Code]GapCount{CodecError: {Gaps: 1, Records: 4}})
	}
	for _, c := range kafkatest.Codecs[1:] {
		// Garbage that each codec must refuse, with a good CRC.
		junk := []byte("\x00\x01this is not compressed at all, not even close \xff\xfe")
		if c.Xerial {
			junk = append(append(append([]byte(nil), xerialMagic...), 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5), "xxxxx"...)
		}
		b := kafkatest.BatchOf(0, int16(c.Codec), 4, junk)
		st = d.Produce(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: b}}}), 9, true, nil)
		onlyGaps(t, st, map[reason.Code]GapCount{CodecError: {Gaps: 1, Records: 4}})
	}
}

func TestUnsupportedAndBadFrame(t *testing.T) {
	d := NewDecoder(Limits{}, nil)
	for _, v := range []int16{-1, 14, 99} {
		st := d.Produce([]byte{1, 2, 3}, v, true, nil)
		onlyGaps(t, st, map[reason.Code]GapCount{UnsupportedVersion: {Gaps: 1, Unknown: 1}})
	}
	st := d.FetchResponse(nil, 19, true, nil)
	onlyGaps(t, st, map[reason.Code]GapCount{UnsupportedVersion: {Gaps: 1, Unknown: 1}})
	st = d.Produce([]byte{0xff, 0xff, 0, 1, 0, 0, 0, 5, 0, 0, 0, 5, 0}, 7, true, nil)
	onlyGaps(t, st, map[reason.Code]GapCount{BadFrame: {Gaps: 1, Unknown: 1}})
	if n, ok := d.MetadataResponse([]byte{1, 2}, 12, true); n != 0 || ok {
		t.Fatal("garbage metadata accepted")
	}
	if n, ok := d.MetadataResponse([]byte{1, 2}, 9, true); n != 0 || !ok {
		t.Fatal("pre-v10 metadata should teach nothing and be fine")
	}
}

func TestMetadataCut(t *testing.T) {
	body := kafkatest.MetadataBody(12,
		kafkatest.Topic{Name: "orders", ID: ordersID},
		kafkatest.Topic{Name: "payments", ID: paymentsID})
	// Find where the second topic's id ends: learning needs name and id.
	for cut := 0; cut <= len(body); cut++ {
		d := NewDecoder(Limits{}, nil)
		n, ok := d.MetadataResponse(body[:cut], 12, cut == len(body))
		if !ok {
			t.Fatalf("cut %d: not ok", cut)
		}
		_, o := d.Topics.Lookup(ordersID)
		_, p := d.Topics.Lookup(paymentsID)
		if n != btoi(o)+btoi(p) || (p && !o) {
			t.Fatalf("cut %d: learnt %d, orders %v payments %v", cut, n, o, p)
		}
		if cut == len(body) && n != 2 {
			t.Fatalf("whole body learnt %d", n)
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestTopicIDsLRU(t *testing.T) {
	tab := NewTopicIDs(2)
	a, b, c := [16]byte{1}, [16]byte{2}, [16]byte{3}
	tab.Learn(a, "a")
	tab.Learn(b, "b")
	tab.Lookup(a)
	tab.Learn(c, "c")
	if _, ok := tab.Lookup(b); ok {
		t.Fatal("least recently used id kept")
	}
	if n, ok := tab.Lookup(a); !ok || n != "a" || tab.Len() != 2 {
		t.Fatal("recent id evicted")
	}
	tab.Learn([16]byte{}, "zero")
	tab.Learn([16]byte{9}, "")
	if tab.Len() != 2 {
		t.Fatal("zero id or empty name learnt")
	}
}

func TestCodesStable(t *testing.T) {
	codes := Codes()
	if len(codes) != int(numGapKinds) {
		t.Fatalf("%d codes", len(codes))
	}
	for i, c := range codes {
		if c.Field() != "kafka" {
			t.Fatalf("code %q outside kafka.", c)
		}
		if k, ok := kindOf(c); !ok || int(k) != i {
			t.Fatalf("code %q indexed %d", c, k)
		}
	}
	codes[0] = "changed"
	if Codes()[0] != BatchTruncated {
		t.Fatal("Codes returned its backing array")
	}
}

func TestStatsAdd(t *testing.T) {
	var a, b Stats
	a.Records, b.Records = 1, 2
	b.gaps[gapBadBatch] = GapCount{Gaps: 1, Records: 3}
	a.Add(&b)
	if a.Records != 3 || a.Gap(BadBatch).Records != 3 || a.GapTotal() != 1 || a.Gap("nope") != (GapCount{}) {
		t.Fatalf("%+v", a)
	}
}
