package kafka

import "github.com/propwatch/propwatch/internal/parse/reason"

// Gap codes: why records on the wire were not passed to visit. A gap is a
// hole in coverage, never a verdict on the records' trace context: a
// producer that writes no traceparent is found by the engine in the records
// that were read, not here.
const (
	// BatchTruncated: the capture ended inside a record batch. The whole
	// records before the cut were visited (streaming codecs give a prefix);
	// the rest of the batch was not.
	BatchTruncated reason.Code = "kafka.batch_truncated"
	// FrameTruncated: the capture ended inside the request or response
	// structure around the batches, so what followed the cut (more
	// partitions or topics) was not seen.
	FrameTruncated reason.Code = "kafka.frame_truncated"
	// FrameLimit: the frame is longer than Limits.MaxFrame; bytes past the
	// limit were not read, as if the capture had been cut there.
	FrameLimit reason.Code = "kafka.frame_limit"
	// CodecError: a compressed batch did not decompress (corrupt data, or
	// a codec id outside 0..4).
	CodecError reason.Code = "kafka.codec_error"
	// DecompressLimit: a batch decompresses to more than
	// Limits.MaxDecompressed; decoding stopped at the limit.
	DecompressLimit reason.Code = "kafka.decompress_limit"
	// UnknownTopicID: a Produce v13+ or Fetch v13+ partition names its
	// topic by id and no Metadata response seen so far mapped that id.
	UnknownTopicID reason.Code = "kafka.unknown_topic_id"
	// LegacyMessageFormat: a message set of magic 0 or 1 (Kafka < 0.11),
	// whose messages cannot carry headers at all.
	LegacyMessageFormat reason.Code = "kafka.legacy_message_format"
	// BadFrame: the request or response body does not parse as the API
	// version it was sent as.
	BadFrame reason.Code = "kafka.bad_frame"
	// BadBatch: a record batch whose framing is wrong (unknown magic, a
	// length shorter than its header, a batch that overruns its partition's
	// records in a request) or whose records do not parse.
	BadBatch reason.Code = "kafka.bad_batch"
	// CRCMismatch: a whole batch whose CRC-32C does not match; its records
	// were not read because they cannot be trusted.
	CRCMismatch reason.Code = "kafka.crc_mismatch"
	// UnsupportedVersion: an API version this package (franz-go's kmsg)
	// does not know.
	UnsupportedVersion reason.Code = "kafka.unsupported_version"
	// TooManyRecords: the frame holds more than Limits.MaxRecords records;
	// the ones past the limit were not visited.
	TooManyRecords reason.Code = "kafka.too_many_records"
)

// gapKind indexes Stats' per-code counters; the order is that of Codes.
type gapKind uint8

const (
	gapBatchTruncated gapKind = iota
	gapFrameTruncated
	gapFrameLimit
	gapCodecError
	gapDecompressLimit
	gapUnknownTopicID
	gapLegacy
	gapBadFrame
	gapBadBatch
	gapCRC
	gapUnsupportedVersion
	gapTooManyRecords
	numGapKinds
)

var gapCodes = [numGapKinds]reason.Code{
	gapBatchTruncated:     BatchTruncated,
	gapFrameTruncated:     FrameTruncated,
	gapFrameLimit:         FrameLimit,
	gapCodecError:         CodecError,
	gapDecompressLimit:    DecompressLimit,
	gapUnknownTopicID:     UnknownTopicID,
	gapLegacy:             LegacyMessageFormat,
	gapBadFrame:           BadFrame,
	gapBadBatch:           BadBatch,
	gapCRC:                CRCMismatch,
	gapUnsupportedVersion: UnsupportedVersion,
	gapTooManyRecords:     TooManyRecords,
}

// Codes lists every gap code this package reports, in a fixed order, so that
// a caller can pre-register metric series or document them.
func Codes() []reason.Code {
	out := make([]reason.Code, len(gapCodes))
	copy(out, gapCodes[:])
	return out
}

func kindOf(c reason.Code) (gapKind, bool) {
	for k, have := range gapCodes {
		if have == c {
			return gapKind(k), true
		}
	}
	return 0, false
}
