// Package kafka reads Kafka record headers out of captured Produce requests
// and Fetch responses, so that the propagation engine can judge them like
// HTTP headers: each record's headers become []http1.Field for
// (*parse.Analyzer).Fields.
//
// The bytes come from a capture: a frame may be cut anywhere, compressed
// with any of Kafka's codecs, or hostile. Nothing here panics or returns an
// error. What could not be read is a gap, counted per reason code (the
// kafka.* codes in Codes) with the topic, partition and record count when
// they are known, so that a report can tell "this producer writes no
// traceparent" from "we could not see this producer's records".
//
// SniffRequest and ParseResponseHeader sit at the kernel/userspace
// boundary: they decide from a chunk's first bytes whether it starts a
// Kafka frame, without allocating. A Decoder then reads frame bodies.
//
// # Decisions where the brief or the protocol leaves room
//
//   - Whole frames are read with franz-go's kmsg (UnsafeReadFrom, whose
//     strings alias the body and are interned before they escape). kmsg
//     cannot read a cut body at all, and cut bodies are the common case for
//     Fetch responses, so for those the Decoder walks the frame itself in
//     kmsg's field order up to the cut (walk.go). The batch the cut falls
//     in still gives the records before the cut; the streaming codecs
//     (gzip, lz4 frames, zstd, xerial snappy) give a decompressed prefix.
//   - Record batches are framed by hand and read with kmsg.RecordBatch;
//     records are parsed by hand, without allocating, since kmsg.Record
//     allocates a header slice per record.
//   - A whole batch is read only when its CRC-32C matches (else
//     kafka.crc_mismatch): without it, bytes that merely look like a batch
//     would yield made-up headers. A cut batch cannot be checked, and is
//     read anyway, since a capture's cut does not corrupt what precedes it.
//   - Record counts in gaps come from the batch header and are reported
//     only when plausible (see plausibleCount); otherwise -1, unknown.
//   - Records of a topic whose id is unknown are not visited (one
//     kafka.unknown_topic_id gap per partition): a record without its
//     topic cannot be attributed.
//   - Transaction markers (control batches) are skipped and counted; they
//     carry no user headers.
//   - Magic 0/1 message sets, including Produce v0-2 and Fetch v0-3, are
//     one kafka.legacy_message_format gap per run of messages; their
//     count is known unless a message is a compressed wrapper.
//
// # Memory
//
// A Decoder never allocates in proportion to a length the input states
// before checking it against the bytes present: array counts are checked
// by kmsg against the bytes left, and by the walkers not at all (each
// element consumes input). Decompression writes into one buffer that grows
// by doubling up to Limits.MaxDecompressed+1 bytes; snappy's stated length
// is checked before any allocation, and zstd's window is capped at the
// same limit. kmsg's own allocations for a whole frame (its topic and
// partition slices) are bounded by a small multiple of the frame, which
// Limits.MaxFrame bounds.
package kafka
