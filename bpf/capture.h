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
/* Smallest capture_bytes: a prefix plus a method must fit. */
#define CAPTURE_MIN 64

/* Set by Go before loading (volatile so clang keeps the loads). */

/* Process id of propwatch itself: its own traffic is never captured. */
volatile const __u32 self_tgid = 0;
/* Bytes of data copied per event, CAPTURE_MIN..CAPTURE_MAX. */
volatile const __u32 capture_bytes = CAPTURE_MAX;
/* Bytes a request head may span, start chunk plus continuations. */
volatile const __u32 head_budget = HEAD_BUDGET_DEFAULT;
/* Wake Go when this many bytes wait in the ring buffer; 0 wakes it for
 * every event that finds it idle (the kernel's default). */
volatile const __u32 wakeup_bytes = 0;
/* ... or when this long has passed since the last wakeup. */
volatile const __u64 wakeup_ns = 0;

/* When Go was last woken. Shared by all CPUs unlocked: a lost update only
 * costs one wakeup more. */
__u64 last_wakeup_ns = 0;

/*
 * wakeup_flags decides whether emitting size bytes wakes the reader.
 * Waking a reader blocked in epoll costs the emitting syscall a few
 * microseconds (an irq_work and a task wakeup), more than the rest of the
 * capture; so wakeups are batched: one when wakeup_bytes have piled up, or
 * when wakeup_ns have passed since the last. A request on a quiet host still
 * wakes Go at once; the tail of a burst waits for Go's poll timeout.
 */
static __always_inline __u64 wakeup_flags(__u64 size)
{
	__u64 now;

	if (!wakeup_bytes)
		return 0;
	now = bpf_ktime_get_ns();
	if (bpf_ringbuf_query(&pw_events, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes ||
	    now - last_wakeup_ns >= wakeup_ns) {
		last_wakeup_ns = now;
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
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
static __always_inline long gather(struct scratch *s, const int vectored)
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

/* Hold back a method prefix (a read of "G") until the next chunk tells. */
static __always_inline void hold_back(struct head_key *key, __u64 bytes, __u32 n)
{
	struct head_state st = {
		.pending = bytes & low_bytes(n),
		.kind = HEAD_PENDING,
		.pending_len = n,
	};

	bpf_map_update_elem(&pw_heads, key, &st, BPF_ANY);
}

/* What to do with a chunk, from its sniff result and the stream's state. */
enum verdict {
	V_DROP = 0,  /* neither a start nor part of an open head: not copied */
	V_HOLD = 1,  /* a possible method prefix: held back in pw_heads */
	V_START = 2, /* begins a request head */
	V_CONT = 3,  /* continues the open head */
};

static __always_inline int verdict(int sniff, __u32 kind)
{
	if (sniff == SNIFF_START)
		return V_START;
	if (kind == HEAD_OPEN)
		return V_CONT;
	if (sniff == SNIFF_PREFIX)
		return V_HOLD;
	return V_DROP;
}

/*
 * decide acts on the verdicts that copy nothing: V_HOLD stores the prefix,
 * V_DROP forgets the stream's state. It returns 1 when the chunk is to be
 * emitted.
 */
static __always_inline int decide(struct head_key *key, int v, __u32 kind,
				  __u64 word, __u32 n)
{
	if (v == V_HOLD) {
		hold_back(key, word, n);
		return 0;
	}
	if (v == V_DROP) {
		if (kind)
			bpf_map_delete_elem(&pw_heads, key);
		return 0;
	}
	return 1;
}

/*
 * handle_chunk is the capture decision for one chunk of one direction of a
 * connection:
 *
 *   - a chunk that starts with a method and a space is a start (start=1);
 *     it replaces whatever the stream had open;
 *   - otherwise, while a head is open on the stream, it is a continuation
 *     (start=0), shipped up to the head's remaining budget;
 *   - a chunk shorter than a method ("G", "PO") that could begin one is held
 *     back in pw_heads, not emitted; when the next chunk completes the
 *     method, one start event carries both, and its len counts both (Go's
 *     net/http server reads the first byte of each keep-alive request alone);
 *   - anything else is not copied out at all.
 *
 * The head stays open until a chunk ends in "\r\n\r\n", the budget is spent,
 * a new start arrives, or Go calls HeadDone (a head followed by a body in the
 * same chunk does not end in "\r\n\r\n": Go sees the end and says so).
 *
 * The first up to 8 bytes are peeked first, so that most chunks (responses,
 * bodies, other protocols) cost one 8-byte read and no copy. Only when the
 * first segment of a vectored call is shorter than that does the decision
 * wait for the copy.
 *
 * It runs in three phases: decide from the peek, copy (gather), finish.
 * What the finish needs from the first phase goes through struct work in
 * map memory (see maps.h), which keeps the verifier's work linear.
 */
static __always_inline void handle_chunk(const struct call_args *a,
					 const struct chunk *c, __u8 dir,
					 const int vectored)
{
	struct head_key key = {.ino = a->ino, .dir = dir};
	__u32 kind = 0, budget = 0, tail = 0, pl = 0, cpu, last = 0;
	__u64 pending = 0, peek = 0, want, n0, limit;
	struct head_state *st;
	struct scratch *s;
	struct work *w;
	struct event *e;
	int v = V_DROP, known;

	/* Phase 1: the stream's state and the first bytes. */
	st = bpf_map_lookup_elem(&pw_heads, &key);
	if (st) {
		kind = st->kind;
		if (kind == HEAD_PENDING) {
			pl = st->pending_len & 7;
			pending = st->pending;
		} else if (kind == HEAD_OPEN) {
			budget = st->budget;
			tail = st->tail;
		}
	}

	want = min_u64(c->total, 8);
	n0 = min_u64(c->len0, want);
	if (n0 > 8)
		n0 = 8;
	if (n0 && bpf_probe_read_user(&peek, n0, (const void *)c->base0)) {
		count_lost(LOST_READ_FAILED);
		return;
	}
	known = n0 == want;
	if (known) {
		__u64 word = pending | (peek << (pl * 8));
		__u32 wn = pl + n0 > 8 ? 8 : pl + n0;

		v = verdict(http_sniff(word, wn), kind);
		if (!decide(&key, v, kind, word, wn))
			return;
	}

	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	if (!s)
		return;
	w = &s->w;
	e = &s->ev;

	limit = capture_bytes;
	if (limit > CAPTURE_MAX)
		limit = CAPTURE_MAX;
	if (limit < CAPTURE_MIN)
		limit = CAPTURE_MIN;

	w->c = *c;
	w->pending = pending;
	w->pl = pl;
	w->kind = kind;
	w->budget = budget;
	w->tail = tail;
	w->verdict = v;
	w->known = known;
	w->off = pl;
	w->end = min_u64(pl + c->total, limit);
	/* The held-back prefix goes first; gather writes after it. */
	__builtin_memcpy(e->data, &pending, sizeof(pending));

	/* Phase 2: copy. */
	long got = gather(s, vectored);

	if (got < 0) {
		count_lost(LOST_READ_FAILED);
		return;
	}

	/* Phase 3: finish, from what struct work says. */
	__u64 captured = got, total = RELOAD(w->c.total), len, ship, id;
	__u32 hb = head_budget;

	kind = RELOAD(w->kind);
	pl = RELOAD(w->pl) & 7;
	budget = RELOAD(w->budget);
	tail = RELOAD(w->tail);
	v = RELOAD(w->verdict);
	if (!RELOAD(w->known)) {
		/* The first segment was shorter than 8 bytes: decide on the copy. */
		__u64 word;
		__u32 wn = captured > 8 ? 8 : captured;

		__builtin_memcpy(&word, e->data, sizeof(word));
		v = verdict(http_sniff(word, wn), kind);
		if (!decide(&key, v, kind, word, wn))
			return;
	}

	/* The chunk's last four bytes, to see whether the head ended. */
	len = pl + total;
	if (captured == len) {
		if (captured >= 4) {
			__builtin_memcpy(&last, e->data + ((captured - 4) & (CAPTURE_MAX - 1)), 4);
			tail = last;
		} else {
			__builtin_memcpy(&last, e->data, 4);
			tail = tail_push(tail, last, captured);
		}
	} else if (!vectored && total >= 4) {
		/* Not all of it was copied: read the end from user memory. */
		if (bpf_probe_read_user(&last, 4, (const void *)(RELOAD(w->c.base0) + total - 4)))
			last = 0;
		tail = last;
	} else {
		/* The end lies past what was walked: unknown, keep the head open. */
		tail = 0;
	}

	if (v == V_START) {
		ship = captured;
		if (len >= hb || tail == HEAD_END) {
			if (kind)
				bpf_map_delete_elem(&pw_heads, &key);
		} else {
			struct head_state ns = {
				.budget = hb - len,
				.tail = tail,
				.kind = HEAD_OPEN,
			};

			bpf_map_update_elem(&pw_heads, &key, &ns, BPF_ANY);
		}
	} else {
		ship = min_u64(captured, budget);
		if (total >= budget || tail == HEAD_END) {
			bpf_map_delete_elem(&pw_heads, &key);
		} else {
			st = bpf_map_lookup_elem(&pw_heads, &key);
			if (st) {
				st->budget = budget - total;
				st->tail = tail;
			}
		}
	}

	id = bpf_get_current_pid_tgid();
	e->ktime_ns = bpf_ktime_get_ns();
	e->sock_ino = a->ino;
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->pid = (__u32)id;
	e->tgid = id >> 32;
	e->len = len;
	e->direction = dir;
	e->start = v == V_START;
	e->syscall = a->sys;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	sock_fill(e, a);

	ship = bound_len(ship);
	e->captured = ship;
	if (bpf_ringbuf_output(&pw_events, e, EVENT_HEADER_SIZE + ship,
			       wakeup_flags(EVENT_HEADER_SIZE + ship)))
		count_lost(LOST_RINGBUF_FULL);
}

/* A chunk given as an iovec array (readv, writev, and each msghdr). */
static __always_inline void handle_iov(const struct call_args *a, __u64 iov,
				       __u64 iovcnt, __u64 total, __u8 dir)
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
	handle_chunk(a, &c, dir, 1);
}

/* The shapes of the hooked syscalls' data arguments. */
enum shape {
	SHAPE_BUF = 0,  /* write, read, sendto, recvfrom: a buffer */
	SHAPE_IOV = 1,  /* writev, readv: an iovec array */
	SHAPE_MSG = 2,  /* sendmsg, recvmsg: a msghdr */
	SHAPE_MMSG = 3, /* sendmmsg, recvmmsg: an mmsghdr array */
};

/*
 * on_enter stashes the arguments of a syscall on a TCP socket for on_exit.
 * Anything else, and propwatch's own syscalls, stop here.
 */
static __always_inline int on_enter(__u8 sys, __u64 fd, __u64 buf, __u64 cnt)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args a = {};

	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	if (!tcp_sock_of_fd(fd, &a))
		return 0;
	a.buf = buf;
	a.cnt = cnt;
	a.sys = sys;
	if (bpf_map_update_elem(&pw_args, &id, &a, BPF_ANY))
		count_lost(LOST_ARGS_FULL);
	return 0;
}

/*
 * on_enter_recv is on_enter for the receive calls that take flags: a
 * MSG_PEEK read is read again later (it would be captured twice), and a
 * MSG_TRUNC read on TCP discards the bytes without filling the buffer.
 */
static __always_inline int on_enter_recv(__u8 sys, __u64 fd, __u64 buf,
					 __u64 cnt, __u64 flags)
{
	if (flags & (MSG_PEEK | MSG_TRUNC))
		return 0;
	return on_enter(sys, fd, buf, cnt);
}

/*
 * on_exit picks up what on_enter stashed and hands what the syscall moved
 * (ret bytes, or for mmsg ret messages) to handle_chunk. shape is a
 * compile-time constant per program.
 */
static __always_inline int on_exit(long ret, __u8 dir, const int shape)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *ap = bpf_map_lookup_elem(&pw_args, &id);
	struct call_args a;

	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&pw_args, &id);
	if (ret <= 0)
		return 0;

	if (shape == SHAPE_BUF) {
		struct chunk c = {
			.base0 = a.buf,
			.len0 = ret,
			.total = ret,
		};

		handle_chunk(&a, &c, dir, 0);
	} else if (shape == SHAPE_IOV) {
		handle_iov(&a, a.buf, a.cnt, ret, dir);
	} else if (shape == SHAPE_MSG) {
		struct pw_msghdr m;

		if (bpf_probe_read_user(&m, sizeof(m), (const void *)a.buf)) {
			count_lost(LOST_READ_FAILED);
			return 0;
		}
		handle_iov(&a, m.iov, m.iovlen, ret, dir);
	} else {
		/* ret is the number of messages; each says what it moved. */
		for (__u32 i = 0; i < MMSG_MAX; i++) {
			struct pw_mmsghdr mm;

			if (i >= ret || i >= a.cnt)
				break;
			if (bpf_probe_read_user(&mm, sizeof(mm),
						(const void *)(a.buf + i * sizeof(mm)))) {
				count_lost(LOST_READ_FAILED);
				break;
			}
			handle_iov(&a, mm.hdr.iov, mm.hdr.iovlen, mm.msg_len, dir);
		}
	}
	return 0;
}

#endif /* PROPWATCH_CAPTURE_H */
