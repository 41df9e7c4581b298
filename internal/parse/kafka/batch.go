package kafka

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batch layout (magic 2). Offsets count from the batch's start.
const (
	// batchHeaderLen is the fixed header before the records.
	batchHeaderLen = 61
	// batchLengthOverhead is the part of the header that the batch's
	// length field counts (everything after the length field).
	batchLengthOverhead = batchHeaderLen - 12
	offMagic            = 16
	// offCRCStart is where the CRC-32C's coverage starts (attributes).
	offCRCStart = 21
	// legacyMinLength is the smallest length of a magic 0 message:
	// crc, magic, attributes, and two null lengths.
	legacyMinLength = 4 + 1 + 1 + 4 + 4
	// legacyOffAttributes is where a magic 0/1 message keeps attributes.
	legacyOffAttributes = 17
	// minRecordLen is the smallest encoded record: one byte each for
	// length, attributes, timestamp delta, offset delta, key length,
	// value length and header count.
	minRecordLen = 7

	attrCodecMask = 0x07
	attrControl   = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// part names the partition whose records are being read.
type part struct {
	topic     string
	id        [16]byte
	partition int32
}

func (d *Decoder) gapIn(k gapKind, p part, records int64) {
	d.gap(k, p.topic, p.id, p.partition, records)
}

// recordSet reads the record batches of one partition. have is what the
// input holds of the records field, declared the field's length on the
// wire; have is shorter when the frame was cut inside the field.
func (d *Decoder) recordSet(p part, have []byte, declared int) {
	var legacy legacyRun
	defer legacy.flush(d, p)
	for off := 0; off < declared; {
		rest := have[off:]
		left := declared - off
		if len(rest) < 12 {
			switch {
			case len(rest) < left:
				d.gapIn(d.batchCut, p, -1)
			case d.fetch:
				d.stats.PartialTrailing++
			default:
				d.gapIn(gapBadBatch, p, -1)
			}
			return
		}
		total := 12 + int64(int32(binary.BigEndian.Uint32(rest[8:])))
		if total < 12+legacyMinLength {
			d.gapIn(gapBadBatch, p, -1)
			return
		}
		if total > int64(left) {
			// The batch runs past the records field. A broker cuts the
			// last batch of a Fetch at the fetch's byte limit; a client
			// must send whole batches.
			if d.fetch {
				d.stats.PartialTrailing++
			} else {
				d.gapIn(gapBadBatch, p, headerCount(rest))
			}
			return
		}
		if total > int64(len(rest)) {
			if len(rest) > offMagic && rest[offMagic] < 2 {
				legacy.add(rest)
				return
			}
			legacy.flush(d, p)
			d.cutBatch(p, rest)
			return
		}
		b := rest[:total]
		switch b[offMagic] {
		case 0, 1:
			legacy.add(b)
		case 2:
			legacy.flush(d, p)
			if total < batchHeaderLen {
				// Shorter than its own header: where the next batch
				// starts cannot be trusted either.
				d.gapIn(gapBadBatch, p, -1)
				return
			}
			d.batch(p, b)
		default:
			legacy.flush(d, p)
			d.gapIn(gapBadBatch, p, -1)
			return
		}
		off += int(total)
	}
}

// legacyRun gathers consecutive magic 0/1 messages into one gap, so that a
// partition of old-format messages is one gap and not thousands.
type legacyRun struct {
	messages int64
	unknown  bool
}

func (l *legacyRun) add(b []byte) {
	l.messages++
	// A compressed wrapper message holds an unknown number of messages.
	if len(b) <= legacyOffAttributes || b[legacyOffAttributes]&attrCodecMask != 0 {
		l.unknown = true
	}
}

func (l *legacyRun) flush(d *Decoder, p part) {
	if l.messages == 0 {
		return
	}
	n := l.messages
	if l.unknown {
		n = -1
	}
	d.gapIn(gapLegacy, p, n)
	*l = legacyRun{}
}

// headerCount returns the plausible record count of a magic 2 batch whose
// header is in b, or -1.
func headerCount(b []byte) int64 {
	if len(b) < batchHeaderLen || b[offMagic] != 2 {
		return -1
	}
	var rb kmsg.RecordBatch
	readBatchHeader(b, &rb)
	return plausibleCount(&rb)
}

// readBatchHeader fills rb's fields from the first batchHeaderLen bytes of
// b, for a batch the input cut short, which kmsg's ReadFrom refuses.
func readBatchHeader(b []byte, rb *kmsg.RecordBatch) {
	be := binary.BigEndian
	rb.FirstOffset = int64(be.Uint64(b[0:]))
	rb.Length = int32(be.Uint32(b[8:]))
	rb.PartitionLeaderEpoch = int32(be.Uint32(b[12:]))
	rb.Magic = int8(b[16])
	rb.CRC = int32(be.Uint32(b[17:]))
	rb.Attributes = int16(be.Uint16(b[21:]))
	rb.LastOffsetDelta = int32(be.Uint32(b[23:]))
	rb.FirstTimestamp = int64(be.Uint64(b[27:]))
	rb.MaxTimestamp = int64(be.Uint64(b[35:]))
	rb.ProducerID = int64(be.Uint64(b[43:]))
	rb.ProducerEpoch = int16(be.Uint16(b[51:]))
	rb.FirstSequence = int32(be.Uint32(b[53:]))
	rb.NumRecords = int32(be.Uint32(b[57:]))
	rb.Records = nil
}

// plausibleCount is the batch's record count when it can be believed, -1
// otherwise. A gap's record count comes from the batch header, which
// hostile input controls; a count that no encoder could have written (more
// records than offsets, or than an uncompressed batch has bytes for) would
// make the gap totals meaningless.
func plausibleCount(rb *kmsg.RecordBatch) int64 {
	n := int64(rb.NumRecords)
	if n < 0 || n > int64(rb.LastOffsetDelta)+1 {
		return -1
	}
	if rb.Attributes&attrCodecMask == 0 && n*minRecordLen > int64(rb.Length)-batchLengthOverhead {
		return -1
	}
	return n
}

func remaining(count int64, read int) int64 {
	if count < 0 {
		return -1
	}
	return max(count-int64(read), 0)
}

// batch reads one whole magic 2 batch.
func (d *Decoder) batch(p part, b []byte) {
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		d.gapIn(gapBadBatch, p, -1)
		return
	}
	count, ok := d.admitBatch(p, &rb)
	if !ok {
		return
	}
	// The CRC is what tells a whole batch from bytes that only look like
	// one; past it, a record that does not parse is the encoder's fault.
	if crc32.Checksum(b[offCRCStart:], castagnoli) != uint32(rb.CRC) {
		d.gapIn(gapCRC, p, count)
		return
	}
	if rb.Attributes&attrControl != 0 {
		d.stats.ControlBatches++
		return
	}
	data, st := rb.Records, inflatedAll
	if codec := Codec(rb.Attributes & attrCodecMask); codec != CodecNone {
		data, st = d.inf.inflate(codec, rb.Records)
		if st == inflatedError {
			d.gapIn(gapCodecError, p, count)
			return
		}
	}
	// The CRC matched, so records that end early are the encoder's
	// fault: it wrote fewer than the header claims.
	d.batchRecords(p, &rb, data, st, count, gapBadBatch)
}

// cutBatch reads what it can of a batch the input ends inside: the whole
// records before the cut, decompressing a prefix for the stream codecs.
// It reports the cut as BatchTruncated when the cut is what kept records
// from being read; otherwise the caller reports it.
func (d *Decoder) cutBatch(p part, b []byte) {
	if len(b) > offMagic && b[offMagic] != 2 {
		d.gapIn(gapBadBatch, p, -1)
		return
	}
	if len(b) < batchHeaderLen {
		d.gapIn(d.batchCut, p, -1)
		return
	}
	var rb kmsg.RecordBatch
	readBatchHeader(b, &rb)
	count, ok := d.admitBatch(p, &rb)
	if !ok {
		return
	}
	if rb.Attributes&attrControl != 0 {
		// Transaction markers hold no headers: what the cut hid is only
		// what follows them, which the caller reports.
		return
	}
	data, st := b[batchHeaderLen:], inflatedAll
	if codec := Codec(rb.Attributes & attrCodecMask); codec > CodecZstd {
		d.gapIn(gapCodecError, p, count)
		return
	} else if codec != CodecNone {
		// An error here is usually the cut itself; the output before
		// it is still good.
		data, st = d.inf.inflate(codec, data)
	}
	// Records that end early end at the cut. If every record sat before
	// the cut (in a codec's trailer, say), what the cut hid is only what
	// follows the batch, which the caller reports.
	d.batchRecords(p, &rb, data, st, count, d.batchCut)
}

// admitBatch checks a magic 2 batch's header and the record limit before
// its records are read, and reports the gap when the batch is not to be
// read. count is the header's plausible record count.
func (d *Decoder) admitBatch(p part, rb *kmsg.RecordBatch) (count int64, ok bool) {
	if rb.Length < batchLengthOverhead || rb.NumRecords < 0 {
		d.gapIn(gapBadBatch, p, -1)
		return -1, false
	}
	count = plausibleCount(rb)
	if d.stats.Records >= d.limits.MaxRecords {
		d.gapIn(gapTooManyRecords, p, count)
		return count, false
	}
	return count, true
}

// batchRecords visits the records of a batch, data as decompression (which
// ended as st) gave them, and reports why they stopped short if they did.
// count is the header's plausible record count; short is the gap when the
// records run out before the header's count of them was read.
func (d *Decoder) batchRecords(p part, rb *kmsg.RecordBatch, data []byte, st inflated, count int64, short gapKind) {
	n, res := d.records(p, rb, data)
	switch {
	case res == recordsLimited:
		d.gapIn(gapTooManyRecords, p, remaining(count, n))
	case res == recordsDone:
		d.stats.Batches++
	case st == inflatedLimit:
		// Records cut by the limit may look like anything, even
		// malformed ones: the limit is the reason they were not read.
		d.gapIn(gapDecompressLimit, p, remaining(count, n))
	case res == recordsBad:
		d.gapIn(gapBadBatch, p, remaining(count, n))
	default:
		d.gapIn(short, p, remaining(count, n))
	}
}

type recordsResult uint8

const (
	// recordsDone: all NumRecords records were read.
	recordsDone recordsResult = iota
	// recordsShort: the data ended first.
	recordsShort
	// recordsBad: a record did not parse.
	recordsBad
	// recordsLimited: MaxRecords was reached first.
	recordsLimited
)

// records visits the records in data, at most rb.NumRecords of them, and
// says why it stopped; whether data ending early is an error is the
// caller's call.
func (d *Decoder) records(p part, rb *kmsg.RecordBatch, data []byte) (int, recordsResult) {
	n := 0
	for ; n < int(rb.NumRecords); n++ {
		if d.stats.Records >= d.limits.MaxRecords {
			return n, recordsLimited
		}
		if len(data) == 0 {
			return n, recordsShort
		}
		length, k := binary.Varint(data)
		switch {
		case k == 0:
			// The data ends inside the length.
			return n, recordsShort
		case k < 0 || length < 0:
			return n, recordsBad
		case length > int64(len(data)-k):
			return n, recordsShort
		}
		delta, ok := d.record(data[k : k+int(length)])
		if !ok {
			return n, recordsBad
		}
		data = data[k+int(length):]
		d.rec = Record{
			Topic:          p.topic,
			Partition:      p.partition,
			Offset:         rb.FirstOffset + delta,
			Headers:        d.rec.Headers,
			DroppedHeaders: d.rec.DroppedHeaders,
		}
		d.stats.Records++
		d.stats.DroppedHeaders += d.rec.DroppedHeaders
		if d.visit != nil {
			d.visit(&d.rec)
		}
	}
	return n, recordsDone
}

// record parses one record's body (after its length) into d.rec.Headers
// and returns its offset delta. It copies nothing: the headers alias b.
func (d *Decoder) record(b []byte) (int64, bool) {
	d.fields = d.fields[:0]
	d.rec.Headers, d.rec.DroppedHeaders = nil, 0
	if len(b) < 1 {
		return 0, false
	}
	b = b[1:]                // attributes: unused since 0.11
	_, k := binary.Varint(b) // timestamp delta
	if k <= 0 {
		return 0, false
	}
	b = b[k:]
	delta, k := binary.Varint(b)
	if k <= 0 {
		return 0, false
	}
	b = b[k:]
	var ok bool
	if _, b, ok = varBytes(b, true); !ok { // key
		return 0, false
	}
	if _, b, ok = varBytes(b, true); !ok { // value
		return 0, false
	}
	count, k := binary.Varint(b)
	if k <= 0 || count < 0 {
		return 0, false
	}
	b = b[k:]
	dropped := 0
	// Every header takes at least two bytes, so the loop ends with the
	// bytes whatever count claims.
	for i := int64(0); i < count; i++ {
		var name, value []byte
		if name, b, ok = varBytes(b, false); !ok {
			return 0, false
		}
		if value, b, ok = varBytes(b, true); !ok {
			return 0, false
		}
		if len(d.fields) >= MaxHeaders {
			dropped++
			continue
		}
		if value == nil {
			value = name[len(name):]
		}
		d.fields = append(d.fields, http1.Field{Name: name, Value: value})
	}
	// Java's DefaultRecord rejects a record whose fields do not fill its
	// length exactly; so do we, as the bytes are then not what we think.
	if len(b) != 0 {
		return 0, false
	}
	d.rec.Headers, d.rec.DroppedHeaders = d.fields, dropped
	return delta, true
}

// varBytes reads a varint-length byte string; -1 is null (nil) when
// nullable is set.
func varBytes(b []byte, nullable bool) (v, rest []byte, ok bool) {
	n, k := binary.Varint(b)
	if k <= 0 {
		return nil, nil, false
	}
	b = b[k:]
	switch {
	case n == -1 && nullable:
		return nil, b, true
	case n < 0 || n > int64(len(b)):
		return nil, nil, false
	}
	return b[:n:n], b[n:], true
}
