/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * work.h: the per-CPU working state of the capture pipeline (pipeline.h):
 * the chunk being judged, what each phase hands the next, and the event
 * under construction. It lives in map memory (pw_scratch, maps.h), not on
 * the 512-byte BPF stack, for two reasons: the verifier does not track what
 * is stored there, so every path into a phase reaches it in the same
 * state; and the frames of the pipeline's subprograms stay small, because
 * the verifier adds up the frames of every chain of calls.
 */
#ifndef PROPWATCH_WORK_H
#define PROPWATCH_WORK_H

#include "kernel.h"
#include "event.h"
#include "state.h"
#include <bpf/bpf_helpers.h>

/* What one syscall (or one message of an mmsg call) moved. */
struct chunk {
	__u64 base0; /* user address of the first segment */
	__u64 len0;  /* its length as the caller gave it */
	__u64 iov;   /* user address of the second iovec (vectored calls) */
	__u64 niov;  /* iovecs from the second on */
	__u64 total; /* bytes the syscall moved */
};

/*
 * The working state of one chunk through the pipeline (pipeline.h): what
 * handle_chunk found, what judge_chunk decided, what emit_chunk copied and
 * what ship_event sends, each phase a global function that reads what the
 * one before left here. The keys and values the phases pass to map helpers
 * are here too, not on the stack: see the top of this file.
 */
struct work {
	struct chunk c;   /* the chunk being copied */
	struct sock_info si; /* its socket */
	__u64 pending;    /* held-back prefix bytes */
	__u64 off;        /* bytes of ev.data filled so far */
	__u64 end;        /* offset the copy stops at */
	__u32 pl;         /* length of the held-back prefix */
	__u32 kind;       /* head_state.kind before this chunk, or 0 */
	__u32 budget;     /* head_state.budget before this chunk */
	__u32 tail;       /* head_state.tail before this chunk */
	__u32 verdict;    /* enum verdict, when known */
	__u32 known;      /* 1: the peek decided the verdict */
	__u32 proto;      /* enum proto of the message */
	__u32 frame;      /* Kafka start: the frame's length, size field included */
	__s32 api_key;    /* Kafka response start: its request's api key, else -1 */
	__s32 api_version;
	__u32 kafka;      /* head_state.kafka before this chunk */
	__u32 _pad;
	__u64 id;         /* bpf_get_current_pid_tgid() */
	__u64 fd;         /* the syscall's file descriptor */
	__u32 dir;        /* enum direction */
	__u32 sys;        /* enum syscall_id */
	__u32 vectored;   /* 1: the chunk is an iovec array */
	__u32 fresh;      /* 1: handle_chunk found no stream state and peeked */
	__u64 fresh_peek; /* ... these first bytes (min(total, 8) of them) */
	__u64 ship;       /* ship_event: bytes of ev.data to send */
	__u64 ev_len;     /* ship_event: ev.len */
	__u32 ev_start;   /* ship_event: ev.start */
	__u32 h2_len;     /* http2_walk: the bytes the event stands for (ev.len) */
	/* http2_walk's place, here so that the verifier sees every round of
	 * its loop start alike: */
	__u64 h2_x;       /* offset of the next frame header (held bytes first) */
	__u64 h2_start;   /* offset of the first copied frame, or H2_NONE */
	__u64 h2_end;     /* end of the last copied frame, within the chunk */
	__u64 h2_pend;    /* bytes of a frame header held back at the end */
	__u32 h2_held;    /* ... how many (1..3) */
	__u32 h2_lost;    /* the place was lost */
	__u32 h2_copying; /* the last frame read is copied */
	__u32 _pad4;
	__u64 split_src;  /* split: user address of the next bytes to ship */
	__u64 split_n;    /* split: bytes left to ship */
	__u64 split_rest; /* split: bytes of the chunk past those, not shipped */
	/* From the sock hooks (zero under the others): the call's socket,
	 * its struct file *, and what their note on it (struct sk_note) says. */
	struct sock_info hint;
	__u64 hint_file;
	__u32 no_state;   /* pw_heads holds nothing for this stream: no lookup */
	__u32 owner_tgid; /* this end is in pw_owners as this process */
	__u32 peer_tgid;  /* the other end's sender, found before, or 0 */
	__u8 peer_comm[16];
	/* ... and back to them, for the note: */
	__u32 heads_set;  /* bit per direction whose stream now has state */
	__u32 heads_gone; /* bit per direction whose state was deleted */
	__u32 owner_set;  /* quiet_end recorded this process in pw_owners */
	__u32 peer_set;   /* sock_fill found the other end's sender (peer_comm) */
	__u32 responses;  /* the chunk began an HTTP/1.x response, on no stream */
	__u32 quiet;      /* quiet_end left an HTTP request start to the receiver */
	__u32 corr;       /* track: the request's correlation id, as on the wire */
	/* Keys and values for the map helpers, and user memory read whole. */
	struct head_state hs; /* a stream's new state (hold_back, track, emit_chunk) */
	struct head_key key;  /* the chunk's stream */
	struct head_key rkey; /* track: the stream its response comes back on */
	struct kreq_key kk;   /* track, match_reply: an awaited response */
	struct kreq kr;       /* track: what the request was */
	struct owner own;     /* quiet_end: this process, as pw_owners names it */
	struct conn_key conn; /* this end of the connection */
	struct conn_key peer; /* loopback: the other end, whose sender is looked up */
	struct pw_iovec iv;   /* the iovec being read (handle_iov, gather) */
	struct pw_mmsghdr mm; /* the msghdr or mmsghdr being read */
	/* TLS (tls.h): */
	struct ssl_key tie;   /* tls_window: the SSL* tied to this chunk's socket */
	__u64 tie_fd;         /* ... and the descriptor it is tied to */
	__u32 tls;            /* 1: the chunk is plaintext from a TLS library */
	__u32 _pad5;
};

/*
 * Where an event is built. data is followed by CAPTURE_MAX bytes of slack:
 * when the program gathers iovecs the verifier knows the write offset and
 * the length only separately (each up to CAPTURE_MAX), not that their sum
 * stays within data, so the value must hold both maxima.
 *
 * That makes the value larger than the 32 KiB a BPF_MAP_TYPE_PERCPU_ARRAY
 * value may have, so this is a plain array with one entry per possible CPU
 * (Go sets max_entries), indexed by bpf_get_smp_processor_id(). Migration
 * is disabled while a program runs, so the entry stays the running CPU's;
 * on a preemptible kernel a program preempted by another run of the same
 * hook on that CPU can find the entry overwritten, the trade-off every
 * per-CPU scratch buffer makes.
 */
struct scratch {
	struct work w;
	struct event ev;
	__u8 slack[CAPTURE_MAX];
};

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

#endif /* PROPWATCH_WORK_H */
