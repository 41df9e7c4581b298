package kafka

// The walkers read frames the capture cut short, which kmsg's generated
// readers refuse whole. They follow kmsg's field order for each version
// (generated.go, readFrom) but keep only what leads to the record batches,
// and stop at the first field the input ends inside. The fuzz tests check
// them against kmsg on whole frames.

// walkProduce reads a cut Produce request body.
func (d *Decoder) walkProduce(body []byte, version int16) {
	r := reader{b: body}
	flex := version >= produceFlexible
	if version >= 3 {
		r.str(flex, true) // transactional_id
	}
	r.skip(2 + 4) // acks, timeout
	d.walkTopics(&r, version, flex, version >= produceTopicIDs, false)
}

// walkFetch reads a cut Fetch response body.
func (d *Decoder) walkFetch(body []byte, version int16) {
	r := reader{b: body}
	flex := version >= fetchFlexible
	if version >= 1 {
		r.skip(4) // throttle_time_ms
	}
	if version >= 7 {
		r.skip(2 + 4) // error_code, session_id
	}
	d.walkTopics(&r, version, flex, version >= fetchTopicIDs, true)
}

// walkTopics reads the topics array of a Produce request or, when fetch is
// set, a Fetch response to the end of the body, and reports why it stopped
// early if it did. byID is set when topics are named by id.
func (d *Decoder) walkTopics(r *reader, version int16, flex, byID, fetch bool) {
	p := part{partition: -1}
	topics := r.arrayLen(flex)
	for i := 0; i < topics && r.ok(); i++ {
		var known bool
		if p, known = d.walkTopic(r, flex, byID); !r.ok() {
			break
		}
		parts := r.arrayLen(flex)
		for j := 0; j < parts && r.ok(); j++ {
			p.partition = r.int32()
			if fetch {
				skipFetchPartition(r, version, flex)
			}
			if d.walkRecords(r, p, known, flex) {
				return
			}
			if flex {
				r.tags()
			}
		}
		if r.ok() {
			p.partition = -1
		}
		if flex {
			r.tags()
		}
	}
	d.walkEnd(r, p)
}

// skipFetchPartition skips the fields of a Fetch response partition
// between its index and its records.
func skipFetchPartition(r *reader, version int16, flex bool) {
	r.skip(2 + 8) // error_code, high_watermark
	if version >= 4 {
		r.skip(8) // last_stable_offset
	}
	if version >= 5 {
		r.skip(8) // log_start_offset
	}
	if version >= 4 {
		aborted := r.arrayLen(flex)
		for k := 0; k < aborted && r.ok(); k++ {
			r.skip(8 + 8) // producer_id, first_offset
			if flex {
				r.tags()
			}
		}
	}
	if version >= 11 {
		r.skip(4) // preferred_read_replica
	}
}

// walkTopic reads a topic's name or id.
func (d *Decoder) walkTopic(r *reader, flex, byID bool) (part, bool) {
	if byID {
		id := r.uuid()
		if !r.ok() {
			return part{partition: -1}, false
		}
		name, ok := d.Topics.Lookup(id)
		return part{topic: name, id: id, partition: -1}, ok
	}
	name := r.str(flex, false)
	if !r.ok() {
		return part{partition: -1}, false
	}
	return part{topic: d.names.get(name), partition: -1}, true
}

// walkRecords reads a partition's records field and decodes it. It returns
// true when the input ended inside the field: the cut has then been
// reported, and there is nothing after it to read.
func (d *Decoder) walkRecords(r *reader, p part, known, flex bool) bool {
	if !r.ok() {
		return false
	}
	have, declared := r.records(flex)
	if r.state == readBad {
		return false
	}
	d.partition(p, known, have, declared)
	if len(have) < declared {
		// The cut fell inside the records. If no batch was cut (the
		// cut batch was a fetch's partial trailing one, say, or the
		// topic is unknown), what the cut hid is what follows.
		if !d.cutReported {
			d.gapIn(d.frameCut, p, -1)
		}
		return true
	}
	return false
}

// walkEnd reports why a walk stopped early, if it did.
func (d *Decoder) walkEnd(r *reader, p part) {
	switch r.state {
	case readShort:
		d.gapIn(d.frameCut, p, -1)
	case readBad:
		d.gapIn(gapBadFrame, p, -1)
	}
}

// walkMetadata learns the topic ids of a cut Metadata response body
// (v10 and later, all flexible).
func (d *Decoder) walkMetadata(body []byte, version int16) (learnt int, ok bool) {
	r := reader{b: body}
	const flex = true
	r.skip(4) // throttle_time_ms
	brokers := r.arrayLen(flex)
	for i := 0; i < brokers && r.ok(); i++ {
		r.skip(4)          // node_id
		r.str(flex, false) // host
		r.skip(4)          // port
		r.str(flex, true)  // rack
		r.tags()
	}
	r.str(flex, true) // cluster_id
	r.skip(4)         // controller_id
	topics := r.arrayLen(flex)
	for i := 0; i < topics && r.ok(); i++ {
		r.skip(2) // error_code
		name := r.str(flex, version >= 12)
		id := r.uuid()
		if !r.ok() {
			break
		}
		if len(name) > 0 && id != ([16]byte{}) {
			d.Topics.Learn(id, d.names.get(name))
			learnt++
		}
		r.skip(1) // is_internal
		parts := r.arrayLen(flex)
		for j := 0; j < parts && r.ok(); j++ {
			r.skip(2 + 4 + 4 + 4) // error_code, partition, leader, leader_epoch
			for range 3 {         // replicas, isr, offline_replicas
				r.skip(4 * r.arrayLen(flex))
			}
			r.tags()
		}
		r.skip(4) // topic_authorized_operations
		r.tags()
	}
	return learnt, r.state != readBad
}
