package kafka

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// appendVarint appends a zigzag varint as Kafka records use.
func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// rawRecord builds a record from its fields, lengths as given.
func rawRecord(fields ...[]byte) []byte {
	var body []byte
	for _, f := range fields {
		body = append(body, f...)
	}
	return append(appendVarint(nil, int64(len(body))), body...)
}

func vi(v int64) []byte { return appendVarint(nil, v) }

func TestHostileRecords(t *testing.T) {
	prefix := [][]byte{{0}, vi(0), vi(0), vi(-1), vi(-1)} // attrs, ts, offset, null key, null value
	with := func(rest ...[]byte) []byte { return rawRecord(append(append([][]byte(nil), prefix...), rest...)...) }
	cases := []struct {
		name  string
		count int32
		data  []byte
		want  map[reason.Code]GapCount
		recs  int
	}{
		{"header count 2^31", 1, with(vi(math.MaxInt32), []byte("ab")), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		{"header count 2^62", 1, with(vi(1<<62), []byte("ab")), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		{"negative header count", 1, with(vi(-5)), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		{"header key length past record", 1, with(vi(1), vi(100), []byte("k")), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		{"null header key", 1, with(vi(1), vi(-1), vi(0)), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		{"key length -2", 1, rawRecord([]byte{0}, vi(0), vi(0), vi(-2), vi(-1), vi(0)), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		{"trailing bytes in record", 1, with(vi(0), []byte("x")), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		// Fewer than 7 bytes cannot hold one record: the count is not
		// believed.
		{"record length past batch", 1, append(vi(1000), 0, 0, 0), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}, 0},
		{"negative record length", 1, vi(-3), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}, 0},
		{"overlong varint", 1, bytes.Repeat([]byte{0xff}, 11), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 1}}, 0},
		// 2^31-1 records claimed, 10 bytes present: the count is not
		// believed, and nothing is allocated for it.
		{"records count 2^31", math.MaxInt32, bytes.Repeat([]byte{0}, 10), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}, 0},
		{"negative records count", -1, with(vi(0)), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}, 0},
		{"fewer records than claimed", 3, with(vi(0)), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := kafkatest.BatchOf(0, 0, c.count, c.data)
			if c.count == math.MaxInt32 || c.count == 3 {
				// Keep lastOffsetDelta consistent so only the byte
				// count makes the claim implausible.
				binary.BigEndian.PutUint32(b[23:], uint32(c.count-1))
				kafkatest.FixCRC(b)
			}
			body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: b}}})
			d := NewDecoder(Limits{}, nil)
			var st Stats
			allocs := testing.AllocsPerRun(20, func() { st = d.Produce(body, 9, true, nil) })
			if st.Records != c.recs {
				t.Fatalf("visited %d", st.Records)
			}
			onlyGaps(t, st, c.want)
			// kmsg's topic and partition slices, nothing per claim.
			if allocs > 4 && !raceEnabled {
				t.Fatalf("%v allocations", allocs)
			}
		})
	}
}

func TestHostileFrames(t *testing.T) {
	good := kafkatest.Batch(kafkatest.Codecs[0], 0, traced(3))
	setLen := func(n int32) []byte {
		b := append([]byte(nil), good...)
		binary.BigEndian.PutUint32(b[8:], uint32(n))
		return b
	}
	cases := []struct {
		name string
		recs []byte
		want map[reason.Code]GapCount
	}{
		{"negative batch length", setLen(-1), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}},
		{"batch length below header", setLen(30), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}},
		{"batch length 2^31-1", setLen(math.MaxInt32), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Records: 3}}},
		{"batch length one short", setLen(int32(len(good) - 13)), map[reason.Code]GapCount{CRCMismatch: {Gaps: 1, Records: 3}, BadBatch: {Gaps: 1, Unknown: 1}}},
		{"magic 3", func() []byte { b := append([]byte(nil), good...); b[16] = 3; return b }(), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}},
		{"trailing junk", append(append([]byte(nil), good...), 1, 2, 3), map[reason.Code]GapCount{BadBatch: {Gaps: 1, Unknown: 1}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(Limits{}, nil)
			st := d.Produce(kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: c.recs}}}), 9, true, nil)
			onlyGaps(t, st, c.want)
		})
	}

	// Array counts of 2^31-1 with a few bytes behind them.
	huge := []byte{0xff, 0xff, 0, 1, 0, 0, 0, 5, 0x7f, 0xff, 0xff, 0xff, 0, 1, 't', 0, 0, 0, 1}
	d := NewDecoder(Limits{}, nil)
	var st Stats
	allocs := testing.AllocsPerRun(20, func() { st = d.Produce(huge, 7, true, nil) })
	onlyGaps(t, st, map[reason.Code]GapCount{BadFrame: {Gaps: 1, Unknown: 1}})
	allocsCut := testing.AllocsPerRun(20, func() { st = d.Produce(huge, 7, false, nil) })
	onlyGaps(t, st, map[reason.Code]GapCount{FrameTruncated: {Gaps: 1, Unknown: 1}})
	if (allocs > 2 || allocsCut > 2) && !raceEnabled {
		t.Fatalf("allocations %v, %v", allocs, allocsCut)
	}
	// Flexible: a compact array count of 2^31-2.
	flex := []byte{0, 0, 1, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x07, 2, 't'}
	st = d.Produce(flex, 9, false, nil)
	if st.GapTotal() != 1 || st.Gap(FrameTruncated).Gaps != 1 {
		t.Fatalf("%+v", st)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var (
	bombsOnce sync.Once
	bombs     map[string][]byte
)

// makeBombs compresses lots of zeros with every codec, streaming, so that
// the test never holds the decompressed size in memory.
func makeBombs(tb testing.TB) map[string][]byte {
	bombsOnce.Do(func() {
		bombs = map[string][]byte{}
		stream := func(w io.WriteCloser, n int64) {
			if _, err := io.Copy(w, io.LimitReader(zeros{}, n)); err != nil {
				tb.Fatal(err)
			}
			if err := w.Close(); err != nil {
				tb.Fatal(err)
			}
		}
		var gz, zs, lz bytes.Buffer
		gw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
		stream(gw, 1<<30)
		bombs["gzip"] = gz.Bytes()
		zw, _ := zstd.NewWriter(&zs, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		stream(zw, 1<<30)
		bombs["zstd"] = zs.Bytes()
		lw := lz4.NewWriter(&lz)
		stream(lw, 256<<20)
		bombs["lz4"] = lz.Bytes()
		// snappy-java frames: the same 32 KiB block of zeros 2048 times
		// (64 MiB); raw snappy: a block whose preamble claims 1 GiB.
		block := snappy.Encode(nil, make([]byte, 32<<10))
		x := kafkatest.Compress(kafkatest.Codecs[3], nil) // the xerial stream header alone
		for range 2048 {
			x = binary.BigEndian.AppendUint32(x, uint32(len(block)))
			x = append(x, block...)
		}
		bombs["snappy-xerial"] = x
		raw := binary.AppendUvarint(nil, 1<<30)
		bombs["snappy"] = append(raw, block[len(binary.AppendUvarint(nil, 32<<10)):]...)
	})
	return bombs
}

func TestDecompressionBombs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("compresses a GiB of zeros, and measures allocations")
	}
	const limit = DefaultMaxDecompressed
	for _, c := range kafkatest.Codecs[1:] {
		t.Run(c.Name, func(t *testing.T) {
			bomb := makeBombs(t)[c.Name]
			b := kafkatest.BatchOf(0, int16(c.Codec), 1000, bomb)
			body := kafkatest.ProduceBody(9, kafkatest.Topic{Name: "t", Partitions: []kafkatest.Partition{{Partition: 0, Records: b}}})
			d := NewDecoder(Limits{MaxFrame: 64 << 20}, nil)
			var gaps gapLog
			d.OnGap = gaps.on
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			heapBefore := before.HeapAlloc
			st := d.Produce(body, 9, true, nil)
			runtime.ReadMemStats(&after)
			onlyGaps(t, st, map[reason.Code]GapCount{DecompressLimit: {Gaps: 1, Records: 1000}})
			if len(gaps) != 1 || gaps[0].Topic != "t" || gaps[0].Partition != 0 {
				t.Fatalf("gaps %+v", gaps)
			}
			cold := after.TotalAlloc - before.TotalAlloc
			// Again, on the warm Decoder. (No collection in between:
			// it would empty lz4's pool of blocks.)
			runtime.ReadMemStats(&before)
			d.Produce(body, 9, true, nil)
			runtime.ReadMemStats(&after)
			warm := after.TotalAlloc - before.TotalAlloc
			// What the Decoder keeps: its output buffer and the codec's
			// state. (Two collections empty sync.Pools, which lz4 uses.)
			runtime.GC()
			runtime.GC()
			runtime.ReadMemStats(&after)
			kept := int64(after.HeapAlloc) - int64(heapBefore)
			runtime.KeepAlive(d)
			t.Logf("%s: %d KiB compressed; allocated %d KiB cold, %d KiB warm; heap grew %d KiB",
				c.Name, len(bomb)>>10, cold>>10, warm>>10, kept>>10)
			// The output buffer doubles up to the limit (2x in all, once);
			// the codecs add a window (zstd, capped at the limit) or two
			// blocks of up to 4 MiB (lz4).
			// lz4's reader takes its block buffers from a sync.Pool, which
			// a collection at the wrong time empties: its warm run may
			// allocate two blocks again.
			warmMax := uint64(limit / 4)
			if Codec(c.Codec) == CodecLZ4 {
				warmMax = 8<<20 + limit/4
			}
			if cold > 2*limit+max(limit, 8<<20)+1<<20 || warm > warmMax || kept > 2*limit {
				t.Fatalf("allocated %d bytes cold, %d warm, kept %d; limit %d", cold, warm, kept, limit)
			}
			// Cut by the capture, the same bomb is still bounded.
			st = d.Produce(body[:len(body)/2], 9, false, nil)
			if st.Gap(DecompressLimit).Gaps+st.Gap(BatchTruncated).Gaps != 1 {
				t.Fatalf("cut: %+v", st)
			}
		})
	}
}
