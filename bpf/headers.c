//go:build ignore

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * headers.c: propwatch's capture of HTTP/1.x request heads.
 *
 * Why these hooks: the syscall tracepoints (syscalls/sys_enter_* and
 * sys_exit_*) of the ten calls that move TCP payload, write, writev, sendto,
 * sendmsg, sendmmsg and read, readv, recvfrom, recvmsg, recvmmsg. They see
 * plaintext in the process's own buffers, on the client and the server side
 * alike, for every process and container on the host, with no per-binary
 * setup. Unlike kprobes and fentry they are a stable ABI present on every
 * kernel built with CONFIG_FTRACE_SYSCALLS (all the major distributions),
 * and they do not need kprobes or BPF trampolines. The enter program
 * resolves the fd to a socket and stashes the arguments; the exit program
 * knows how many bytes moved and reads them from user memory.
 * Not seen: TLS (encrypted before write), io_uring, sendfile/splice, and
 * 32-bit (compat) syscalls.
 *
 * What it emits: one struct event (event.h) per chunk that starts an
 * HTTP/1.x request (method token and space) or continues a request head
 * still open on that socket and direction, into the pw_events ring buffer,
 * with only the captured bytes after the header. Responses, bodies and
 * other protocols are looked at (8 bytes) but never copied out; the one
 * exception is body bytes that share a syscall with the end of their head
 * (the kernel checks only a chunk's last four bytes for "\r\n\r\n": Go
 * finds the end and calls HeadDone). Lost events are counted per reason in
 * pw_lost. See capture.h for the rules and for how wakeups are batched.
 *
 * What kernel it needs: 5.8 or later with BTF (/sys/kernel/btf/vmlinux):
 * ring buffers (5.8), bpf_probe_read_user (5.5), bounded loops (5.3), the
 * v3 instruction set it is compiled for (5.1), and CO-RE against kernel
 * BTF. The Go loader probes each of these before loading and says which one
 * is missing.
 */

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include "event.h"
#include "maps.h"
#include "sniff.h"
#include "sock.h"
#include "capture.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Types Go needs through bpf2go -type: referencing them keeps them in BTF. */
const struct event *unused_event __attribute__((unused));
const struct head_key *unused_head_key __attribute__((unused));
const enum syscall_id *unused_syscall_id __attribute__((unused));
const enum lost_reason *unused_lost_reason __attribute__((unused));

/*
 * The tracepoint records of syscalls/sys_enter_* and sys_exit_* (see
 * events/syscalls/<name>/format in tracefs): an 8-byte common header, the
 * syscall number as an int padded to 8 bytes, then the six arguments or the
 * return value as 8-byte words. The Go loader checks this layout in tracefs
 * before loading.
 */
struct sys_enter_ctx {
	__u64 common;
	__s64 nr;
	__u64 args[6];
};

struct sys_exit_ctx {
	__u64 common;
	__s64 nr;
	__s64 ret;
};

/*
 * Send path. Arguments: write(fd, buf, count), writev(fd, iov, iovcnt),
 * sendto(fd, buf, len, flags, addr, addrlen), sendmsg(fd, msg, flags),
 * sendmmsg(fd, msgvec, vlen, flags).
 */

SEC("tracepoint/syscalls/sys_enter_write")
int pw_enter_write(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_WRITE, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_write")
int pw_exit_write(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_EGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int pw_enter_writev(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_WRITEV, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int pw_exit_writev(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_EGRESS, SHAPE_IOV);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int pw_enter_sendto(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_SENDTO, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int pw_exit_sendto(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_EGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int pw_enter_sendmsg(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_SENDMSG, ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int pw_exit_sendmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_EGRESS, SHAPE_MSG);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int pw_enter_sendmmsg(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_SENDMMSG, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int pw_exit_sendmmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_EGRESS, SHAPE_MMSG);
}

/*
 * Receive path. Arguments: read(fd, buf, count), readv(fd, iov, iovcnt),
 * recvfrom(fd, buf, size, flags, addr, addrlen), recvmsg(fd, msg, flags),
 * recvmmsg(fd, msgvec, vlen, flags, timeout).
 */

SEC("tracepoint/syscalls/sys_enter_read")
int pw_enter_read(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_READ, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_read")
int pw_exit_read(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_INGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int pw_enter_readv(struct sys_enter_ctx *ctx)
{
	return on_enter(SYS_READV, ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int pw_exit_readv(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_INGRESS, SHAPE_IOV);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int pw_enter_recvfrom(struct sys_enter_ctx *ctx)
{
	return on_enter_recv(SYS_RECVFROM, ctx->args[0], ctx->args[1],
			     ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int pw_exit_recvfrom(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_INGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int pw_enter_recvmsg(struct sys_enter_ctx *ctx)
{
	return on_enter_recv(SYS_RECVMSG, ctx->args[0], ctx->args[1], 0,
			     ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int pw_exit_recvmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_INGRESS, SHAPE_MSG);
}

SEC("tracepoint/syscalls/sys_enter_recvmmsg")
int pw_enter_recvmmsg(struct sys_enter_ctx *ctx)
{
	return on_enter_recv(SYS_RECVMMSG, ctx->args[0], ctx->args[1],
			     ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int pw_exit_recvmmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, DIR_INGRESS, SHAPE_MMSG);
}
