/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * pipeline.h: one chunk (what a syscall, or one message of an mmsg call,
 * moved) through the capture: decide whether it starts or continues a
 * request head or Kafka frame, copy just that out of user memory, emit
 * one event (or a few, for a long Kafka frame). The rules are at
 * handle_chunk.
 *
 * Each phase is a global function that reads what the phase before left in
 * this CPU's struct work (work.h) and says whether there is more to do:
 *
 *   handle_chunk (inlined into each entry point of capture.h)
 *     -> judge_chunk: the stream's state, the first bytes, the socket
 *     -> emit_chunk:  copy, then the stream's new state
 *     -> ship_event:  the event's fields, the ring buffer (ship.h)
 *
 * The verifier checks a global function once, from unknown state, however
 * many paths lead to it; and because handle_chunk calls the phases one
 * after another rather than each calling the next, the deepest chain of
 * stack frames is an entry point, its capture_* function and one phase.
 * The verifier holds that chain to 512 bytes on kernels that do not give
 * subprograms stacks of their own; TestStackBudget in internal/loader
 * keeps it under 448.
 */
#ifndef PROPWATCH_PIPELINE_H
#define PROPWATCH_PIPELINE_H

#include "kernel.h"
#include "counters.h"
#include "event.h"
#include "http.h"
#include "http2.h"
#include "http2_walk.h"
#include "kafka.h"
#include "kafka_corr.h"
#include "loopback.h"
#include "maps.h"
#include "sock.h"
#include "stream.h"
#include "ship.h"
#include "tls.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* iovecs walked after the first one, per message. Heads are written with
 * a few iovecs at most (status line, headers, blank line). */
#define IOV_GATHER 7
/* Bytes a head may span across chunks unless Go sets head_budget. */
#define HEAD_BUDGET_DEFAULT 16384
/* Bytes of one Kafka frame shipped unless Go sets kafka_budget. */
#define KAFKA_BUDGET_DEFAULT (1 << 20)
/* Smallest capture_bytes: a prefix plus a method must fit. */
#define CAPTURE_MIN 64
/* Bytes of a chunk peeked before anything else: one word (words.h). */
#define PEEK_BYTES 8

/* Set by Go before loading (volatile so clang keeps the loads). */

/* Bytes of data copied per event, CAPTURE_MIN..CAPTURE_MAX. */
volatile const __u32 capture_bytes = CAPTURE_MAX;
/* Bytes a request head may span, start chunk plus continuations. */
volatile const __u32 head_budget = HEAD_BUDGET_DEFAULT;
/* Bytes of a Kafka frame shipped, start and continuations together. */
volatile const __u32 kafka_budget = KAFKA_BUDGET_DEFAULT;
/*
 * gather copies the chunk s->w.c to s->ev.data from offset s->w.off (a
 * held-back prefix of up to 7 bytes is already there) up to offset
 * s->w.end (at most CAPTURE_MAX), and returns the offset reached, or -1
 * when a user read failed. Single-buffer chunks carry no iovecs to walk.
 *
 * Every segment is copied whole until end is reached, so the bytes of the
 * chunk consumed so far are always the offset minus the prefix.
 */
static __always_inline long gather(struct scratch *s)
{
	struct work *w = &s->w;
	__u64 off = RELOAD(w->off) & 7, end = bound_len(RELOAD(w->end));
	__u64 niov = RELOAD(w->c.niov), iov = RELOAD(w->c.iov), n = 0;

	if (off < end)
		n = bound_len(min_u64(RELOAD(w->c.len0), end - off));
	if (n && bpf_probe_read_user(s->ev.data + off, n, (const void *)RELOAD(w->c.base0)))
		return -1;
	w->off = off + n;
	if (!RELOAD(w->vectored))
		return RELOAD(w->off);

	for (__u32 i = 0; i < IOV_GATHER; i++) {
		off = RELOAD(w->off);
		if (i >= niov || off >= end)
			break;
		if (bpf_probe_read_user(&w->iv, sizeof(w->iv),
					(const void *)(iov + i * sizeof(w->iv))))
			return -1;
		n = bound_len(min_u64(RELOAD(w->iv.len), end - off));
		off &= CAPTURE_MAX - 1; /* off < end <= CAPTURE_MAX already */
		if (n && bpf_probe_read_user(s->ev.data + off, n, (const void *)RELOAD(w->iv.base)))
			return -1;
		w->off = off + n;
	}
	return RELOAD(w->off);
}

/*
 * judge_chunk is phase 1: from the stream's state and the chunk's first
 * bytes (read here, or by handle_chunk when it found no state), decide
 * what the chunk is; for one that matters, find its socket, then match
 * Kafka responses, remember Kafka requests, hold back short prefixes and
 * leave loopback starts to the receiving end. It returns 1 when the chunk
 * is to be copied, with struct work saying how; 0 when it is done with.
 */
__noinline int judge_chunk(void)
{
	struct scratch *s = scratch();
	__u32 kind = 0, pl = 0, wn = 0, kafka = 0, proto = 0;
	__u64 peek, word = 0, st_ino = 0, want, n0, limit;
	struct head_state *st;
	struct work *w;
	int v = V_DROP, known;
	__u8 dir;

	if (!s)
		return 0;
	w = &s->w;
	dir = RELOAD(w->dir);
	w->pending = 0;
	w->budget = 0;
	w->tail = 0;
	w->api_key = -1;
	w->api_version = -1;

	/* The stream's state, unless handle_chunk found there is none. */
	st = RELOAD(w->fresh) ? 0 : bpf_map_lookup_elem(&pw_heads, &w->key);
	if (st) {
		kind = st->kind;
		st_ino = st->ino;
		kafka = st->kafka;
		if (kind == HEAD_PENDING) {
			pl = st->pending_len & 7;
			w->pending = st->pending;
		} else if (kind == HEAD_OPEN || kind == FRAME_OPEN) {
			w->budget = st->budget;
			w->tail = st->tail;
		} else if (kind == H2_OPEN) {
			pl = st->pending_len & 3;
			w->pending = st->pending;
			w->budget = st->budget;
			w->tail = st->tail;
		}
	}
	if (kind == H2_OPEN && (st->tail & H2_SERVER) && RELOAD(w->hint.sk) &&
	    st_ino == RELOAD(w->hint.ino))
		return 0; /* a server's HTTP/2 frames: nothing to copy */
	if (!kind && !kafka)
		st = 0; /* nothing to keep or close */

	/* The first bytes, unless handle_chunk peeked already. */
	want = min_u64(RELOAD(w->c.total), PEEK_BYTES);
	n0 = min_u64(RELOAD(w->c.len0), want);
	if (n0 > PEEK_BYTES)
		n0 = PEEK_BYTES;
	if (!RELOAD(w->fresh)) {
		w->fresh_peek = 0;
		if (n0 && bpf_probe_read_user(&w->fresh_peek, n0, (const void *)RELOAD(w->c.base0))) {
			count_lost(LOST_READ_FAILED);
			return 0;
		}
	}
	peek = RELOAD(w->fresh_peek);
	/* An HTTP/2 stream takes every chunk, however short (http2_walk). */
	known = n0 == want || kind == H2_OPEN;
	if (known) {
		word = RELOAD(w->pending) | (peek << (pl * 8));
		wn = pl + n0 > PEEK_BYTES ? PEEK_BYTES : pl + n0;
		v = verdict(word, wn, kind, kafka, 1, &proto);
		if (v == V_DROP) {
			if (kind)
				close_stream(w, kafka);
			return 0;
		}
	}

	/* The chunk matters (or cannot be judged yet): find its socket. */
	if (RELOAD(w->hint.sk)) {
		/* The sock hooks name the socket (checked against the
		 * descriptor below, before anything is copied). */
		w->si = w->hint;
	} else if (!tcp_sock_of_fd(RELOAD(w->fd), &w->si)) {
		if (st)
			bpf_map_delete_elem(&pw_heads, &w->key);
		return 0;
	}
	if (st && st_ino != RELOAD(w->si.ino)) {
		/* The state is of a file this descriptor named before. */
		bpf_map_delete_elem(&pw_heads, &w->key);
		note_heads(w, dir, 0);
		kind = pl = kafka = 0;
		w->pending = 0;
		w->budget = 0;
		w->tail = 0;
		if (known) {
			word = peek;
			wn = n0;
			v = verdict(word, wn, 0, 0, 1, &proto);
			if (v == V_DROP)
				return 0;
		}
	}
	if (known) {
		if (v == V_REPLY) {
			v = match_reply(w, word);
			if (v == V_SKIP) {
				if (kind)
					close_stream(w, kafka);
				return 0;
			}
			if (v == V_DROP) {
				/* Not an awaited response: maybe a request after all. */
				v = verdict(word, wn, kind, kafka, 0, &proto);
				if (v == V_DROP) {
					if (kind)
						close_stream(w, kafka);
					return 0;
				}
			} else {
				proto = PROTO_KAFKA;
			}
		}
		if (v == V_TRACK) {
			if (pl == KAFKA_SIZE_BYTES && n0 == PEEK_BYTES) {
				/* The size was held back: the peek is key, version, id. */
				w->corr = peek >> 32;
				track(w, word);
			} else if (pl == 0 && RELOAD(w->c.len0) >= KAFKA_REQ_CORR_OFF + 4) {
				if (bpf_probe_read_user(&w->corr, 4, (const void *)(RELOAD(w->c.base0) +
										 KAFKA_REQ_CORR_OFF)))
					count_error(ERR_KAFKA_CORR);
				else
					track(w, word);
			} else {
				return 0;
			}
			if (kind)
				close_stream(w, kafka);
			/* A TLS request's sender, for naming it from the
			 * other end (quiet_end). */
			if (RELOAD(w->tls))
				quiet_end(w, dir, w->key.tgid);
			return 0;
		}
		if (v == V_HOLD) {
			hold_back(w, word, wn, kafka);
			return 0;
		}
		if (v == V_START && proto == PROTO_HTTP2 && h2_preface(word, wn))
			h2_mark_server(w);
		if (v == V_START && quiet_end(w, dir, w->key.tgid)) {
			if (kind)
				close_stream(w, kafka);
			/* Tell the sock hooks, which skip this direction from
			 * now on (not a Kafka client's: see struct sk_note). */
			if (proto == PROTO_HTTP || proto == PROTO_HTTP2)
				w->quiet = 1;
			return 0;
		}
	}

	/*
	 * The socket the sock hooks name must be the descriptor's (see
	 * on_sock): one look in the file table, made only for chunks that are
	 * copied out. What came before it (a loopback sender's note, a held
	 * prefix, a tracked Kafka request) is keyed by that socket or this
	 * descriptor, and a socket the kernel drives for another file's
	 * syscall never sees those used.
	 */
	if (RELOAD(w->hint.sk) && file_of_fd(RELOAD(w->fd)) != RELOAD(w->hint_file))
		return 0;

	limit = capture_bytes;
	if (limit > CAPTURE_MAX)
		limit = CAPTURE_MAX;
	if (limit < CAPTURE_MIN)
		limit = CAPTURE_MIN;

	w->pl = pl;
	w->kind = kind;
	w->verdict = v;
	w->known = known;
	w->proto = proto;
	w->frame = proto == PROTO_KAFKA && v == V_START ? kafka_size(word) + KAFKA_SIZE_BYTES : 0;
	w->kafka = kafka;
	w->off = pl;
	w->end = min_u64(pl + RELOAD(w->c.total), limit);
	/* The held-back prefix goes first; gather writes after it. */
	word = RELOAD(w->pending);
	__builtin_memcpy(s->ev.data, &word, sizeof(word));
	return 1;
}

/*
 * emit_chunk is phases 2 and 3: copy the chunk (gather), then decide from
 * what was copied how the stream goes on and what the event says. It
 * returns 1 when there is an event to ship, with struct work saying what.
 */
__noinline int emit_chunk(void)
{
	__u32 kind, budget, tail, pl, wn, kafka, proto, last = 0;
	struct scratch *s = scratch();
	struct head_state *st;
	__u64 word = 0;
	struct work *w;
	struct event *e;
	int v, vectored;
	__u8 dir;

	if (!s)
		return 0;
	w = &s->w;
	e = &s->ev;
	vectored = RELOAD(w->vectored);
	dir = RELOAD(w->dir);

	/* Phase 2: copy. */
	long got = gather(s);

	if (got < 0) {
		count_lost(LOST_READ_FAILED);
		return 0;
	}
	if (RELOAD(w->proto) == PROTO_HTTP2) {
		/* http2_walk chose the bytes and kept the stream's place. */
		w->ship = got;
		w->ev_len = RELOAD(w->h2_len);
		w->split_n = 0;
		return 1;
	}

	/* Phase 3: finish, from what struct work says. */
	__u64 captured = got, total = RELOAD(w->c.total), len, ship, whole;
	__u32 hb = head_budget;

	kind = RELOAD(w->kind);
	pl = RELOAD(w->pl) & 7;
	budget = RELOAD(w->budget);
	tail = RELOAD(w->tail);
	v = RELOAD(w->verdict);
	proto = RELOAD(w->proto);
	kafka = RELOAD(w->kafka);
	if (!RELOAD(w->known)) {
		/* The first segment was shorter than 8 bytes: decide on the copy
		 * (HTTP only: Kafka clients write a frame's header whole). */
		int hs;

		wn = captured > PEEK_BYTES ? PEEK_BYTES : captured;
		__builtin_memcpy(&word, e->data, sizeof(word));
		hs = http_sniff(word, wn);
		proto = PROTO_HTTP;
		if (kind == FRAME_OPEN) {
			proto = PROTO_KAFKA;
			v = V_CONT;
		} else if (hs == SNIFF_START) {
			v = V_START;
		} else if (kind == HEAD_OPEN) {
			v = V_CONT;
		} else if (hs == SNIFF_PREFIX) {
			hold_back(w, word, wn, kafka);
			return 0;
		} else {
			if (kind)
				close_stream(w, kafka);
			return 0;
		}
		if (v == V_START && quiet_end(w, dir, w->key.tgid)) {
			if (kind)
				close_stream(w, kafka);
			return 0;
		}
	}

	/* The chunk's last four bytes, to see whether a head ended. */
	len = pl + total;
	if (captured == len) {
		if (captured >= 4) {
			__builtin_memcpy(&last, e->data + ((captured - 4) & (CAPTURE_MAX - 1)), 4);
			tail = last;
		} else {
			__builtin_memcpy(&last, e->data, 4);
			tail = tail_push(tail, last, captured);
		}
	} else if (!vectored && total >= 4 && proto == PROTO_HTTP) {
		/* Not all of it was copied: read the end from user memory. */
		if (bpf_probe_read_user(&last, 4, (const void *)(RELOAD(w->c.base0) + total - 4)))
			last = 0;
		tail = last;
	} else {
		/* The end lies past what was walked: unknown, keep the head open. */
		tail = 0;
	}
	if (proto == PROTO_KAFKA)
		tail = 0; /* frames end by length alone */

	if (v == V_START) {
		/* whole: the bytes the message may ship in all. */
		whole = hb;
		if (proto == PROTO_KAFKA)
			whole = min_u64(RELOAD(w->frame), kafka_budget);
		ship = min_u64(captured, whole);
		if (len >= whole || tail == HEAD_END) {
			if (kind)
				close_stream(w, kafka);
		} else {
			set_state(w, RELOAD(w->si.ino), 0, whole - len, tail,
				  proto == PROTO_KAFKA ? FRAME_OPEN : HEAD_OPEN, 0, kafka);
			update_or_count(&pw_heads, &w->key, &w->hs, ERR_HEAD_OPEN);
			note_heads(w, dir, 1);
		}
	} else {
		whole = budget;
		ship = min_u64(captured, budget);
		if (total >= budget || tail == HEAD_END) {
			close_stream(w, kafka);
		} else {
			st = bpf_map_lookup_elem(&pw_heads, &w->key);
			if (st) {
				st->budget = budget - total;
				st->tail = tail;
			}
		}
	}

	/*
	 * A Kafka frame whose chunk holds more than one event does: the rest of
	 * its first buffer, up to what the frame may still ship, goes out as
	 * further events (split), and this one counts only its own bytes.
	 */
	__u64 more = 0, rest = 0;

	if (proto == PROTO_KAFKA && ship == captured && captured < len && captured < whole) {
		__u64 first = RELOAD(w->c.len0) + pl; /* bytes of the first buffer, prefix included */

		if (first > captured)
			more = min_u64(first, min_u64(len, whole)) - captured;
		rest = len - captured - more;
	}
	w->ship = ship;
	w->ev_len = more ? ship : len;
	w->ev_start = v == V_START;
	w->proto = proto;
	w->split_src = RELOAD(w->c.base0) + (captured - pl);
	w->split_n = more;
	w->split_rest = rest;
	return 1;
}

/*
 * handle_chunk is the capture decision for the chunk in s->w.c, one
 * direction of a connection:
 *
 *   - a chunk that starts with a method and a space starts an HTTP request
 *     head; it replaces whatever the stream had open;
 *   - a chunk that starts with a Kafka Produce request's size, api key and
 *     version starts a Kafka frame; one that starts with any other request
 *     is remembered (kafka_corr.h) and not copied, and a chunk on the
 *     other direction that starts with a frame size and that request's
 *     correlation id starts a Kafka frame when it answers a Fetch or
 *     Metadata request: the response;
 *   - while a head or frame is open on the stream, a chunk continues it,
 *     shipped up to the message's remaining budget (a head: head_budget
 *     bytes in all; a frame: its length, at most kafka_budget bytes);
 *   - a chunk too short to tell ("G", "PO", a Kafka size alone) is held
 *     back in pw_heads, not emitted; when the next chunk completes the
 *     start, one start event carries both, and its len counts both;
 *   - anything else is not copied out at all;
 *   - a start on the sending end of a loopback connection is left to the
 *     receiving end (loopback.h).
 *
 * A head stays open until a chunk ends in "\r\n\r\n", the budget is spent,
 * a new start arrives, or Go calls HeadDone (a head followed by a body in
 * the same chunk does not end in "\r\n\r\n": Go sees the end and says so).
 * A frame stays open until its budget is spent.
 *
 * Cost: the first up to 8 bytes are peeked and the stream's state looked
 * up; most chunks (responses, bodies, files, pipes, other protocols) stop
 * here, before the phases and before the descriptor is resolved to a
 * socket. Only when the first segment of a vectored call is shorter than
 * that does the decision wait for the copy (and then only HTTP starts and
 * continuations are recognised).
 *
 * tls: the chunk is plaintext from a TLS library (capture_tls), a stream
 * of its own. A socket chunk first passes tls_window when TLS capture is
 * on (tls.h), which may take a TLS write's plaintext in its place.
 */
static __always_inline void handle_chunk(struct scratch *s, __u64 fd, __u8 dir, __u8 sys,
					 const int vectored, const int tls)
{
	struct work *w = &s->w;
	__u64 id = bpf_get_current_pid_tgid();
	__u64 want = min_u64(w->c.total, PEEK_BYTES), peek;
	__u32 fresh = 0;

	w->id = id;
	w->fd = fd;
	w->dir = dir;
	w->sys = sys;
	w->vectored = vectored;
	w->key.tgid = id >> 32;
	w->key.fd = fd;
	w->key.dir = dir;
	w->key.tls = tls;
	w->tls = tls;
	w->fresh_peek = 0;
	/* A socket call inside a TLS library call: its SSL*'s socket. */
	if (!tls && tls_on && !tls_window())
		return;
	/*
	 * The fast way out, for most chunks: a stream with no state whose
	 * first bytes start nothing. What it found is handed on, so that
	 * judge_chunk does not look and read again. (The sock hooks may know
	 * there is no state without looking.)
	 */
	if ((w->no_state || !bpf_map_lookup_elem(&pw_heads, &w->key)) && w->c.len0 >= want) {
		if (want && bpf_probe_read_user(&w->fresh_peek, want, (const void *)w->c.base0)) {
			count_lost(LOST_READ_FAILED);
			return;
		}
		peek = w->fresh_peek;
		if (http_sniff(peek, want) == SNIFF_NONE && kafka_sniff(peek, want) == KAFKA_NONE &&
		    !kafka_size_prefix(peek, want) && !h2_preface(peek, want) &&
		    !h2_headers_sniff(peek, want)) {
			/* A TLS connection starts: Go counts those whose
			 * plaintext it cannot read (tls.h). */
			if (!tls && tls_on && tls_client_hello(peek, want)) {
				if (tls_hello())
					ship_event();
				return;
			}
			/* Tell the sock hooks, which skip such a direction. */
			w->responses = http_response(peek, want);
			return;
		}
		fresh = 1;
	}
	w->fresh = fresh;

	if (judge_chunk() && (RELOAD(w->proto) != PROTO_HTTP2 || http2_walk()) && emit_chunk())
		ship_event();
}

/*
 * handle_iov hands a chunk given as an iovec array (readv, writev, and
 * each msghdr) of iovcnt entries at iov, total bytes, to handle_chunk.
 */
static __always_inline void handle_iov(struct scratch *s, __u64 fd, __u64 iov, __u64 iovcnt,
				       __u64 total, __u8 dir, __u8 sys)
{
	struct work *w = &s->w;

	if (!iovcnt || !total)
		return;
	if (bpf_probe_read_user(&w->iv, sizeof(w->iv), (const void *)iov)) {
		count_lost(LOST_READ_FAILED);
		return;
	}
	w->c.base0 = w->iv.base;
	w->c.len0 = w->iv.len;
	w->c.iov = iov + sizeof(w->iv);
	w->c.niov = iovcnt - 1;
	w->c.total = total;
	handle_chunk(s, fd, dir, sys, 1, 0);
}

#endif /* PROPWATCH_PIPELINE_H */
