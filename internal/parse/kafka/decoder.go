package kafka

import (
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Default limits.
const (
	// DefaultMaxFrame matches the producer's max.request.size and the
	// consumer's max.partition.fetch.bytes (1 MiB): a frame longer than
	// that is decoded up to the limit and the rest reported as a gap.
	DefaultMaxFrame = 1 << 20
	// DefaultMaxDecompressed bounds one batch's decompressed records. The
	// broker's message.max.bytes is 1 MiB compressed; 8 MiB leaves room
	// for compression ratios real data reaches and none that bombs do.
	DefaultMaxDecompressed = 8 << 20
	// DefaultMaxRecords bounds the records one frame may pass to visit,
	// so that one frame cannot hold the caller for long.
	DefaultMaxRecords = 100_000
)

// MaxHeaders bounds the headers kept per record: the engine keeps no more
// for an HTTP request either (http1.MaxFields). Headers past it are
// counted in Record.DroppedHeaders and Stats.DroppedHeaders.
const MaxHeaders = http1.MaxFields

// Limits bound the work and memory one decode may take. A zero field takes
// its default.
type Limits struct {
	// MaxFrame is the most body bytes read per call.
	MaxFrame int
	// MaxDecompressed is the most bytes one batch may decompress to.
	MaxDecompressed int
	// MaxRecords is the most records visited per call.
	MaxRecords int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFrame <= 0 {
		l.MaxFrame = DefaultMaxFrame
	}
	if l.MaxDecompressed <= 0 {
		l.MaxDecompressed = DefaultMaxDecompressed
	}
	// Batch lengths are int32, and so are the buffers that hold them.
	l.MaxDecompressed = min(l.MaxDecompressed, 1<<31-2)
	if l.MaxRecords <= 0 {
		l.MaxRecords = DefaultMaxRecords
	}
	return l
}

// Record is one record passed to visit. The Record, its Headers and their
// bytes belong to the Decoder and are only valid during the visit call:
// they alias the body and the Decoder's decompression buffer, which the
// next record overwrites. Copy what you keep (Topic excepted).
//
// Keys and values are not exposed: they are application payload, and
// propwatch judges only the propagation headers.
type Record struct {
	// Topic is the topic's name, resolved from its id for v13+ frames.
	// It is interned by the Decoder and may be kept.
	Topic string
	// Partition is the partition the record was produced to or fetched
	// from.
	Partition int32
	// Offset is the batch's base offset plus the record's delta; in a
	// Produce request the base offset is 0, so it is the record's index.
	Offset int64
	// Headers are the record's headers in wire order. A null header value
	// becomes an empty Value, as Kafka clients read it.
	Headers []http1.Field
	// DroppedHeaders counts headers past MaxHeaders.
	DroppedHeaders int
}

// Gap describes records that could not be read, passed to Decoder.OnGap.
type Gap struct {
	// Code says why.
	Code reason.Code
	// Topic is the topic the gap is in, "" when the cut came before any
	// topic was read or the topic id is unknown.
	Topic string
	// TopicID is set for v13+ frames, where topics are named by id.
	TopicID [16]byte
	// Partition is the partition, -1 when not known.
	Partition int32
	// Records is the number of records affected, -1 when not known
	// (the batch header was not readable, or implausible).
	Records int64
}

// GapCount aggregates the gaps of one code.
type GapCount struct {
	// Gaps is how many times the code was reported.
	Gaps int
	// Records adds up the records of the gaps that knew their count.
	Records int64
	// Unknown counts the gaps whose record count was not known.
	Unknown int
}

// Stats says what one call read and what it could not.
type Stats struct {
	// Records is how many records were passed to visit.
	Records int
	// Batches is how many record batches were read whole.
	Batches int
	// ControlBatches is how many transaction-marker batches were
	// skipped: they hold no user records.
	ControlBatches int
	// PartialTrailing counts Fetch partitions that ended in a batch the
	// broker cut at the fetch's byte limit. That is normal: the consumer
	// fetches that batch again, so it is not a gap.
	PartialTrailing int
	// DroppedHeaders adds up Record.DroppedHeaders.
	DroppedHeaders int

	gaps [numGapKinds]GapCount
}

// Gap returns the counts for one gap code (zero for a code this package
// does not report).
func (s *Stats) Gap(c reason.Code) GapCount {
	if k, ok := kindOf(c); ok {
		return s.gaps[k]
	}
	return GapCount{}
}

// GapTotal is the number of gaps of any code.
func (s *Stats) GapTotal() int {
	n := 0
	for _, g := range s.gaps {
		n += g.Gaps
	}
	return n
}

// Add adds o's counts to s, for callers that aggregate many calls.
func (s *Stats) Add(o *Stats) {
	s.Records += o.Records
	s.Batches += o.Batches
	s.ControlBatches += o.ControlBatches
	s.PartialTrailing += o.PartialTrailing
	s.DroppedHeaders += o.DroppedHeaders
	for k := range s.gaps {
		s.gaps[k].Gaps += o.gaps[k].Gaps
		s.gaps[k].Records += o.gaps[k].Records
		s.gaps[k].Unknown += o.gaps[k].Unknown
	}
}

// Decoder decodes the record headers out of Produce requests and Fetch
// responses. It is not safe for concurrent use. It holds no state about a
// connection, only buffers and decompressors that it reuses, so one
// Decoder per goroutine serves any number of connections; the topic id
// table is the one thing worth sharing, and it is shared through Topics.
type Decoder struct {
	// OnGap, when set, is called for every gap as it is found, with the
	// topic and partition it is in, so that a caller can count gaps per
	// topic. Stats aggregates them per code either way. The Gap holds no
	// reference to the input and may be kept.
	OnGap func(Gap)

	// Topics maps topic ids to names; MetadataResponse fills it.
	Topics *TopicIDs

	limits Limits
	inf    inflater
	names  interner

	// Per call.
	stats  Stats
	visit  func(*Record)
	rec    Record
	fields []http1.Field
	// batchCut and frameCut are the codes for a cut inside a batch and
	// inside the structure around it: the capture's, or MaxFrame's.
	batchCut, frameCut gapKind
	// fetch is set while decoding a Fetch response, where a trailing
	// partial batch is normal.
	fetch bool
	// cutReported is set once the cut of a cut frame has been reported,
	// which happens exactly once per cut frame.
	cutReported bool
}

// NewDecoder returns a Decoder with the given limits (zero fields take
// their defaults) that resolves topic ids through topics, or through a
// table of its own when topics is nil.
func NewDecoder(limits Limits, topics *TopicIDs) *Decoder {
	if topics == nil {
		topics = NewTopicIDs(0)
	}
	d := &Decoder{Topics: topics, limits: limits.withDefaults()}
	d.inf.limit = d.limits.MaxDecompressed
	return d
}

// Limits returns the limits in force, defaults filled in.
func (d *Decoder) Limits() Limits { return d.limits }

// begin readies d for one call on body and returns the part of body to
// read: all of it, or its first MaxFrame bytes. cut says whether what is
// returned ends before the frame does.
func (d *Decoder) begin(body []byte, complete bool, visit func(*Record), fetch bool) ([]byte, bool) {
	d.stats = Stats{}
	d.visit = visit
	d.fetch = fetch
	d.batchCut, d.frameCut = gapBatchTruncated, gapFrameTruncated
	d.cutReported = false
	if len(body) > d.limits.MaxFrame {
		body = body[:d.limits.MaxFrame]
		complete = false
		d.batchCut, d.frameCut = gapFrameLimit, gapFrameLimit
	}
	return body, !complete
}

// end returns the call's stats and drops references into the caller's
// buffers, which d must not keep alive.
func (d *Decoder) end() Stats {
	d.visit = nil
	d.rec = Record{}
	clear(d.fields[:cap(d.fields)])
	return d.stats
}

// gap counts a gap and reports it to OnGap.
func (d *Decoder) gap(k gapKind, topic string, id [16]byte, partition int32, records int64) {
	if k == d.batchCut || k == d.frameCut {
		d.cutReported = true
	}
	g := &d.stats.gaps[k]
	g.Gaps++
	if records >= 0 {
		g.Records += records
	} else {
		g.Unknown++
	}
	if d.OnGap != nil {
		d.OnGap(Gap{Code: gapCodes[k], Topic: topic, TopicID: id, Partition: partition, Records: records})
	}
}
