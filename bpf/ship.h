/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ship.h: the last phase of the pipeline (pipeline.h): the event's fields,
 * the ring buffer, and when Go is woken to read it.
 */
#ifndef PROPWATCH_SHIP_H
#define PROPWATCH_SHIP_H

#include "kernel.h"
#include "counters.h"
#include "event.h"
#include "loopback.h"
#include "maps.h"
#include "sock.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* Events one syscall's contiguous bytes of a Kafka frame may become:
 * CAPTURE_MAX each, so 1 MiB at most per syscall. */
#define SPLIT_MAX 64

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
 * ship_event is the last phase: it fills in and sends the event
 * emit_chunk decided on, then the split events after it.
 */
__noinline int ship_event(void)
{
	struct scratch *s = scratch();
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
	e->tls = RELOAD(w->tls);
	e->kafka_api_key = RELOAD(w->api_key);
	e->kafka_api_version = RELOAD(w->api_version);
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* Where the connection goes, and on loopback who sent. */
	conn_fill(&w->conn, &w->si);
	e->family = RELOAD(w->si.family);
	e->netns = w->conn.netns;
	e->lport = w->conn.lport;
	e->rport = w->conn.rport;
	__builtin_memcpy(e->laddr, w->conn.laddr, 16);
	__builtin_memcpy(e->raddr, w->conn.raddr, 16);
	name_peer(w, e);

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

#endif /* PROPWATCH_SHIP_H */
