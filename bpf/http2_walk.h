/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http2_walk.h: the phase that follows an HTTP/2 client's frames through
 * the chunks of its stream (one direction of one connection) and decides
 * which bytes of a chunk are copied out: from the first HEADERS,
 * CONTINUATION or SETTINGS frame it holds to the end of the last one. DATA
 * and every other frame before or after them never leave the kernel (one
 * that sits between two copied frames of the same chunk goes along, and Go
 * skips it).
 *
 * The stream's place is kept in pw_heads (kind H2_OPEN): budget is how
 * many bytes of the current frame are still to come, tail holds the H2_*
 * bits, and a chunk that ends inside a frame header's first four bytes
 * leaves those (1..3) held back in pending, shipped in front of the next
 * chunk when the frame is copied.
 *
 * An event's start says its data begins at a frame header (or the
 * preface); otherwise it continues the copied frame the last event of the
 * stream ended in. Past H2_WALK_MAX frames in one chunk, or where a vectored
 * chunk's frame header lies beyond its first segment, the place is lost
 * (H2_LOST): the chunk is copied to its end (or an empty event is sent),
 * with a len one byte past it, so that Go knows frames may go unseen; the
 * stream waits for a chunk that starts like a HEADERS frame to take it up
 * again, and Go decodes what follows against a table it must relearn.
 */
#ifndef PROPWATCH_HTTP2_WALK_H
#define PROPWATCH_HTTP2_WALK_H

#include "kernel.h"
#include "counters.h"
#include "http2.h"
#include "maps.h"
#include "stream.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* Frame headers read per chunk: a 4 KiB read of small gRPC requests holds
 * about 100 frames, half of them copied. */
#define H2_WALK_MAX 128
/* head_state.tail bits on an HTTP/2 stream. */
#define H2_COPYING 1 /* the current frame is copied */
#define H2_LOST 2    /* the place in the frames is lost */
#define H2_SERVER 4  /* a server's frames: never copied, never Kafka */
/* No frame of the chunk is copied. */
#define H2_NONE (~0ULL)

/*
 * http2_walk reads the frame headers of the chunk in struct work (after the
 * held-back pl bytes judge_chunk put in front of it), stores the stream's
 * new place, and narrows the copy to the copied frames. It returns 1 when
 * there is something to copy.
 */
/*
 * h2_mark_server marks the other direction of the chunk's stream, on which
 * the preface was just seen, as a server's HTTP/2 frames: its SETTINGS,
 * PING and WINDOW_UPDATE frames read like Kafka Produce requests, and its
 * HEADERS frames like a client's whose preface was missed.
 */
static __always_inline void h2_mark_server(struct work *w)
{
	w->rkey = w->key;
	w->rkey.dir = !w->key.dir;
	set_state(w, RELOAD(w->si.ino), 0, 0, H2_SERVER, H2_OPEN, 0, 0);
	update_or_count(&pw_heads, &w->rkey, &w->hs, ERR_H2_STATE);
	note_heads(w, w->rkey.dir, 1);
}

/*
 * h2_step reads the frame header at w->h2_x, of a chunk of L bytes (pl of
 * them held back) whose first segment has len0. A global function, so
 * that the verifier checks it once, not once per round of the walk.
 */
__noinline int h2_step(__u64 L, __u64 pl, __u64 len0)
{
	struct scratch *s = scratch();
	__u64 x, held, fend;
	__u32 hdr = 0, tmp = 0;
	struct work *w;

	if (!s)
		return 0;
	w = &s->w;
	pl &= 3;
	x = RELOAD(w->h2_x);

	if (L - x < H2_LEN_TYPE) {
		/* The chunk ends inside a frame header's first bytes. */
		held = L - x;
		w->h2_held = held;
		w->h2_x = L;
		if (x == 0 && pl) {
			if (bpf_probe_read_user(&tmp, (L - pl) & 3, (const void *)RELOAD(w->c.base0)))
				w->h2_lost = 1;
			w->h2_pend = RELOAD(w->pending) | (__u64)tmp << (pl * 8);
		} else if (x - pl + held <= len0) {
			if (bpf_probe_read_user(&tmp, held & 3,
						(const void *)(RELOAD(w->c.base0) + x - pl)))
				w->h2_lost = 1;
			w->h2_pend = tmp;
		} else {
			w->h2_lost = 1;
		}
		return 0;
	}
	if (x == 0 && pl) {
		/* The header began in the bytes held back. */
		if (bpf_probe_read_user(&tmp, (H2_LEN_TYPE - pl) & 3, (const void *)RELOAD(w->c.base0)))
			goto lost;
		hdr = (__u32)RELOAD(w->pending) | tmp << (pl * 8);
	} else if (x - pl + H2_LEN_TYPE > len0 ||
		   bpf_probe_read_user(&hdr, H2_LEN_TYPE, (const void *)(RELOAD(w->c.base0) + x - pl))) {
		goto lost;
	}
	fend = x + H2_FRAME_HEADER + h2_frame_len(hdr);
	w->h2_copying = h2_copied(h2_frame_type(hdr));
	if (RELOAD(w->h2_copying)) {
		if (RELOAD(w->h2_start) == H2_NONE)
			w->h2_start = x;
		w->h2_end = min_u64(fend, L);
	}
	w->h2_x = fend;
	return 0;
lost:
	w->h2_lost = 1;
	w->h2_x = L;
	return 0;
}

/*
 * http2_walk reads the frame headers of the chunk in struct work (after the
 * held-back pl bytes judge_chunk put in front of it), stores the stream's
 * new place, and narrows the copy to the copied frames. It returns 1 when
 * there is something to copy.
 */
__noinline int http2_walk(void)
{
	struct scratch *s = scratch();
	__u64 x, L, pl, start, end, len0, word;
	__u32 bits = 0, cont = 0, lost = 0;
	struct work *w;

	if (!s)
		return 0;
	w = &s->w;
	pl = RELOAD(w->pl) & 3;
	len0 = RELOAD(w->c.len0);
	L = pl + RELOAD(w->c.total);
	w->h2_x = 0;
	w->h2_start = H2_NONE;
	w->h2_end = 0;
	w->h2_pend = 0;
	w->h2_held = 0;
	w->h2_lost = 0;
	w->h2_copying = 0;

	/* The first bytes, held-back ones first, as judge_chunk saw them. */
	word = RELOAD(w->pending) | RELOAD(w->fresh_peek) << (pl * 8);
	if (RELOAD(w->verdict) == V_START) {
		/* The preface, or a HEADERS frame on a stream with no state. */
		if (h2_preface(word, 8)) {
			w->h2_start = 0;
			w->h2_end = min_u64(H2_PREFACE_LEN, L);
			w->h2_x = H2_PREFACE_LEN;
		}
	} else {
		bits = RELOAD(w->tail);
		if (bits & H2_SERVER)
			return 0;
		if (bits & H2_LOST) {
			/* Taken up again only at a chunk that starts a HEADERS frame. */
			if (pl || !RELOAD(w->known) ||
			    !h2_headers_sniff(word, RELOAD(w->c.total) >= 8 ? 8 : 0))
				return 0;
		} else {
			x = RELOAD(w->budget);
			w->h2_x = x;
			if (x && (bits & H2_COPYING)) {
				w->h2_start = 0;
				w->h2_end = min_u64(x, L);
				w->h2_copying = 1;
				cont = 1;
			}
		}
	}

#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < H2_WALK_MAX; i++) {
		if (RELOAD(w->h2_x) >= L)
			break;
		h2_step(L, pl, len0);
	}
	x = RELOAD(w->h2_x);
	start = RELOAD(w->h2_start);
	end = RELOAD(w->h2_end);
	if (x < L || RELOAD(w->h2_lost)) {
		bits = H2_LOST;
		w->h2_held = 0;
		w->h2_pend = 0;
		x = 0;
		/* Go must hear of it: frames it never sees may follow. The event
		 * runs to the chunk's end (none at all when nothing was copied)
		 * and its len says one byte more than it could hold. */
		if (start == H2_NONE) {
			start = 0;
			end = 0;
			w->pl = 0;
			w->off = 0;
			pl = 0;
			cont = 1;
		} else {
			end = L;
		}
		lost = 1;
	} else {
		bits = x > L && RELOAD(w->h2_copying) ? H2_COPYING : 0;
		x = x > L ? x - L : 0;
	}
	set_state(w, RELOAD(w->si.ino), RELOAD(w->h2_pend), x, bits, H2_OPEN, RELOAD(w->h2_held), 0);
	update_or_count(&pw_heads, &w->key, &w->hs, ERR_H2_STATE);
	note_heads(w, w->key.dir, 1);
	if (start == H2_NONE)
		return 0;

	/* Copy [start, end) of the held bytes and the chunk. */
	if ((start > 0 || pl == 0) && end) {
		__u64 skip = start - pl;

		w->c.base0 = RELOAD(w->c.base0) + skip;
		w->c.len0 = len0 > skip ? len0 - skip : 0;
		w->c.total = RELOAD(w->c.total) - skip;
		w->off = 0;
		w->pl = 0;
		end -= start;
	}
	w->end = min_u64(RELOAD(w->end), end);
	w->h2_len = end + lost;
	w->ev_start = !cont;
	return 1;
}

#endif /* PROPWATCH_HTTP2_WALK_H */
