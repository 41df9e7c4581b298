/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * state.h: the types kept in maps (maps.h), and what the capture knows
 * about a socket. Keys and values that Go reads too are generated into Go
 * by bpf2go (-type), never mirrored by hand.
 */
#ifndef PROPWATCH_STATE_H
#define PROPWATCH_STATE_H

#include "kernel.h"

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
	__u32 tls;  /* 1: the plaintext read at the TLS library (tls.h), a
		     * stream of its own beside the socket's ciphertext */
};

/* The state of head_key's stream. */
enum head_kind {
	HEAD_OPEN = 1,    /* a request head started and has not ended */
	HEAD_PENDING = 2, /* a short read/write held back a prefix ("G", a Kafka size) */
	FRAME_OPEN = 3,   /* a Kafka frame started and has budget bytes left to ship */
	H2_OPEN = 4,      /* an HTTP/2 client's frames: budget bytes of the current
			   * frame still to come, tail the H2_* bits, pending a
			   * frame header's first bytes (http2_walk.h) */
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

/* Where the sock hooks are in a thread's sendmmsg or recvmmsg call (pw_mmsg). */
struct mmsg_cursor {
	__u64 vec;
	__u32 next;
	__u32 nr;
};

/* The socket behind a file descriptor (sock.h). */
struct sock_info {
	__u64 sk;     /* struct sock *: stays in the kernel, never sent to Go */
	__u64 ino;    /* socket inode number */
	__u16 family; /* AF_INET or AF_INET6 */
	__u8 _pad[6];
};

/* tls_call.state */
enum tls_call_state {
	TLS_IN_CALL = 1, /* the library function is running */
	TLS_AWAIT = 2,   /* SSL_write returned before any socket write: the
			  * caller writes the ciphertext itself, next (Node.js) */
};

/*
 * A TLS library call in progress on a thread (pw_tls_calls, keyed by
 * bpf_get_current_pid_tgid()): what its entry probe saw, for the socket
 * hooks to tie the SSL* to the socket the call writes or reads, and for
 * the return probe to read the plaintext (tls.h).
 */
struct tls_call {
	__u64 ssl;    /* the SSL* */
	__u64 buf;    /* user address of the plaintext */
	__u64 len;    /* SSL_write: bytes given; SSL_read: buffer size */
	__u64 outlen; /* the _ex functions: user address of the size_t length, else 0 */
	__u64 t_ns;   /* TLS_AWAIT: when SSL_write returned */
	__u32 state;  /* enum tls_call_state */
	__u32 dir;    /* enum direction of the plaintext */
};

/* An SSL* of a process: pw_ssl_fds maps it to its socket's descriptor. */
struct ssl_key {
	__u32 tgid;
	__u32 _pad;
	__u64 ssl;
};

/*
 * A Go crypto/tls Read in progress (pw_go_reads), keyed by its goroutine,
 * not its thread: a goroutine blocked in Read resumes on any thread.
 */
struct go_read_key {
	__u32 tgid;
	__u32 _pad;
	__u64 g; /* the goroutine's runtime.g */
};

struct go_read {
	__u64 buf; /* user address of the buffer Read fills */
	__u64 fd;  /* the connection's descriptor */
};

/* What goes to Go through pw_procs: a process that exec'd or exited. */
struct proc_event {
	__u32 tgid;
	__u32 exec; /* 1: exec; 0: exit of its last thread */
};

#endif /* PROPWATCH_STATE_H */
