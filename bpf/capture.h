/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * capture.h: the work of the sys_exit programs. Given what a syscall moved
 * (a buffer, or iovecs), decide whether it starts or continues a request
 * head, copy just that out of user memory, and emit one event.
 */
#ifndef PROPWATCH_CAPTURE_H
#define PROPWATCH_CAPTURE_H

#include "kernel.h"
#include "event.h"
#include "maps.h"
#include "sniff.h"
#include "sock.h"
#include <bpf/bpf_helpers.h>

/* iovecs walked after the first one, per message. Heads are written with
 * a few iovecs at most (status line, headers, blank line). */
#define IOV_GATHER 7
/* Messages of one sendmmsg/recvmmsg turned into events. */
#define MMSG_MAX 4
/* Bytes a head may span across chunks unless Go sets head_budget. */
#define HEAD_BUDGET_DEFAULT 16384
/* Bytes of one Kafka frame shipped unless Go sets kafka_budget. */
#define KAFKA_BUDGET_DEFAULT (1 << 20)
/* Events one syscall's contiguous bytes of a Kafka frame may become:
 * CAPTURE_MAX each, so 1 MiB at most per syscall. */
#define SPLIT_MAX 64
/* Smallest capture_bytes: a prefix plus a method must fit. */
#define CAPTURE_MIN 64

/* Set by Go before loading (volatile so clang keeps the loads). */

/* Process id of propwatch itself: its own traffic is never captured. */
volatile const __u32 self_tgid = 0;
/* Bytes of data copied per event, CAPTURE_MIN..CAPTURE_MAX. */
volatile const __u32 capture_bytes = CAPTURE_MAX;
/* Bytes a request head may span, start chunk plus continuations. */
volatile const __u32 head_budget = HEAD_BUDGET_DEFAULT;
/* Bytes of a Kafka frame shipped, start and continuations together. */
volatile const __u32 kafka_budget = KAFKA_BUDGET_DEFAULT;
/* 1: both ends of a loopback connection emit (tests); 0: only the
 * receiving end does (see quiet_end). */
volatile const __u32 loopback_both = 0;

/* Wake Go at most once this often (0: never; Go polls either way). */
volatile const __u64 wakeup_ns = 0;

/* When Go was last woken. Shared by all CPUs unlocked: a lost update only
 * costs one wakeup more. */
__u64 last_wakeup_ns = 0;

/*
 * rb_flags decides whether an event emitted at now (bpf_ktime_get_ns)
 * wakes the reader. A wakeup costs the emitting syscall an irq_work and a
 * task wakeup, more than the rest of the capture, so there is at most one
 * per wakeup_ns: under load one event in hundreds pays it, and the first
 * event on a quiet host still wakes Go at once. Go picks up the events
 * that woke nobody when it next looks (Loader.Read).
 */
static __always_inline __u64 rb_flags(__u64 now)
{
	if (!wakeup_ns || now - last_wakeup_ns < wakeup_ns)
		return BPF_RB_NO_WAKEUP;
	last_wakeup_ns = now;
	return BPF_RB_FORCE_WAKEUP;
}

static __always_inline __u64 min_u64(__u64 a, __u64 b)
{
	return a < b ? a : b;
}

/* Load from map memory even where clang knows what it stored there: the
 * point of keeping a value in struct work is that the verifier does not. */
#define RELOAD(x) (*(volatile __typeof__(x) *)&(x))

/* A length the verifier can see is at most CAPTURE_MAX. */
static __always_inline __u64 bound_len(__u64 n)
{
	if (n > CAPTURE_MAX)
		n = CAPTURE_MAX;
	barrier_var(n);
	return n;
}

/*
 * gather copies the chunk s->w.c to s->ev.data from offset s->w.off (a
 * held-back prefix of up to 7 bytes is already there) up to offset
 * s->w.end (at most CAPTURE_MAX), and returns the offset reached, or -1
 * when a user read failed. vectored is a compile-time constant: the
 * single-buffer programs carry no loop.
 *
 * Every segment is copied whole until end is reached, so the bytes of the
 * chunk consumed so far are always the offset minus the prefix.
 */
static __always_inline long gather(struct scratch *s, int vectored)
{
	struct work *w = &s->w;
	__u64 off = RELOAD(w->off) & 7, end = bound_len(RELOAD(w->end));
	__u64 niov = RELOAD(w->c.niov), iov = RELOAD(w->c.iov), n = 0;

	if (off < end)
		n = bound_len(min_u64(RELOAD(w->c.len0), end - off));
	if (n && bpf_probe_read_user(s->ev.data + off, n, (const void *)RELOAD(w->c.base0)))
		return -1;
	w->off = off + n;
	if (!vectored)
		return RELOAD(w->off);

	for (__u32 i = 0; i < IOV_GATHER; i++) {
		struct pw_iovec iv;

		off = RELOAD(w->off);
		if (i >= niov || off >= end)
			break;
		if (bpf_probe_read_user(&iv, sizeof(iv), (const void *)(iov + i * sizeof(iv))))
			return -1;
		n = bound_len(min_u64(iv.len, end - off));
		off &= CAPTURE_MAX - 1; /* off < end <= CAPTURE_MAX already */
		if (n && bpf_probe_read_user(s->ev.data + off, n, (const void *)iv.base))
			return -1;
		w->off = off + n;
	}
	return RELOAD(w->off);
}

/*
 * note_heads tells the sock hooks (struct work's heads_set, heads_gone)
 * that the stream of direction dir now has state in pw_heads (set), or
 * has none left.
 */
static __always_inline void note_heads(__u32 dir, int set)
{
	__u32 cpu = bpf_get_smp_processor_id(), bit = 1u << (dir & 1);
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);

	if (!s)
		return;
	if (set) {
		s->w.heads_set |= bit;
		s->w.heads_gone &= ~bit;
	} else {
		s->w.heads_gone |= bit;
		s->w.heads_set &= ~bit;
	}
}

/*
 * Hold back a prefix too short to judge (a read of "G", or of a Kafka
 * frame's four size bytes) until the next chunk tells.
 */
static __always_inline void hold_back(struct head_key *key, __u64 bytes, __u32 n,
				      __u64 ino, __u8 kafka)
{
	struct head_state st = {
		.ino = ino,
		.pending = bytes & low_bytes(n),
		.kind = HEAD_PENDING,
		.pending_len = n,
		.kafka = kafka,
	};

	bpf_map_update_elem(&pw_heads, key, &st, BPF_ANY);
	note_heads(key->dir, 1);
}

/*
 * close_stream ends what a stream had open. A stream that awaits Kafka
 * responses keeps its entry, with nothing open.
 */
static __always_inline void close_stream(struct head_key *key, __u32 kafka)
{
	struct head_state *st;

	if (kafka) {
		st = bpf_map_lookup_elem(&pw_heads, key);
		if (st) {
			st->kind = 0;
			return;
		}
	}
	bpf_map_delete_elem(&pw_heads, key);
	note_heads(key->dir, 0);
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

/*
 * match_reply looks the correlation id of a possible Kafka response (the
 * second word of word) up among the requests awaited on its stream, and
 * consumes the match. It returns V_START with w's api fields set, or
 * V_DROP.
 */
static __always_inline int match_reply(const struct head_key *key, __u64 word,
				       __s16 *api_key, __s16 *api_version)
{
	struct kreq_key k = {.tgid = key->tgid, .fd = key->fd, .dir = key->dir,
			     .corr = (__u32)(word >> 32)};
	struct kreq *r = bpf_map_lookup_elem(&pw_kreqs, &k);

	if (!r)
		return V_DROP;
	*api_key = r->api_key;
	*api_version = r->api_version;
	bpf_map_delete_elem(&pw_kreqs, &k);
	/* Only Fetch responses (records) and Metadata responses (topic ids)
	 * are copied out; the others were tracked to be told apart. */
	if (*api_key != KAFKA_API_FETCH && *api_key != KAFKA_API_METADATA)
		return V_SKIP;
	return V_START;
}

/*
 * track remembers a Kafka Fetch or Metadata request (its first bytes in
 * word, its correlation id corr as on the wire) so that its response is
 * recognised on the other direction of the same stream, and marks that
 * direction as awaiting one.
 */
static __noinline int track(const struct head_key *key, __u64 word, __u32 corr,
			    __u64 ino)
{
	struct head_key rkey = {.tgid = key->tgid, .fd = key->fd, .dir = key->dir ^ 1};
	struct kreq_key k = {.tgid = key->tgid, .fd = key->fd, .dir = rkey.dir, .corr = corr};
	struct kreq r = {.api_key = kafka_api_key(word), .api_version = kafka_api_version(word)};
	struct head_state *st;

	bpf_map_update_elem(&pw_kreqs, &k, &r, BPF_ANY);
	st = bpf_map_lookup_elem(&pw_heads, &rkey);
	if (st && st->ino == ino) {
		st->kafka = 1;
	} else {
		struct head_state ns = {.ino = ino, .kafka = 1};

		bpf_map_update_elem(&pw_heads, &rkey, &ns, BPF_ANY);
	}
	note_heads(rkey.dir, 1);
	return 0;
}

/*
 * (The helpers below with large locals are subprograms, not inlined: their
 * stack frames then follow the caller's instead of adding to it, and the
 * mmsg entry point stays within the 512-byte stack.)
 *
 * quiet_end reports whether a request start at this end of the connection
 * is left to the other end: on a loopback connection both ends are
 * processes of this host and both would emit the same request, so only the
 * receiving end does. The sending end records here which process it is, so
 * that the receiver's event can name it (pw_owners). Half the events and
 * half the copies of loopback traffic, and Go has no pair of ends to match.
 */
static __noinline int quiet_end(const struct sock_info *si, __u8 dir, __u32 tgid)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	struct conn_key k = {};
	struct owner *o;

	if (loopback_both || dir != DIR_EGRESS || !s)
		return 0;
	/* The sock hooks' note: this loopback end is recorded already. */
	if (tgid && s->w.owner_tgid == tgid)
		return 1;
	conn_fill(&k, si);
	if (!is_loopback(k.raddr))
		return 0;
	o = bpf_map_lookup_elem(&pw_owners, &k);
	if (!o || o->tgid != tgid) {
		struct owner no = {.tgid = tgid};

		bpf_get_current_comm(no.comm, sizeof(no.comm));
		bpf_map_update_elem(&pw_owners, &k, &no, BPF_ANY);
	}
	s->w.owner_set = tgid;
	return 1;
}

/*
 * sock_fill fills the connection fields of e from its socket, and on the
 * receiving end of a loopback connection the sending process, when its end
 * is in pw_owners.
 */
static __noinline int sock_fill(struct event *e, const struct sock_info *si)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	struct conn_key k = {};
	struct owner *o = 0;

	if (!s)
		return 0;

	conn_fill(&k, si);
	e->family = si->family;
	e->netns = k.netns;
	e->lport = k.lport;
	e->rport = k.rport;
	__builtin_memcpy(e->laddr, k.laddr, 16);
	__builtin_memcpy(e->raddr, k.raddr, 16);

	if (e->direction == DIR_INGRESS && is_loopback(k.raddr)) {
		/* The other end's key: the same addresses, swapped. */
		struct conn_key p = {.netns = k.netns, .lport = k.rport, .rport = k.lport};

		if (s->w.peer_tgid) {
			/* The sock hooks' note remembers it. */
			e->peer_tgid = s->w.peer_tgid;
			__builtin_memcpy(e->peer_comm, s->w.peer_comm, 16);
			return 0;
		}
		__builtin_memcpy(p.laddr, k.raddr, 16);
		__builtin_memcpy(p.raddr, k.laddr, 16);
		o = bpf_map_lookup_elem(&pw_owners, &p);
		if (o) {
			s->w.peer_set = o->tgid;
			__builtin_memcpy(s->w.peer_comm, o->comm, 16);
		}
	}
	if (o) {
		e->peer_tgid = o->tgid;
		__builtin_memcpy(e->peer_comm, o->comm, 16);
	} else {
		e->peer_tgid = 0;
		__builtin_memset(e->peer_comm, 0, 16);
	}
	return 0;
}

/*
 * split ships the rest of a Kafka frame's bytes that one syscall moved in
 * a single buffer (w->split_src, w->split_n bytes) as further events of up
 * to CAPTURE_MAX bytes, SPLIT_MAX at most; s->ev holds the first event,
 * already sent. Each event's len is the bytes it carries, except the
 * last's, which counts the rest of the chunk (w->split_rest) too: Go sees
 * a gap where data is shorter than len. The loop's state lives in struct
 * work, so the verifier walks one iteration, not SPLIT_MAX.
 */
static __always_inline void split(struct scratch *s)
{
	struct work *w = &s->w;
	struct event *e = &s->ev;

	e->start = 0;
	e->kafka_api_key = -1;
	e->kafka_api_version = -1;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < SPLIT_MAX; i++) {
		__u64 n = RELOAD(w->split_n), src = RELOAD(w->split_src), take;

		if (!n)
			break;
		take = bound_len(min_u64(n, CAPTURE_MAX));
		if (bpf_probe_read_user(e->data, take, (const void *)src)) {
			count_lost(LOST_READ_FAILED);
			return;
		}
		w->split_src = src + take;
		w->split_n = n - take;
		e->captured = take;
		e->len = take + (n - take ? 0 : RELOAD(w->split_rest));
		if (bpf_ringbuf_output(&pw_events, e, EVENT_HEADER_SIZE + take,
				       rb_flags(e->ktime_ns)))
			count_lost(LOST_RINGBUF_FULL);
	}
}

/*
 * ship_event fills in and sends the event phase 3 decided on (struct work
 * says what), then the split events after it. A global function, so the
 * verifier walks it once however many ways phase 3 got here.
 */
__noinline int ship_event(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	struct work *w;
	struct event *e;
	__u64 id, ship;

	if (!s)
		return 0;
	w = &s->w;
	e = &s->ev;
	id = RELOAD(w->id);
	e->ktime_ns = bpf_ktime_get_ns();
	e->sock_ino = RELOAD(w->si.ino);
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->fd = RELOAD(w->fd);
	e->direction = RELOAD(w->dir);
	e->start = RELOAD(w->ev_start);
	e->syscall = RELOAD(w->sys);
	e->proto = RELOAD(w->proto);
	e->kafka_api_key = RELOAD(w->api_key);
	e->kafka_api_version = RELOAD(w->api_version);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	sock_fill(e, &w->si);

	ship = bound_len(RELOAD(w->ship));
	e->captured = ship;
	e->len = RELOAD(w->ev_len);
	if (bpf_ringbuf_output(&pw_events, e, EVENT_HEADER_SIZE + ship,
			       rb_flags(e->ktime_ns)))
		count_lost(LOST_RINGBUF_FULL);
	if (RELOAD(w->split_n))
		split(s);
	return 0;
}

/*
 * emit_chunk runs the copy and the finish of handle_chunk (phases 2 and
 * 3) from what phase 1 left in this CPU's struct work. It is a global
 * function so that the verifier checks it once, from unknown state, rather
 * than once for every way phase 1 can end: that keeps the programs far
 * below the verifier's limit however many verdicts phase 1 tells apart.
 */
__noinline int emit_chunk(void)
{
	__u32 cpu = bpf_get_smp_processor_id(), kind, budget, tail, pl, wn, kafka, proto, last = 0;
	__u64 word = 0;
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	struct head_state *st;
	struct head_key key;
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
	key.tgid = RELOAD(w->id) >> 32;
	key.fd = RELOAD(w->fd);
	key.dir = dir;
	key._pad = 0;

	/* Phase 2: copy. */
	long got = gather(s, vectored);

	if (got < 0) {
		count_lost(LOST_READ_FAILED);
		return 0;
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

		wn = captured > 8 ? 8 : captured;
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
			hold_back(&key, word, wn, RELOAD(w->si.ino), kafka);
			return 0;
		} else {
			if (kind)
				close_stream(&key, kafka);
			return 0;
		}
		if (v == V_START && quiet_end(&w->si, dir, key.tgid)) {
			if (kind)
				close_stream(&key, kafka);
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
				close_stream(&key, kafka);
		} else {
			struct head_state ns = {
				.ino = RELOAD(w->si.ino),
				.budget = whole - len,
				.tail = tail,
				.kind = proto == PROTO_KAFKA ? FRAME_OPEN : HEAD_OPEN,
				.kafka = kafka,
			};

			bpf_map_update_elem(&pw_heads, &key, &ns, BPF_ANY);
			note_heads(dir, 1);
		}
	} else {
		whole = budget;
		ship = min_u64(captured, budget);
		if (total >= budget || tail == HEAD_END) {
			close_stream(&key, kafka);
		} else {
			st = bpf_map_lookup_elem(&pw_heads, &key);
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
	return ship_event();
}

/*
 * handle_chunk is the capture decision for one chunk of one direction of a
 * connection:
 *
 *   - a chunk that starts with a method and a space starts an HTTP request
 *     head; it replaces whatever the stream had open;
 *   - a chunk that starts with a Kafka Produce request's size, api key and
 *     version starts a Kafka frame; one that starts with a Fetch or
 *     Metadata request is remembered (pw_kreqs) and not copied, and a chunk
 *     on the other direction that starts with a frame size and that
 *     request's correlation id starts a Kafka frame: the response;
 *   - while a head or frame is open on the stream, a chunk continues it,
 *     shipped up to the message's remaining budget (a head: head_budget
 *     bytes in all; a frame: its length, at most kafka_budget bytes);
 *   - a chunk too short to tell ("G", "PO", a Kafka size alone) is held
 *     back in pw_heads, not emitted; when the next chunk completes the
 *     start, one start event carries both, and its len counts both;
 *   - anything else is not copied out at all;
 *   - a start on the sending end of a loopback connection is left to the
 *     receiving end (quiet_end).
 *
 * A head stays open until a chunk ends in "\r\n\r\n", the budget is spent,
 * a new start arrives, or Go calls HeadDone (a head followed by a body in
 * the same chunk does not end in "\r\n\r\n": Go sees the end and says so).
 * A frame stays open until its budget is spent.
 *
 * Cost: the first up to 8 bytes are peeked and the stream's state looked
 * up; most chunks (responses, bodies, files, pipes, other protocols) stop
 * there, before the descriptor is resolved to a socket. Only when the first
 * segment of a vectored call is shorter than that does the decision wait for
 * the copy (and then only HTTP starts and continuations are recognised).
 *
 * It runs in three phases: decide from the peek, copy (gather), finish.
 * What the finish needs from the first phase goes through struct work in
 * map memory (see maps.h), which keeps the verifier's work linear.
 */
__noinline int judge_chunk(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	struct chunk cc, *c = &cc;
	__u64 fd;
	__u8 dir;

	if (!s)
		return 0;
	cc = s->w.c;
	fd = RELOAD(s->w.fd);
	dir = RELOAD(s->w.dir);

	__u64 id = bpf_get_current_pid_tgid();
	struct head_key key = {.tgid = id >> 32, .fd = fd, .dir = dir};
	__u32 kind = 0, budget = 0, tail = 0, pl = 0, wn = 0, kafka = 0, proto = 0;
	__u64 pending = 0, peek = 0, word = 0, st_ino = 0, want, n0, limit;
	__s16 api_key = -1, api_version = -1;
	struct sock_info si = {};
	struct head_state *st;
	struct work *w;
	struct event *e;
	int v = V_DROP, known, fresh;

	/* Phase 1: the stream's state and the first bytes, unless
	 * handle_chunk already found there is no state and peeked. */
	fresh = RELOAD(s->w.fresh);
	st = fresh ? 0 : bpf_map_lookup_elem(&pw_heads, &key);
	if (st) {
		kind = st->kind;
		st_ino = st->ino;
		kafka = st->kafka;
		if (kind == HEAD_PENDING) {
			pl = st->pending_len & 7;
			pending = st->pending;
		} else if (kind == HEAD_OPEN || kind == FRAME_OPEN) {
			budget = st->budget;
			tail = st->tail;
		}
	}
	if (!kind && !kafka)
		st = 0; /* nothing to keep or close */

	want = min_u64(c->total, 8);
	n0 = min_u64(c->len0, want);
	if (n0 > 8)
		n0 = 8;
	if (fresh)
		peek = RELOAD(s->w.fresh_peek);
	else if (n0 && bpf_probe_read_user(&peek, n0, (const void *)c->base0)) {
		count_lost(LOST_READ_FAILED);
		return 0;
	}
	known = n0 == want;
	if (known) {
		word = pending | (peek << (pl * 8));
		wn = pl + n0 > 8 ? 8 : pl + n0;
		v = verdict(word, wn, kind, kafka, 1, &proto);
		if (v == V_DROP) {
			if (kind)
				close_stream(&key, kafka);
			return 0;
		}
	}

	/* The chunk matters (or cannot be judged yet): find its socket. */
	if (RELOAD(s->w.hint.sk)) {
		/* The sock hooks name the socket (checked against the
		 * descriptor below, before anything is copied). */
		si.sk = RELOAD(s->w.hint.sk);
		si.ino = RELOAD(s->w.hint.ino);
		si.family = RELOAD(s->w.hint.family);
	} else if (!tcp_sock_of_fd(fd, &si)) {
		if (st)
			bpf_map_delete_elem(&pw_heads, &key);
		return 0;
	}
	if (st && st_ino != si.ino) {
		/* The state is of a file this descriptor named before. */
		bpf_map_delete_elem(&pw_heads, &key);
		note_heads(dir, 0);
		kind = pl = budget = tail = kafka = 0;
		pending = 0;
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
			v = match_reply(&key, word, &api_key, &api_version);
			if (v == V_SKIP) {
				if (kind)
					close_stream(&key, kafka);
				return 0;
			}
			if (v == V_DROP) {
				/* Not an awaited response: maybe a request after all. */
				v = verdict(word, wn, kind, kafka, 0, &proto);
				if (v == V_DROP) {
					if (kind)
						close_stream(&key, kafka);
					return 0;
				}
			} else {
				proto = PROTO_KAFKA;
			}
		}
		if (v == V_TRACK) {
			/* The correlation id is the frame's bytes 8 to 11. */
			__u32 corr = 0;

			if (pl == 4 && n0 == 8)
				corr = peek >> 32;
			else if (pl == 0 && c->len0 >= 12)
				bpf_probe_read_user(&corr, 4, (const void *)(c->base0 + 8));
			else
				return 0;
			track(&key, word, corr, si.ino);
			if (kind)
				close_stream(&key, kafka);
			return 0;
		}
		if (v == V_HOLD) {
			hold_back(&key, word, wn, si.ino, kafka);
			return 0;
		}
		if (v == V_START && quiet_end(&si, dir, key.tgid)) {
			if (kind)
				close_stream(&key, kafka);
			/* Tell the sock hooks, which skip this direction from
			 * now on (not a Kafka client's: see struct sk_note). */
			if (proto == PROTO_HTTP)
				s->w.quiet = 1;
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
	if (RELOAD(s->w.hint.sk) && file_of_fd(fd) != RELOAD(s->w.hint_file))
		return 0;

	w = &s->w;
	e = &s->ev;

	limit = capture_bytes;
	if (limit > CAPTURE_MAX)
		limit = CAPTURE_MAX;
	if (limit < CAPTURE_MIN)
		limit = CAPTURE_MIN;

	w->si = si;
	w->pending = pending;
	w->pl = pl;
	w->kind = kind;
	w->budget = budget;
	w->tail = tail;
	w->verdict = v;
	w->known = known;
	w->proto = proto;
	w->frame = proto == PROTO_KAFKA && v == V_START ? kafka_size(word) + 4 : 0;
	w->api_key = api_key;
	w->api_version = api_version;
	w->kafka = kafka;
	w->off = pl;
	w->end = min_u64(pl + c->total, limit);
	w->id = id;
	/* The held-back prefix goes first; gather writes after it. */
	__builtin_memcpy(e->data, &pending, sizeof(pending));
	return emit_chunk();
}

/*
 * handle_chunk hands one chunk to judge_chunk through this CPU's struct
 * work: judge_chunk is a global function, checked once by the verifier
 * instead of once per call site (the mmsg loop, the four entry points of
 * the raw hooks).
 */
static __always_inline void handle_chunk(__u64 fd, const struct chunk *c, __u8 dir,
					 __u8 sys, const int vectored)
{
	struct head_key key = {.tgid = bpf_get_current_pid_tgid() >> 32, .fd = fd, .dir = dir};
	__u64 want = min_u64(c->total, 8), peek = 0;
	__u32 cpu = bpf_get_smp_processor_id(), fresh = 0;
	struct scratch *s = bpf_map_lookup_elem(&pw_scratch, &cpu);

	if (!s)
		return;
	/*
	 * The fast way out, for most chunks: a stream with no state whose
	 * first bytes start nothing. What it found is handed on, so that
	 * judge_chunk does not look and read again. (The sock hooks may know
	 * there is no state without looking.)
	 */
	if ((s->w.no_state || !bpf_map_lookup_elem(&pw_heads, &key)) && c->len0 >= want) {
		if (want && bpf_probe_read_user(&peek, want, (const void *)c->base0)) {
			count_lost(LOST_READ_FAILED);
			return;
		}
		if (http_sniff(peek, want) == SNIFF_NONE && kafka_sniff(peek, want) == KAFKA_NONE &&
		    !kafka_size_prefix(peek, want)) {
			/* Tell the sock hooks, which skip such a direction. */
			s->w.responses = http_response(peek, want);
			return;
		}
		fresh = 1;
	}

	s->w.fresh = fresh;
	s->w.fresh_peek = peek;
	s->w.c = *c;
	s->w.fd = fd;
	s->w.dir = dir;
	s->w.sys = sys;
	s->w.vectored = vectored;
	judge_chunk();
}

/* A chunk given as an iovec array (readv, writev, and each msghdr). */
static __always_inline void handle_iov(__u64 fd, __u64 iov, __u64 iovcnt, __u64 total,
				       __u8 dir, __u8 sys)
{
	struct pw_iovec first;
	struct chunk c = {};

	if (!iovcnt || !total)
		return;
	if (bpf_probe_read_user(&first, sizeof(first), (const void *)iov)) {
		count_lost(LOST_READ_FAILED);
		return;
	}
	c.base0 = first.base;
	c.len0 = first.len;
	c.iov = iov + sizeof(first);
	c.niov = iovcnt - 1;
	c.total = total;
	handle_chunk(fd, &c, dir, sys, 1);
}

/*
 * The entry points, one per shape of the hooked syscalls' data arguments,
 * shared by both hook sets (headers.c). They are global functions on
 * purpose: the verifier checks each once per program that calls it, on its
 * own, instead of once per call site, so the raw sys_exit program that calls
 * all four stays as cheap to load as four programs.
 *
 * Arguments: the syscall's fd, data pointer, count argument and return
 * value, and meta = enum syscall_id | enum direction << 8 (a function takes
 * five arguments at most).
 */
#define META(sys, dir) ((__u32)(sys) | (__u32)(dir) << 8)

/*
 * USED keeps an argument an entry point does not need: the verifier checks
 * that a caller passes every argument of a global function, and clang
 * would not set up one the callee ignores.
 */
#define USED(x) asm volatile("" : : "r"(x))

/* write, read, sendto, recvfrom: a buffer of ret bytes. */
__noinline int capture_buf(__u64 fd, __u64 buf, __u64 cnt, __s64 ret, __u32 meta)
{
	struct chunk c = {.base0 = buf, .len0 = ret, .total = ret};

	USED(cnt);
	if (ret <= 0)
		return 0;
	handle_chunk(fd, &c, meta >> 8, meta & 0xff, 0);
	return 0;
}

/* writev, readv: an iovec array. */
__noinline int capture_iov(__u64 fd, __u64 iov, __u64 cnt, __s64 ret, __u32 meta)
{
	if (ret <= 0)
		return 0;
	handle_iov(fd, iov, cnt, ret, meta >> 8, meta & 0xff);
	return 0;
}

/* sendmsg, recvmsg: a msghdr. */
__noinline int capture_msg(__u64 fd, __u64 msg, __u64 cnt, __s64 ret, __u32 meta)
{
	struct pw_msghdr m;

	USED(cnt);
	if (ret <= 0)
		return 0;
	if (bpf_probe_read_user(&m, sizeof(m), (const void *)msg)) {
		count_lost(LOST_READ_FAILED);
		return 0;
	}
	handle_iov(fd, m.iov, m.iovlen, ret, meta >> 8, meta & 0xff);
	return 0;
}

/* sendmmsg, recvmmsg: an mmsghdr array; ret is the number of messages,
 * and each says what it moved. */
__noinline int capture_mmsg(__u64 fd, __u64 vec, __u64 cnt, __s64 ret, __u32 meta)
{
	/* A real loop, not MMSG_MAX copies of handle_chunk's stack. */
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < MMSG_MAX; i++) {
		struct pw_mmsghdr mm;

		if (i >= ret || i >= cnt)
			break;
		if (bpf_probe_read_user(&mm, sizeof(mm), (const void *)(vec + i * sizeof(mm)))) {
			count_lost(LOST_READ_FAILED);
			break;
		}
		handle_iov(fd, mm.hdr.iov, mm.hdr.iovlen, mm.msg_len, meta >> 8, meta & 0xff);
	}
	return 0;
}

/*
 * sendmmsg, recvmmsg as the sock hooks see them: message i of the mmsghdr
 * array vec, which moved ret bytes.
 */
__noinline int capture_mmsg_one(__u64 fd, __u64 vec, __u64 i, __s64 ret, __u32 meta)
{
	struct pw_mmsghdr mm;

	if (ret <= 0)
		return 0;
	if (bpf_probe_read_user(&mm, sizeof(mm), (const void *)(vec + i * sizeof(mm)))) {
		count_lost(LOST_READ_FAILED);
		return 0;
	}
	handle_iov(fd, mm.hdr.iov, mm.hdr.iovlen, ret, meta >> 8, meta & 0xff);
	return 0;
}

/* The shapes of the hooked syscalls' data arguments. */
enum shape {
	SHAPE_BUF = 0,  /* write, read, sendto, recvfrom: a buffer */
	SHAPE_IOV = 1,  /* writev, readv: an iovec array */
	SHAPE_MSG = 2,  /* sendmsg, recvmsg: a msghdr */
	SHAPE_MMSG = 3, /* sendmmsg, recvmmsg: an mmsghdr array */
};

/* capture hands a finished syscall to the entry point of its shape. */
static __always_inline int capture(__u64 fd, __u64 buf, __u64 cnt, __s64 ret,
				   __u8 sys, __u8 dir, const int shape)
{
	__u32 meta = META(sys, dir);

	if (shape == SHAPE_BUF)
		return capture_buf(fd, buf, cnt, ret, meta);
	if (shape == SHAPE_IOV)
		return capture_iov(fd, buf, cnt, ret, meta);
	if (shape == SHAPE_MSG)
		return capture_msg(fd, buf, cnt, ret, meta);
	return capture_mmsg(fd, buf, cnt, ret, meta);
}

/* Whether the current process is propwatch itself. */
static __always_inline int is_self(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/*
 * The syscall tracepoint hooks: on_enter stashes the arguments, on_exit
 * picks them up. Stashing costs one map update and no kernel reads, so it
 * is done for every descriptor; the exit decides.
 */
static __always_inline int on_enter(__u64 fd, __u64 buf, __u64 cnt)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args a = {.fd = fd, .buf = buf, .cnt = cnt};

	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	if (bpf_map_update_elem(&pw_args, &id, &a, BPF_ANY))
		count_lost(LOST_ARGS_FULL);
	return 0;
}

/*
 * on_enter_recv is on_enter for the receive calls that take flags: a
 * MSG_PEEK read is read again later (it would be captured twice), and a
 * MSG_TRUNC read on TCP discards the bytes without filling the buffer.
 */
static __always_inline int on_enter_recv(__u64 fd, __u64 buf, __u64 cnt, __u64 flags)
{
	if (flags & (MSG_PEEK | MSG_TRUNC))
		return 0;
	return on_enter(fd, buf, cnt);
}

static __always_inline int on_exit(long ret, __u8 sys, __u8 dir, const int shape)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *ap = bpf_map_lookup_elem(&pw_args, &id);
	struct call_args a;

	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&pw_args, &id);
	return capture(a.fd, a.buf, a.cnt, ret, sys, dir, shape);
}

#endif /* PROPWATCH_CAPTURE_H */
