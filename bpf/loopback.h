/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * loopback.h: requests between two processes of this host. On a loopback
 * connection both ends are local and both would emit the same request, so
 * only the receiving end does; the sending end records which process it is
 * (pw_owners), so that the receiver's event can name it. Half the events
 * and half the copies of loopback traffic, and Go has no pair of ends to
 * match.
 */
#ifndef PROPWATCH_LOOPBACK_H
#define PROPWATCH_LOOPBACK_H

#include "kernel.h"
#include "counters.h"
#include "event.h"
#include "maps.h"
#include "sock.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* 1: both ends of a loopback connection emit (tests); 0: only the
 * receiving end does. Set by Go before loading. */
volatile const __u32 loopback_both = 0;

/*
 * quiet_end reports whether a request start at this end of the connection
 * (w->si) is left to the other end: true on the sending (egress) end of a
 * loopback connection, which then records tgid as its sender. TLS
 * plaintext is never left to the other end, whose library may not be
 * readable: both ends emit (tls.h) and Go matches them; the sender is
 * recorded all the same, for the other end's events, and for Go to name
 * this end from the other's (a broker's Kafka response is seen as it is
 * written, before the client's end has shown itself).
 */
static __always_inline int quiet_end(struct work *w, __u8 dir, __u32 tgid)
{
	struct owner *o;
	int quiet = !RELOAD(w->tls);

	if (loopback_both || dir != DIR_EGRESS)
		return 0;
	/* The sock hooks' note: this loopback end is recorded already. */
	if (tgid && w->owner_tgid == tgid)
		return quiet;
	conn_fill(&w->conn, &w->si);
	if (!is_loopback(w->conn.raddr))
		return 0;
	o = bpf_map_lookup_elem(&pw_owners, &w->conn);
	if (!o || o->tgid != tgid) {
		w->own.tgid = tgid;
		bpf_get_current_comm(w->own.comm, sizeof(w->own.comm));
		update_or_count(&pw_owners, &w->conn, &w->own, ERR_OWNER);
	}
	w->owner_set = tgid;
	return quiet;
}

/*
 * name_peer fills e's peer fields: on the receiving end of a loopback
 * connection (w->conn, filled already) the sending process, when the sock
 * hooks' note remembers it or its end is in pw_owners; else nothing.
 */
static __always_inline void name_peer(struct work *w, struct event *e)
{
	struct owner *o;

	e->peer_tgid = 0;
	__builtin_memset(e->peer_comm, 0, sizeof(e->peer_comm));
	if (e->direction != DIR_INGRESS || !is_loopback(w->conn.raddr))
		return;
	if (w->peer_tgid) {
		e->peer_tgid = w->peer_tgid;
		__builtin_memcpy(e->peer_comm, w->peer_comm, 16);
		return;
	}
	/* The other end's key: the same addresses, swapped. */
	w->peer.netns = w->conn.netns;
	w->peer.lport = w->conn.rport;
	w->peer.rport = w->conn.lport;
	__builtin_memcpy(w->peer.laddr, w->conn.raddr, 16);
	__builtin_memcpy(w->peer.raddr, w->conn.laddr, 16);
	o = bpf_map_lookup_elem(&pw_owners, &w->peer);
	if (!o)
		return;
	w->peer_set = o->tgid;
	__builtin_memcpy(w->peer_comm, o->comm, 16);
	e->peer_tgid = o->tgid;
	__builtin_memcpy(e->peer_comm, o->comm, 16);
}

#endif /* PROPWATCH_LOOPBACK_H */
