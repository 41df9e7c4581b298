/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * event.h: struct event, the one contract between the capture program and
 * Go. bpf2go turns it into Go (-type event); Go never mirrors it by hand.
 *
 * Rules: fixed-width fields, largest alignment first, padding spelled out
 * (the build uses -Wpadded -Werror), no packed attribute.
 */
#ifndef PROPWATCH_EVENT_H
#define PROPWATCH_EVENT_H

#include "kernel.h"

/* Largest capture per event, and the size of event.data. A request head of
 * up to this many bytes in one syscall is seen whole. */
#define CAPTURE_MAX 16384

/* Syscalls the program hooks. The numbering is propwatch's own (syscall
 * numbers differ per architecture); Go names them through the generated
 * constants. */
enum syscall_id {
	SYS_UNKNOWN = 0,
	SYS_WRITE = 1,
	SYS_WRITEV = 2,
	SYS_SENDTO = 3,
	SYS_SENDMSG = 4,
	SYS_SENDMMSG = 5,
	SYS_READ = 6,
	SYS_READV = 7,
	SYS_RECVFROM = 8,
	SYS_RECVMSG = 9,
	SYS_RECVMMSG = 10,
	SYS_TLS_WRITE = 11, /* plaintext given to a TLS library to send (tls.h) */
	SYS_TLS_READ = 12,  /* plaintext a TLS library returned */
};

/*
 * The architecture's numbers of the hooked syscalls: the raw sys_exit hook
 * sees only a number. Go checks them against golang.org/x/sys/unix.
 */
enum syscall_nr {
#if defined(__TARGET_ARCH_x86)
	NR_READ = 0,
	NR_WRITE = 1,
	NR_READV = 19,
	NR_WRITEV = 20,
	NR_SENDTO = 44,
	NR_RECVFROM = 45,
	NR_SENDMSG = 46,
	NR_RECVMSG = 47,
	NR_RECVMMSG = 299,
	NR_SENDMMSG = 307,
#elif defined(__TARGET_ARCH_arm64)
	NR_READ = 63,
	NR_WRITE = 64,
	NR_READV = 65,
	NR_WRITEV = 66,
	NR_SENDTO = 206,
	NR_RECVFROM = 207,
	NR_SENDMSG = 211,
	NR_RECVMSG = 212,
	NR_RECVMMSG = 243,
	NR_SENDMMSG = 269,
#else
#error "syscall numbers of this architecture are not known: build for amd64 or arm64"
#endif
};

/* Which way the bytes went, seen from the process that made the syscall. */
enum direction {
	DIR_EGRESS = 0,  /* the process sent the bytes */
	DIR_INGRESS = 1, /* the process received them */
};

/* What a message was recognised as. */
enum proto {
	PROTO_HTTP = 0,  /* an HTTP/1.x request head */
	PROTO_KAFKA = 1, /* a Kafka frame */
	PROTO_HTTP2 = 2, /* HTTP/2 client frames: HEADERS, CONTINUATION, SETTINGS */
	PROTO_TLS_HELLO = 3, /* a TLS ClientHello: a connection starts encrypted (no data) */
};

/* Why an event was lost: the index into the pw_lost counters. */
enum lost_reason {
	LOST_RINGBUF_FULL = 0, /* bpf_ringbuf_output failed: Go reads too slowly */
	LOST_READ_FAILED = 1,  /* bpf_probe_read_user of the buffer failed */
	LOST_ARGS_FULL = 2,    /* pw_args was full at syscall entry */
	LOST_TLS_UNTIED = 3,   /* TLS plaintext whose socket was never seen (tls.h) */
	LOST_REASONS = 4,      /* number of reasons: size of pw_lost */
};

/* Where a map update or a user read failed: the index into pw_errors. Go
 * names each site (loader.KernelErrors); keep the two lists together. */
enum error_site {
	ERR_HEAD_HOLD = 0,     /* pw_heads: holding back a short prefix */
	ERR_HEAD_OPEN = 1,     /* pw_heads: opening a head or frame that goes on */
	ERR_KAFKA_AWAIT = 2,   /* pw_heads: marking a stream as awaiting responses */
	ERR_KAFKA_REQUEST = 3, /* pw_kreqs: remembering a Fetch/Metadata request */
	ERR_KAFKA_CORR = 4,    /* reading a request's correlation id from user memory */
	ERR_OWNER = 5,         /* pw_owners: recording a loopback sender */
	ERR_MMSG_CURSOR = 6,   /* pw_mmsg: a sock hook's place in an mmsg array */
	ERR_NOTE = 7,          /* pw_sk: creating the note on a socket */
	ERR_H2_STATE = 8,      /* pw_heads: an HTTP/2 stream's place in its frames */
	ERR_TLS_CALL = 9,      /* pw_tls_calls: a TLS library call's entry */
	ERR_TLS_TIE = 10,      /* pw_ssl_fds: an SSL* tied to its socket */
	ERR_GO_READ = 11,      /* pw_go_reads: a Go crypto/tls Read's entry */
	ERR_TLS_READ = 12,     /* reading a TLS call's length or a Go conn's descriptor */
	ERR_PROC = 13,         /* pw_procs: an exec or exit notice (ring buffer full) */
	ERROR_SITES = 14,      /* number of sites: size of pw_errors */
};

/*
 * One captured chunk of a request head.
 *
 * Addresses: always 16 bytes in IPv6 form; an AF_INET socket's IPv4 address
 * is stored v4-mapped (::ffff:a.b.c.d), so Go reads every address the same
 * way and unmaps it. Ports are in host byte order.
 *
 * Loopback: a request between two processes of this host over a loopback
 * address is emitted once, by the receiving end (loopback.h); peer_tgid and
 * peer_comm then name the sender when its end is known.
 *
 * Only the first EVENT_HEADER_SIZE + captured bytes are sent through the
 * ring buffer.
 */
struct event {
	__u64 ktime_ns;  /* bpf_ktime_get_ns() at syscall exit */
	__u64 sock_ino;  /* inode number of the socket: connection identity */
	__u64 cgroup_id; /* bpf_get_current_cgroup_id() (cgroup v2) */
	__u32 netns;     /* inode number of the socket's network namespace */
	__u32 pid;       /* thread id */
	__u32 tgid;      /* process id */
	__u32 fd;        /* the file descriptor the syscall was made on */
	__u32 peer_tgid; /* loopback: the process that owns the other end, 0 when unknown */
	__u32 len;       /* the syscall's byte count, plus a held-back prefix (stream.h) */
	__u32 captured;  /* bytes of data that are valid */
	__u16 family;    /* AF_INET or AF_INET6 */
	__u16 lport;     /* local port, host order */
	__u16 rport;     /* remote port, host order */
	__u8 direction;  /* enum direction */
	__u8 start;      /* 1: data begins a message (request head, Kafka frame, HTTP/2 frame) */
	__u8 syscall;    /* enum syscall_id */
	__u8 proto;      /* enum proto */
	__s16 kafka_api_key;     /* Kafka response start: its request's api key; else -1 */
	__s16 kafka_api_version; /* ... and version; else -1 */
	__u8 tls;        /* 1: data is plaintext read at a TLS library (tls.h) */
	__u8 _pad[5];
	__u8 comm[16];      /* bpf_get_current_comm() */
	__u8 peer_comm[16]; /* with peer_tgid: that process's command name */
	__u8 laddr[16];     /* local address, see above */
	__u8 raddr[16];     /* remote address, see above */
	__u8 data[CAPTURE_MAX];
};

/* Bytes of struct event before data: what every ring buffer record carries. */
#define EVENT_HEADER_SIZE __builtin_offsetof(struct event, data)

#endif /* PROPWATCH_EVENT_H */
