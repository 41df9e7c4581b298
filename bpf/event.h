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
};

/* Which way the bytes went, seen from the process that made the syscall. */
enum direction {
	DIR_EGRESS = 0,  /* the process sent the bytes */
	DIR_INGRESS = 1, /* the process received them */
};

/* Why an event was lost: the index into the pw_lost counters. */
enum lost_reason {
	LOST_RINGBUF_FULL = 0, /* bpf_ringbuf_output failed: Go reads too slowly */
	LOST_READ_FAILED = 1,  /* bpf_probe_read_user of the buffer failed */
	LOST_ARGS_FULL = 2,    /* pw_args was full at syscall entry */
	LOST_REASONS = 3,      /* number of reasons: size of pw_lost */
};

/*
 * One captured chunk of a request head.
 *
 * Addresses: always 16 bytes in IPv6 form; an AF_INET socket's IPv4 address
 * is stored v4-mapped (::ffff:a.b.c.d), so Go reads every address the same
 * way and unmaps it. Ports are in host byte order.
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
	__u32 len;       /* the syscall's byte count, plus a held-back prefix (capture.h) */
	__u32 captured;  /* bytes of data that are valid */
	__u16 family;    /* AF_INET or AF_INET6 */
	__u16 lport;     /* local port, host order */
	__u16 rport;     /* remote port, host order */
	__u8 direction;  /* enum direction */
	__u8 start;      /* 1: data begins like an HTTP/1.x request */
	__u8 syscall;    /* enum syscall_id */
	__u8 _pad[3];
	__u8 comm[16];   /* bpf_get_current_comm() */
	__u8 laddr[16];  /* local address, see above */
	__u8 raddr[16];  /* remote address, see above */
	__u8 data[CAPTURE_MAX];
};

/* Bytes of struct event before data: what every ring buffer record carries. */
#define EVENT_HEADER_SIZE __builtin_offsetof(struct event, data)

#endif /* PROPWATCH_EVENT_H */
