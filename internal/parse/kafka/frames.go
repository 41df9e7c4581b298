package kafka

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// API keys of the frames the Decoder reads.
const (
	keyProduce  = 0
	keyFetch    = 1
	keyMetadata = 3
)

// Versions where the frames change shape in ways the Decoder cares about.
const (
	produceFlexible = 9
	produceTopicIDs = 13
	fetchFlexible   = 12
	fetchTopicIDs   = 13
	// metadataTopicIDs is the first Metadata version whose response
	// carries topic ids; older ones have nothing to learn.
	metadataTopicIDs = 10
	metadataFlexible = 9
)

// Produce decodes the body of a Produce request (the bytes after the
// request header) of the given version and calls visit for each record.
//
// complete says whether body holds the whole frame. When it does, kmsg
// reads the body, and a body kmsg refuses is one BadFrame gap. When it does
// not (the capture stopped before the frame's size), kmsg cannot read it
// at all, so the Decoder walks the structure itself up to the cut: every
// batch before the cut is read whole, the batch the cut falls in gives the
// records before the cut, and the cut is one BatchTruncated or
// FrameTruncated gap. What lies after the cut (further partitions and
// topics) is not counted, since its size is unknown.
//
// Versions 0 to 2 carry only magic 0/1 message sets, reported as
// LegacyMessageFormat gaps. Versions past kmsg's newest are one
// UnsupportedVersion gap.
func (d *Decoder) Produce(body []byte, version int16, complete bool, visit func(*Record)) Stats {
	body, cut := d.begin(body, complete, visit, false)
	defer d.end()
	if !KnownVersion(keyProduce, version) {
		d.gap(gapUnsupportedVersion, "", [16]byte{}, -1, -1)
		return d.stats
	}
	if cut {
		d.walkProduce(body, version)
		return d.stats
	}
	req := kmsg.ProduceRequest{Version: version}
	if err := req.UnsafeReadFrom(body); err != nil {
		d.gap(gapBadFrame, "", [16]byte{}, -1, -1)
		return d.stats
	}
	for i := range req.Topics {
		t := &req.Topics[i]
		p, known := d.topic(t.Topic, t.TopicID, version >= produceTopicIDs)
		for j := range t.Partitions {
			pp := &t.Partitions[j]
			p.partition = pp.Partition
			d.partition(p, known, pp.Records, len(pp.Records))
		}
	}
	return d.stats
}

// FetchResponse decodes the body of a Fetch response (after the response
// header) of the given version, v4 or later for record batches, and calls
// visit for each record. complete is as for Produce.
//
// A broker fills a Fetch response up to the request's byte limits and
// then cuts the last batch of a partition short; the consumer discards it
// and fetches it again. Such a batch is counted in Stats.PartialTrailing
// and is not a gap. Records of aborted transactions are visited like any
// other: they were on the wire, and read_uncommitted consumers see them.
func (d *Decoder) FetchResponse(body []byte, version int16, complete bool, visit func(*Record)) Stats {
	body, cut := d.begin(body, complete, visit, true)
	defer d.end()
	if !KnownVersion(keyFetch, version) {
		d.gap(gapUnsupportedVersion, "", [16]byte{}, -1, -1)
		return d.stats
	}
	if cut {
		d.walkFetch(body, version)
		return d.stats
	}
	resp := kmsg.FetchResponse{Version: version}
	if err := resp.UnsafeReadFrom(body); err != nil {
		d.gap(gapBadFrame, "", [16]byte{}, -1, -1)
		return d.stats
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		p, known := d.topic(t.Topic, t.TopicID, version >= fetchTopicIDs)
		for j := range t.Partitions {
			pp := &t.Partitions[j]
			p.partition = pp.Partition
			d.partition(p, known, pp.RecordBatches, len(pp.RecordBatches))
		}
	}
	return d.stats
}

// MetadataResponse learns the topic ids of a Metadata response body (after
// the response header) into d.Topics and returns how many it learnt.
// Versions before 10 carry no ids and teach nothing. A cut body teaches the
// topics before the cut. ok is false when the body does not parse (or, for
// a cut body, stops parsing before the cut).
func (d *Decoder) MetadataResponse(body []byte, version int16, complete bool) (learnt int, ok bool) {
	if !KnownVersion(keyMetadata, version) {
		return 0, false
	}
	if version < metadataTopicIDs {
		return 0, true
	}
	if len(body) > d.limits.MaxFrame {
		body, complete = body[:d.limits.MaxFrame], false
	}
	if !complete {
		return d.walkMetadata(body, version)
	}
	resp := kmsg.MetadataResponse{Version: version}
	if err := resp.UnsafeReadFrom(body); err != nil {
		return 0, false
	}
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.Topic == nil || *t.Topic == "" || t.TopicID == ([16]byte{}) {
			continue
		}
		// Intern first: Learn keeps the string, and kmsg's aliases body.
		d.Topics.Learn(t.TopicID, d.names.getString(*t.Topic))
		learnt++
	}
	return learnt, true
}

// topic resolves a topic read from a frame: its name for versions that
// carry names (interned, as kmsg's unsafe strings alias the body), the
// table's name for versions that carry ids.
func (d *Decoder) topic(name string, id [16]byte, byID bool) (part, bool) {
	if byID {
		p := part{id: id}
		name, ok := d.Topics.Lookup(id)
		p.topic = name
		return p, ok
	}
	return part{topic: d.names.getString(name)}, true
}

// partition reads one partition's records, or reports them as a gap when
// the topic id is unknown.
func (d *Decoder) partition(p part, known bool, have []byte, declared int) {
	if declared <= 0 {
		return
	}
	if known {
		d.recordSet(p, have, declared)
		return
	}
	d.gapIn(gapUnknownTopicID, p, countRecords(have, declared))
}

// countRecords adds up the record counts of the batches in a records
// field without decoding them, or returns -1 when any is unknown.
func countRecords(have []byte, declared int) int64 {
	if len(have) < declared {
		return -1
	}
	var n int64
	for len(have) > 0 {
		if len(have) < batchHeaderLen {
			return -1
		}
		c := headerCount(have)
		total := 12 + int64(int32(binary.BigEndian.Uint32(have[8:])))
		if c < 0 || total < batchHeaderLen || total > int64(len(have)) {
			return -1
		}
		n += c
		have = have[total:]
	}
	return n
}
