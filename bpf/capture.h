/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * capture.h: the entry points of the capture, one per shape of the hooked
 * syscalls' data arguments, which the programs of every hook set call
 * (headers.c); and the syscall tracepoint hooks' argument stash. Each
 * entry point puts what the syscall moved into this CPU's struct work and
 * hands it to the pipeline (pipeline.h).
 */
#ifndef PROPWATCH_CAPTURE_H
#define PROPWATCH_CAPTURE_H

#include "kernel.h"
#include "counters.h"
#include "event.h"
#include "maps.h"
#include "pipeline.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* Messages of one sendmmsg/recvmmsg turned into events. */
#define MMSG_MAX 4

/* Process id of propwatch itself: its own traffic is never captured. Set
 * by Go before loading. */
volatile const __u32 self_tgid = 0;

/*
 * The entry points, one per shape of the hooked syscalls' data arguments,
 * shared by every hook set (headers.c). They are global functions on
 * purpose: the verifier checks each once per program that calls it, on its
 * own, instead of once per call site, so the sys_exit programs that call
 * all four stay as cheap to load as four programs.
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
	struct scratch *s;

	USED(cnt);
	if (ret <= 0)
		return 0;
	s = scratch();
	if (!s)
		return 0;
	s->w.c.base0 = buf;
	s->w.c.len0 = ret;
	s->w.c.iov = 0;
	s->w.c.niov = 0;
	s->w.c.total = ret;
	handle_chunk(s, fd, meta >> 8, meta & 0xff, 0, 0);
	return 0;
}

/*
 * Plaintext a TLS library was given or returned (tls.h): len bytes at buf,
 * on the socket of descriptor fd. The uprobes run outside any socket call,
 * so what a sock hook left in struct work about its socket is cleared.
 */
__noinline int capture_tls(__u64 fd, __u64 buf, __u64 len, __s64 ret, __u32 meta)
{
	struct scratch *s;

	USED(ret);
	if (!len || len > 0x7fffffff)
		return 0;
	s = scratch();
	if (!s)
		return 0;
	s->w.hint.sk = 0;
	s->w.hint.ino = 0;
	s->w.hint_file = 0;
	s->w.no_state = 0;
	s->w.owner_tgid = 0;
	s->w.peer_tgid = 0;
	s->w.c.base0 = buf;
	s->w.c.len0 = len;
	s->w.c.iov = 0;
	s->w.c.niov = 0;
	s->w.c.total = len;
	handle_chunk(s, fd, meta >> 8, meta & 0xff, 0, 1);
	return 0;
}

/* writev, readv: an iovec array. */
__noinline int capture_iov(__u64 fd, __u64 iov, __u64 cnt, __s64 ret, __u32 meta)
{
	struct scratch *s;

	if (ret <= 0)
		return 0;
	s = scratch();
	if (!s)
		return 0;
	handle_iov(s, fd, iov, cnt, ret, meta >> 8, meta & 0xff);
	return 0;
}

/*
 * read_mmsghdr reads the msghdr or mmsghdr at addr (size bytes) into
 * s->w.mm. (A msghdr is an mmsghdr's first part.)
 */
static __always_inline int read_mmsghdr(struct scratch *s, __u64 addr, __u32 size)
{
	if (bpf_probe_read_user(&s->w.mm, size, (const void *)addr)) {
		count_lost(LOST_READ_FAILED);
		return 0;
	}
	return 1;
}

/* sendmsg, recvmsg: a msghdr. */
__noinline int capture_msg(__u64 fd, __u64 msg, __u64 cnt, __s64 ret, __u32 meta)
{
	struct scratch *s;

	USED(cnt);
	if (ret <= 0)
		return 0;
	s = scratch();
	if (!s || !read_mmsghdr(s, msg, sizeof(struct pw_msghdr)))
		return 0;
	handle_iov(s, fd, s->w.mm.hdr.iov, s->w.mm.hdr.iovlen, ret, meta >> 8, meta & 0xff);
	return 0;
}

/* sendmmsg, recvmmsg: an mmsghdr array; ret is the number of messages,
 * and each says what it moved. */
__noinline int capture_mmsg(__u64 fd, __u64 vec, __u64 cnt, __s64 ret, __u32 meta)
{
	struct scratch *s = scratch();

	if (!s)
		return 0;
	/* A real loop, not MMSG_MAX copies of handle_chunk. */
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < MMSG_MAX; i++) {
		if (i >= ret || i >= cnt)
			break;
		if (!read_mmsghdr(s, vec + i * sizeof(struct pw_mmsghdr), sizeof(struct pw_mmsghdr)))
			break;
		handle_iov(s, fd, s->w.mm.hdr.iov, s->w.mm.hdr.iovlen, s->w.mm.msg_len, meta >> 8,
			   meta & 0xff);
	}
	return 0;
}

/*
 * sendmmsg, recvmmsg as the sock hooks see them: message i of the mmsghdr
 * array vec, which moved ret bytes.
 */
__noinline int capture_mmsg_one(__u64 fd, __u64 vec, __u64 i, __s64 ret, __u32 meta)
{
	struct scratch *s;

	if (ret <= 0)
		return 0;
	s = scratch();
	if (!s || !read_mmsghdr(s, vec + i * sizeof(struct pw_mmsghdr), sizeof(struct pw_mmsghdr)))
		return 0;
	handle_iov(s, fd, s->w.mm.hdr.iov, s->w.mm.hdr.iovlen, ret, meta >> 8, meta & 0xff);
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
