/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * stream.h: the state of one direction of one connection (pw_heads, keyed
 * by process, descriptor and direction) and the verdict on a chunk from
 * its first bytes and that state. A stream has a request head open, a
 * Kafka frame open, a short prefix held back, or nothing; and it may await
 * Kafka responses (kafka_corr.h).
 */
#ifndef PROPWATCH_STREAM_H
#define PROPWATCH_STREAM_H

#include "kernel.h"
#include "counters.h"
#include "http.h"
#include "http2.h"
#include "kafka.h"
#include "maps.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/*
 * note_heads tells the sock hooks (struct work's heads_set, heads_gone)
 * that the stream of direction dir now has state in pw_heads (set), or
 * has none left, so that their note on the socket says whether a lookup
 * is worth making.
 */
static __always_inline void note_heads(struct work *w, __u32 dir, int set)
{
	__u32 bit = 1u << (dir & 1);

	if (set) {
		w->heads_set |= bit;
		w->heads_gone &= ~bit;
	} else {
		w->heads_gone |= bit;
		w->heads_set &= ~bit;
	}
}

/* set_state fills w->hs, the value a stream's new state is stored from. */
static __always_inline void set_state(struct work *w, __u64 ino, __u64 pending, __u32 budget,
				      __u32 tail, __u8 kind, __u8 pending_len, __u8 kafka)
{
	__builtin_memset(&w->hs, 0, sizeof(w->hs));
	w->hs.ino = ino;
	w->hs.pending = pending;
	w->hs.budget = budget;
	w->hs.tail = tail;
	w->hs.kind = kind;
	w->hs.pending_len = pending_len;
	w->hs.kafka = kafka;
}

/*
 * hold_back keeps a prefix of the chunk's stream (w->key) too short to
 * judge (a read of "G", or of a Kafka frame's four size bytes) until the
 * next chunk tells: n bytes of bytes.
 */
static __always_inline void hold_back(struct work *w, __u64 bytes, __u32 n, __u8 kafka)
{
	set_state(w, w->si.ino, bytes & low_bytes(n), 0, 0, HEAD_PENDING, n, kafka);
	update_or_count(&pw_heads, &w->key, &w->hs, ERR_HEAD_HOLD);
	note_heads(w, w->key.dir, 1);
}

/*
 * close_stream ends what the chunk's stream had open. A stream that awaits
 * Kafka responses keeps its entry, with nothing open.
 */
static __always_inline void close_stream(struct work *w, __u32 kafka)
{
	struct head_state *st;

	if (kafka) {
		st = bpf_map_lookup_elem(&pw_heads, &w->key);
		if (st) {
			st->kind = 0;
			return;
		}
	}
	bpf_map_delete_elem(&pw_heads, &w->key);
	note_heads(w, w->key.dir, 0);
}

/* What to do with a chunk, from its first bytes and the stream's state. */
enum verdict {
	V_DROP = 0,  /* neither a start nor part of an open message: not copied */
	V_HOLD = 1,  /* a possible prefix of a start: held back in pw_heads */
	V_START = 2, /* begins a message */
	V_CONT = 3,  /* continues the open message */
	V_TRACK = 4, /* a Kafka Fetch or Metadata request: remembered, not copied */
	V_REPLY = 5, /* may begin a Kafka response awaited on this stream */
	V_SKIP = 6,  /* begins an awaited Kafka response that is not copied */
};

/*
 * verdict decides from the first wn (up to 8) bytes of the message (word)
 * and the stream's state; reply 0 skips the match against awaited Kafka
 * responses (done already). *proto is set for V_START, V_CONT and V_TRACK.
 * An open Kafka frame takes every chunk, whatever its bytes; a stream that
 * awaits Kafka responses is matched against them before anything else,
 * because a response's correlation id can read like a request's api key.
 */
static __always_inline int verdict(__u64 word, __u32 wn, __u32 kind, __u32 kafka,
				   int reply, __u32 *proto)
{
	int hs, ks;

	*proto = PROTO_HTTP;
	if (kind == H2_OPEN) {
		/* An HTTP/2 client's stream is never anything else. */
		*proto = PROTO_HTTP2;
		return V_CONT;
	}
	if (kind == FRAME_OPEN) {
		*proto = PROTO_KAFKA;
		return V_CONT;
	}
	if (kafka && reply && wn == 8 && kafka_size_ok(kafka_size(word)))
		return V_REPLY;
	hs = http_sniff(word, wn);
	if (hs == SNIFF_START)
		return V_START;
	if (kind == HEAD_OPEN)
		return V_CONT;
	/*
	 * HTTP/2 before Kafka: its control frames read like Kafka Produce v0
	 * requests. A HEADERS frame on a stream with no state is a connection
	 * whose preface was missed (not on a Kafka response stream).
	 */
	if (h2_preface(word, wn) || (!kafka && h2_headers_sniff(word, wn))) {
		*proto = PROTO_HTTP2;
		return V_START;
	}
	/* A stream that carries Kafka responses carries no requests. */
	ks = kafka ? KAFKA_NONE : kafka_sniff(word, wn);
	if (ks != KAFKA_NONE) {
		*proto = PROTO_KAFKA;
		return ks == KAFKA_CAPTURE ? V_START : V_TRACK;
	}
	if (hs == SNIFF_PREFIX || kafka_size_prefix(word, wn))
		return V_HOLD;
	return V_DROP;
}

#endif /* PROPWATCH_STREAM_H */
