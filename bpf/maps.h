/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maps.h: every map of the capture program and the types stored in them.
 * Nothing is pinned: the maps live exactly as long as the Go loader holds
 * them.
 */
#ifndef PROPWATCH_MAPS_H
#define PROPWATCH_MAPS_H

#include "kernel.h"
#include "event.h"
#include <bpf/bpf_helpers.h>

/* Default ring buffer size; Go overrides it from Config.RingBufferBytes. */
#define RINGBUF_DEFAULT_BYTES (8 << 20)
/* Threads that can be inside a hooked syscall on a TCP socket at once. */
#define ARGS_MAX_ENTRIES 16384
/* Connections (times two directions) with a request head open at once. */
#define HEADS_MAX_ENTRIES 65536

/* Kafka requests awaiting their response, all connections together. */
#define KREQS_MAX_ENTRIES 16384

/* Connections whose sending process is remembered for the receiver. */
#define OWNERS_MAX_ENTRIES 65536

/*
 * What a sys_enter program hands to the matching sys_exit program (the
 * syscall tracepoint hooks only: the raw sys_exit hook reads the arguments
 * from the saved registers instead).
 */
struct call_args {
	__u64 fd;  /* the file descriptor argument */
	__u64 buf; /* user pointer: buffer, iovec array, msghdr or mmsghdr array */
	__u64 cnt; /* buffer length, iovec count or mmsghdr count */
};

/* Per-thread syscall arguments, keyed by bpf_get_current_pid_tgid(). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ARGS_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct call_args);
} pw_args SEC(".maps");

/*
 * One direction of one connection, named by the process and the file
 * descriptor it uses, so that the state of a chunk's stream is found without
 * resolving the descriptor to its socket: most chunks (responses, bodies,
 * files, pipes) end at this lookup. A descriptor closed and reused for
 * another file keeps a stale entry until it is touched again;
 * head_state.ino tells the two apart.
 */
struct head_key {
	__u32 tgid; /* process id */
	__u32 fd;   /* file descriptor */
	__u32 dir;  /* enum direction */
	__u32 _pad;
};

/* The state of head_key's stream. */
enum head_kind {
	HEAD_OPEN = 1,    /* a request head started and has not ended */
	HEAD_PENDING = 2, /* a short read/write held back a prefix ("G", a Kafka size) */
	FRAME_OPEN = 3,   /* a Kafka frame started and has budget bytes left to ship */
};

struct head_state {
	__u64 ino;        /* the socket the state belongs to */
	__u64 pending;    /* HEAD_PENDING: the held-back bytes, little-endian */
	__u32 budget;     /* HEAD_OPEN: bytes the head may still grow by */
	__u32 tail;       /* HEAD_OPEN: the last four bytes seen, little-endian */
	__u8 kind;        /* enum head_kind, or 0 */
	__u8 pending_len; /* HEAD_PENDING: number of held-back bytes, 1..7 */
	__u8 kafka;       /* 1: Kafka responses are awaited on this stream (pw_kreqs) */
	__u8 _pad[5];
};

/*
 * Open request heads per stream. LRU so that heads of connections that went
 * away without finishing are evicted rather than filling the map. Go deletes
 * entries through Loader.HeadDone.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HEADS_MAX_ENTRIES);
	__type(key, struct head_key);
	__type(value, struct head_state);
} pw_heads SEC(".maps");

/* A Kafka request awaiting its response: the stream that will carry the
 * response and the request's correlation id (as on the wire). */
struct kreq_key {
	__u32 tgid;
	__u32 fd;
	__u32 dir;  /* the response's direction */
	__u32 corr; /* correlation id, big-endian as on the wire */
};

struct kreq {
	__s16 api_key;
	__s16 api_version;
};

/*
 * Fetch and Metadata requests seen, so that their responses, which carry
 * only a size and the correlation id, can be told from any other bytes and
 * decoded knowing what they answer. LRU: requests whose response never
 * came age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KREQS_MAX_ENTRIES);
	__type(key, struct kreq_key);
	__type(value, struct kreq);
} pw_kreqs SEC(".maps");

/*
 * One end of a TCP connection: the socket's network namespace and its local
 * and remote address and port, addresses in the 16-byte form of struct
 * event, ports in host order.
 */
struct conn_key {
	__u32 netns;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

/* The process behind a connection end. */
struct owner {
	__u32 tgid;
	__u8 comm[16];
};

/*
 * What the sock hooks note on a TCP socket, in BPF socket storage: kept
 * with the socket and freed with it, and found through the socket the
 * hook is handed, so no hash lookup and no eviction. It saves the lookups
 * that most chunks would otherwise make in the hash maps, whose buckets
 * are cold by the time the next chunk comes: whether pw_heads may hold
 * state for the socket's streams, and on loopback whom pw_owners names for
 * this end and for the other. What it costs: a note that could not be
 * made (no memory) makes the hooks forget a stream's state, so a head
 * split across calls is missed; the other end's sender is kept once found,
 * so a connection handed to another process keeps its first sender's name;
 * and an end noted as recorded is not recorded again, so it goes unnamed
 * if pw_owners evicted it (past 65536 loopback connections).
 *
 * A direction that carried an HTTP/1.x response carries no request, so
 * once one is seen there the hooks skip that direction altogether: half
 * the socket calls of HTTP traffic end at the note. So does the sending
 * direction of a loopback connection once it carried an HTTP request that
 * was left to the receiving end (quiet_end): the receiving end sees every
 * byte sent and judges them there. (Not after a Kafka request: a Fetch
 * must be tracked where it is sent.) Both are kept in pw_skip too.
 */
struct sk_note {
	__u32 heads;      /* bit per direction: pw_heads may hold state */
	__u32 owner_tgid; /* this (sending) end is in pw_owners as this process */
	__u32 peer_tgid;  /* the other end's sender in pw_owners, once found */
	__u8 peer_comm[16];
	__u32 responses;  /* bit per direction: it carried an HTTP/1.x response */
	__u32 quiet;      /* bit per direction: HTTP requests left to the receiver */
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_note);
} pw_sk SEC(".maps");

/*
 * pw_skip: the directions the sock hooks skip (a note's responses and
 * quiet bits), for the sockets seen last, in a direct-mapped table indexed
 * by the socket cookie: slot cookie % SKIP_SLOTS holds cookie << 2 | bits,
 * bit 1 << dir per direction. Most socket calls of HTTP traffic end here.
 * The socket's note says the same, but finding it costs three dependent
 * loads of lines no one else touches (~100ns here, on every call); the
 * table is small enough to stay in cache and its lookup is inlined. A
 * cookie is never reused, so a slot cannot speak for another socket, and
 * one 8-byte word is written and read whole, so two CPUs that fill a slot
 * at once leave one socket's word, never a mix. A socket that lost its slot
 * is found in its note, which fills the slot again.
 */
#define SKIP_SLOTS 4096

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SKIP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} pw_skip SEC(".maps");

/*
 * Where the sock hooks are in a thread's sendmmsg or recvmmsg call: the
 * array, the index of its next message, the syscall number. Keyed by
 * bpf_get_current_pid_tgid(); see mmsg_index in headers.c.
 */
#define MMSG_MAX_ENTRIES 4096

struct mmsg_cursor {
	__u64 vec;
	__u32 next;
	__u32 nr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MMSG_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct mmsg_cursor);
} pw_mmsg SEC(".maps");

/*
 * Which process sent on the client end of a loopback connection: the
 * sending end of a loopback request emits nothing (capture.h), so the
 * receiving end's event names the sender from here, and Go looks here for
 * ends it has not seen. LRU: ends of closed connections age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OWNERS_MAX_ENTRIES);
	__type(key, struct conn_key);
	__type(value, struct owner);
} pw_owners SEC(".maps");

/* The socket behind a file descriptor (sock.h). */
struct sock_info {
	__u64 sk;     /* struct sock *: stays in the kernel, never sent to Go */
	__u64 ino;    /* socket inode number */
	__u16 family; /* AF_INET or AF_INET6 */
	__u8 _pad[6];
};

/* What one syscall (or one message of an mmsg call) moved. */
struct chunk {
	__u64 base0; /* user address of the first segment */
	__u64 len0;  /* its length as the caller gave it */
	__u64 iov;   /* user address of the second iovec (vectored calls) */
	__u64 niov;  /* iovecs from the second on */
	__u64 total; /* bytes the syscall moved */
};

/*
 * The working state of one handle_chunk call across the copy (capture.h).
 * It lives in map memory on purpose: the verifier does not track what is
 * stored there, so every path into the copy loop reaches it in the same
 * verifier state and the loop is verified once, not once per combination
 * of values the paths before it carry.
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
	__u32 _pad3;
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
	__u32 _pad4;
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

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} pw_scratch SEC(".maps");

/* Events lost, per enum lost_reason and CPU. Go sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} pw_lost SEC(".maps");

/* The ring buffer Go reads events from. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_DEFAULT_BYTES);
} pw_events SEC(".maps");

/* Count one lost event. */
static __always_inline void count_lost(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&pw_lost, &reason);

	if (n)
		*n += 1;
}

#endif /* PROPWATCH_MAPS_H */
