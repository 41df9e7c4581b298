//go:build ignore

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * headers.c: propwatch's capture of HTTP/1.x request heads and Kafka frames.
 *
 * Where it hooks: where the syscalls that move TCP payload return, write,
 * writev, sendto, sendmsg, sendmmsg and read, readv, recvfrom, recvmsg,
 * recvmmsg. There the bytes are in the process's own buffer, plaintext, on
 * the client and the server side alike, for every process and container on
 * the host, with no per-binary setup. Four hook sets reach them; the Go
 * loader takes the first that loads:
 *
 *   - sock: the BTF-typed tracepoints sock_send_length and sock_recv_length
 *     (Linux 6.3+), which fire inside socket sends and receives only and
 *     name the socket; the syscall and its arguments come from the
 *     registers the task saved on entry. The cheapest: nothing runs for the
 *     other syscalls, and no descriptor is walked to find its socket.
 *   - btf: the tracepoint sys_exit, BTF-typed, at the exit of every
 *     syscall, reading the syscall number and arguments from the saved
 *     registers (pt_regs) with plain loads. No entry program, no map to
 *     carry arguments from entry to exit, no perf record per call.
 *   - raw: the same as a raw tracepoint, reading the registers through
 *     bpf_probe_read_kernel, for kernels without BTF-typed tracepoints.
 *   - syscalls: the syscall tracepoints syscalls/sys_enter_* (stash the
 *     arguments) and sys_exit_* (capture) of the ten calls. A stable ABI on
 *     every kernel built with CONFIG_FTRACE_SYSCALLS; the path that works
 *     everywhere.
 *
 * The registers are per architecture, so the object is built per
 * architecture (x86-64 and arm64).
 *
 * None needs kprobes or BPF trampolines. Not seen: io_uring,
 * sendfile/splice, and 32-bit (compat) syscalls. TLS is encrypted before
 * the write: its plaintext is read by uprobes on the TLS libraries, which
 * internal/tlswatch attaches (tls.h; the programs are in tls_probes.h), and
 * the exec and exit raw tracepoints tell it of new programs.
 *
 * What it emits: one struct event (event.h) per chunk that starts an
 * HTTP/1.x request (method token and space) or continues a request head
 * still open on that stream, into the pw_events ring buffer, with only the
 * captured bytes after the header. Kafka: Produce requests, and the
 * responses to Fetch and Metadata requests (matched by correlation id on
 * their connection, pw_kreqs), up to kafka_budget bytes a frame, several
 * events for a syscall that moved more than one holds. Responses, bodies and other protocols
 * are looked at (8 bytes) but never copied out; the one exception is body
 * bytes that share a syscall with the end of their head (the kernel checks
 * only a chunk's last four bytes for "\r\n\r\n": Go finds the end and calls
 * HeadDone). A request over loopback is emitted by its receiving end only.
 * Lost events are counted per reason in pw_lost, failed map updates per
 * site in pw_errors (counters.h). See pipeline.h for the rules and for how
 * wakeups are batched.
 *
 * What kernel it needs: 5.8 or later with BTF (/sys/kernel/btf/vmlinux):
 * ring buffers (5.8), global functions (5.6), bpf_probe_read_user (5.5),
 * bounded loops (5.3), the v3 instruction set it is compiled for (5.1), and
 * CO-RE against kernel BTF. The Go loader probes each of these before
 * loading and says which one is missing. That floor is by design; the
 * kernels tested are those of `make test-kernels` (Debian 12's 6.1 and
 * 6.12) and the one CI runs on. Every program keeps its deepest chain of
 * stack frames under 448 bytes (pipeline.h), so that kernels without
 * private subprogram stacks, which hold the chain to 512, load it.
 */

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include "event.h"
#include "maps.h"
#include "sock.h"
#include "capture.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Types Go needs through bpf2go -type: referencing them keeps them in BTF. */
const struct event *unused_event __attribute__((unused));
const struct head_key *unused_head_key __attribute__((unused));
const enum syscall_id *unused_syscall_id __attribute__((unused));
const enum lost_reason *unused_lost_reason __attribute__((unused));
const enum error_site *unused_error_site __attribute__((unused));
const enum direction *unused_direction __attribute__((unused));
const enum proto *unused_proto __attribute__((unused));
const enum syscall_nr *unused_syscall_nr __attribute__((unused));
const struct proc_event *unused_proc_event __attribute__((unused));
const enum go_layout *unused_go_layout __attribute__((unused));
const struct ssl_key *unused_ssl_key __attribute__((unused));

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
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_write")
int pw_exit_write(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_WRITE, DIR_EGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_writev")
int pw_enter_writev(struct sys_enter_ctx *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_writev")
int pw_exit_writev(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_WRITEV, DIR_EGRESS, SHAPE_IOV);
}

SEC("tracepoint/syscalls/sys_enter_sendto")
int pw_enter_sendto(struct sys_enter_ctx *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_sendto")
int pw_exit_sendto(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_SENDTO, DIR_EGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_sendmsg")
int pw_enter_sendmsg(struct sys_enter_ctx *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_exit_sendmsg")
int pw_exit_sendmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_SENDMSG, DIR_EGRESS, SHAPE_MSG);
}

SEC("tracepoint/syscalls/sys_enter_sendmmsg")
int pw_enter_sendmmsg(struct sys_enter_ctx *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_sendmmsg")
int pw_exit_sendmmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_SENDMMSG, DIR_EGRESS, SHAPE_MMSG);
}

/*
 * Receive path. Arguments: read(fd, buf, count), readv(fd, iov, iovcnt),
 * recvfrom(fd, buf, size, flags, addr, addrlen), recvmsg(fd, msg, flags),
 * recvmmsg(fd, msgvec, vlen, flags, timeout).
 */

SEC("tracepoint/syscalls/sys_enter_read")
int pw_enter_read(struct sys_enter_ctx *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_read")
int pw_exit_read(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_READ, DIR_INGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_readv")
int pw_enter_readv(struct sys_enter_ctx *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_readv")
int pw_exit_readv(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_READV, DIR_INGRESS, SHAPE_IOV);
}

SEC("tracepoint/syscalls/sys_enter_recvfrom")
int pw_enter_recvfrom(struct sys_enter_ctx *ctx)
{
	return on_enter_recv(ctx->args[0], ctx->args[1],
			     ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_recvfrom")
int pw_exit_recvfrom(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_RECVFROM, DIR_INGRESS, SHAPE_BUF);
}

SEC("tracepoint/syscalls/sys_enter_recvmsg")
int pw_enter_recvmsg(struct sys_enter_ctx *ctx)
{
	return on_enter_recv(ctx->args[0], ctx->args[1], 0,
			     ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_recvmsg")
int pw_exit_recvmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_RECVMSG, DIR_INGRESS, SHAPE_MSG);
}

SEC("tracepoint/syscalls/sys_enter_recvmmsg")
int pw_enter_recvmmsg(struct sys_enter_ctx *ctx)
{
	return on_enter_recv(ctx->args[0], ctx->args[1],
			     ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_exit_recvmmsg")
int pw_exit_recvmmsg(struct sys_exit_ctx *ctx)
{
	return on_exit(ctx->ret, SYS_RECVMMSG, DIR_INGRESS, SHAPE_MMSG);
}

/*
 * The raw hook: one program at the exit of every syscall. Its context is
 * the raw tracepoint's arguments, (struct pt_regs *regs, long ret).
 */
struct raw_exit_ctx {
	__u64 regs;
	__s64 ret;
};

/* The syscall number and the first four arguments, from saved registers. */
static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax);
#else
	return BPF_CORE_READ(regs, syscallno);
#endif
}

struct sys_args {
	__u64 a[4];
};

static __always_inline void syscall_args(struct pt_regs *regs, struct sys_args *args)
{
#if defined(__TARGET_ARCH_x86)
	args->a[0] = BPF_CORE_READ(regs, di);
	args->a[1] = BPF_CORE_READ(regs, si);
	args->a[2] = BPF_CORE_READ(regs, dx);
	args->a[3] = BPF_CORE_READ(regs, r10);
#else
	/* regs[0] holds the return value by now; orig_x0 the argument. */
	args->a[0] = BPF_CORE_READ(regs, orig_x0);
	args->a[1] = BPF_CORE_READ(regs, regs[1]);
	args->a[2] = BPF_CORE_READ(regs, regs[2]);
	args->a[3] = BPF_CORE_READ(regs, regs[3]);
#endif
}

/*
 * compat_task reports whether the syscall came from 32-bit code, whose
 * syscall numbers mean other calls: those are left alone, as the syscall
 * tracepoints leave them.
 */
static __always_inline int compat_task(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (!bpf_core_field_exists(task->thread_info.status))
		return 0;
	return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT;
#else
	return BPF_CORE_READ(regs, pstate) & PSR_MODE32_BIT;
#endif
}

/*
 * dispatch hands a finished syscall (its number nr, arguments args, return
 * value ret) to the entry point of its shape when it is one of the hooked
 * calls, and drops it otherwise. whole_mmsg is a compile-time constant: 0
 * for the sock hooks, which hand each message of an mmsg call to
 * capture_mmsg_one themselves, so that their programs do not call
 * capture_mmsg at all. The verifier adds up stack frames along every call
 * the program's code contains, reachable or not, and capture_mmsg's frame
 * is the largest of the entry points.
 */
static __always_inline int dispatch(long nr, const struct sys_args *args, __s64 ret,
				    const int whole_mmsg)
{
	__u8 sys, dir;
	int shape;

	switch (nr) {
	case NR_WRITE: sys = SYS_WRITE; dir = DIR_EGRESS; shape = SHAPE_BUF; break;
	case NR_WRITEV: sys = SYS_WRITEV; dir = DIR_EGRESS; shape = SHAPE_IOV; break;
	case NR_SENDTO: sys = SYS_SENDTO; dir = DIR_EGRESS; shape = SHAPE_BUF; break;
	case NR_SENDMSG: sys = SYS_SENDMSG; dir = DIR_EGRESS; shape = SHAPE_MSG; break;
	case NR_SENDMMSG: sys = SYS_SENDMMSG; dir = DIR_EGRESS; shape = SHAPE_MMSG; break;
	case NR_READ: sys = SYS_READ; dir = DIR_INGRESS; shape = SHAPE_BUF; break;
	case NR_READV: sys = SYS_READV; dir = DIR_INGRESS; shape = SHAPE_IOV; break;
	case NR_RECVFROM: sys = SYS_RECVFROM; dir = DIR_INGRESS; shape = SHAPE_BUF; break;
	case NR_RECVMSG: sys = SYS_RECVMSG; dir = DIR_INGRESS; shape = SHAPE_MSG; break;
	case NR_RECVMMSG: sys = SYS_RECVMMSG; dir = DIR_INGRESS; shape = SHAPE_MMSG; break;
	default:
		return 0;
	}
	/* The receive calls' flags, as on_enter_recv checks them. */
	if ((sys == SYS_RECVFROM && (args->a[3] & (MSG_PEEK | MSG_TRUNC))) ||
	    ((sys == SYS_RECVMSG || sys == SYS_RECVMMSG) &&
	     ((sys == SYS_RECVMSG ? args->a[2] : args->a[3]) & (MSG_PEEK | MSG_TRUNC))))
		return 0;

	__u32 meta = META(sys, dir);

	if (shape == SHAPE_BUF)
		return capture_buf(args->a[0], args->a[1], args->a[2], ret, meta);
	if (shape == SHAPE_IOV)
		return capture_iov(args->a[0], args->a[1], args->a[2], ret, meta);
	if (shape == SHAPE_MSG)
		return capture_msg(args->a[0], args->a[1], args->a[2], ret, meta);
	if (!whole_mmsg)
		return 0;
	return capture_mmsg(args->a[0], args->a[1], args->a[2], ret, meta);
}

/* Whether nr is one of the hooked calls: the cheap test before the rest. */
static __always_inline int hooked(long nr)
{
	switch (nr) {
	case NR_WRITE: case NR_WRITEV: case NR_SENDTO: case NR_SENDMSG: case NR_SENDMMSG:
	case NR_READ: case NR_READV: case NR_RECVFROM: case NR_RECVMSG: case NR_RECVMMSG:
		return 1;
	}
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int pw_sys_exit(struct raw_exit_ctx *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->regs;
	__s64 ret = ctx->ret;
	struct sys_args args;
	long nr;

	/* Most syscalls stop at the first test or the second. */
	if (ret <= 0)
		return 0;
	nr = syscall_nr(regs);
	if (!hooked(nr) || is_self() || compat_task(regs))
		return 0;
	syscall_args(regs, &args);
	return dispatch(nr, &args, ret, 1);
}

/*
 * The btf hook: the same tracepoint as a BTF-typed one (tp_btf). Its
 * context is the same two arguments, but the verifier knows regs is a
 * struct pt_regs, so the registers are plain loads instead of
 * bpf_probe_read_kernel calls, and so is the compat test through
 * bpf_get_current_task_btf (Linux 5.11+). Everything after is shared.
 */
SEC("tp_btf/sys_exit")
int pw_btf_sys_exit(__u64 *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx[0];
	__s64 ret = (__s64)ctx[1];
	struct sys_args args;
	long nr;

	if (ret <= 0)
		return 0;
#if defined(__TARGET_ARCH_x86)
	nr = regs->orig_ax;
#else
	nr = regs->syscallno;
#endif
	if (!hooked(nr) || is_self())
		return 0;
#if defined(__TARGET_ARCH_x86)
	if (bpf_core_field_exists(struct thread_info, status) &&
	    (bpf_get_current_task_btf()->thread_info.status & TS_COMPAT))
		return 0;
	args.a[0] = regs->di;
	args.a[1] = regs->si;
	args.a[2] = regs->dx;
	args.a[3] = regs->r10;
#else
	if (regs->pstate & PSR_MODE32_BIT)
		return 0;
	args.a[0] = regs->orig_x0;
	args.a[1] = regs->regs[1];
	args.a[2] = regs->regs[2];
	args.a[3] = regs->regs[3];
#endif
	return dispatch(nr, &args, ret, 1);
}

/*
 * The sock hook set: the tracepoints sock/sock_send_length and
 * sock/sock_recv_length (Linux 6.3+), BTF-typed. They fire in
 * sock_sendmsg_nosec and sock_recvmsg_nosec once the protocol has moved the
 * bytes, once per socket call: only for socket I/O, not at the exit of
 * every syscall of every process, and with the socket at hand, so the
 * descriptor is not resolved through the file table to find it. Which
 * syscall made the call, and its arguments, come from the registers the
 * task saved on entry (bpf_task_pt_regs, 5.15+). Socket calls the kernel
 * makes for other syscalls (sendfile, splice, io_uring) or for its own
 * sockets are left alone, as the syscall hooks leave them; judge_chunk
 * checks that the socket is the descriptor's before it copies anything.
 *
 * sendmmsg and recvmmsg make one socket call per message, so the hook keeps
 * a cursor per thread (pw_mmsg) to know which message of the array it is
 * at; see mmsg_index.
 */

/*
 * mmsg_index returns the index in the mmsghdr array vec (of vlen entries)
 * of the message whose socket call just returned ret, and moves the
 * thread's cursor past it. A call's messages fire in order, so the cursor
 * starts at 0 and is dropped when the array is done, when a message fails
 * (which ends the call), or when another array or syscall shows up. Left
 * behind, it would misplace the first message of the next call on the
 * same array: only after a call that stopped early without an error (a
 * partial send, recvmmsg's timeout), on a thread that then reuses the
 * array at once. TCP programs all but never use either call.
 */
static __always_inline __u32 mmsg_index(__u64 id, __u64 vec, __u64 vlen, long nr, __s64 ret)
{
	struct mmsg_cursor *c = bpf_map_lookup_elem(&pw_mmsg, &id);
	__u32 i = 0;

	if (c && c->vec == vec && c->nr == nr && c->next < vlen)
		i = c->next;
	if (ret <= 0 || i + 1 >= vlen) {
		if (c)
			bpf_map_delete_elem(&pw_mmsg, &id);
	} else {
		struct mmsg_cursor n = {.vec = vec, .next = i + 1, .nr = nr};

		update_or_count(&pw_mmsg, &id, &n, ERR_MMSG_CURSOR);
	}
	return i;
}

/*
 * on_sock is the work of both sock hooks: sk is the socket, ret what the
 * call returned, flags the receive flags, dir the hook's direction.
 */
static __always_inline int on_sock(struct sock *sk, __s64 ret, __u64 flags, __u8 dir)
{
	struct task_struct *task;
	struct sk_note *note;
	struct pt_regs *regs;
	struct sys_args args;
	struct scratch *s;
	__u64 cookie, *skip;
	__u16 family;
	__u32 cpu, slot;
	long nr;

	family = sk->__sk_common.skc_family;
	if ((family != AF_INET && family != AF_INET6) || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	/* Responses only, or a loopback sender whose receiver captures:
	 * nothing to do here (see pw_skip). */
	cookie = bpf_get_socket_cookie(sk);
	slot = cookie % SKIP_SLOTS;
	skip = bpf_map_lookup_elem(&pw_skip, &slot);
	if (skip) {
		/* One load: the tag and the bits must be of one word. */
		__u64 word = *(volatile __u64 *)skip;

		if (word >> 2 == cookie && (word & (1u << dir)))
			return 0;
	}
	note = bpf_sk_storage_get(&pw_sk, sk, 0, 0);
	if (note && ((note->responses | note->quiet) & (1u << dir))) {
		if (skip)
			*skip = cookie << 2 | ((note->responses | note->quiet) & 3);
		return 0;
	}
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
#if defined(__TARGET_ARCH_x86)
	nr = regs->orig_ax;
	args.a[0] = regs->di;
	args.a[1] = regs->si;
	args.a[2] = regs->dx;
	args.a[3] = regs->r10;
#else
	nr = regs->syscallno;
	args.a[0] = regs->orig_x0;
	args.a[1] = regs->regs[1];
	args.a[2] = regs->regs[2];
	args.a[3] = regs->regs[3];
#endif
	if (nr == NR_SENDMMSG || nr == NR_RECVMMSG) {
		if (ret <= 0) {
			/* The call ends here: forget its cursor. */
			mmsg_index(bpf_get_current_pid_tgid(), args.a[1], args.a[2], nr, ret);
			return 0;
		}
	} else if (ret <= 0) {
		return 0;
	}
	if (!hooked(nr) || is_self())
		return 0;
	/* A receive inside a send syscall, or the other way round, is a
	 * socket the kernel drives for that syscall, not the syscall's own. */
	if ((nr == NR_WRITE || nr == NR_WRITEV || nr == NR_SENDTO || nr == NR_SENDMSG ||
	     nr == NR_SENDMMSG) != (dir == DIR_EGRESS))
		return 0;
	if (dir == DIR_INGRESS && (flags & (MSG_PEEK | MSG_TRUNC)))
		return 0;
#if defined(__TARGET_ARCH_x86)
	if (bpf_core_field_exists(struct thread_info, status) &&
	    (task->thread_info.status & TS_COMPAT))
		return 0;
#else
	if (regs->pstate & PSR_MODE32_BIT)
		return 0;
#endif

	/* Tell the shared code the socket and what the note on it says, so
	 * that it need not look them up. */
	cpu = bpf_get_smp_processor_id();
	s = bpf_map_lookup_elem(&pw_scratch, &cpu);
	if (!s)
		return 0;
	s->w.hint.sk = (__u64)sk;
	s->w.hint.ino = sk->sk_socket->file->f_inode->i_ino;
	s->w.hint.family = family;
	s->w.hint_file = (__u64)sk->sk_socket->file;
	if (note) {
		s->w.no_state = !(note->heads & (1u << dir));
		s->w.owner_tgid = note->owner_tgid;
		s->w.peer_tgid = note->peer_tgid;
		__builtin_memcpy(s->w.peer_comm, note->peer_comm, 16);
	} else {
		s->w.no_state = 1;
		s->w.owner_tgid = 0;
		s->w.peer_tgid = 0;
	}
	s->w.heads_set = 0;
	s->w.heads_gone = 0;
	s->w.owner_set = 0;
	s->w.peer_set = 0;
	s->w.responses = 0;
	s->w.quiet = 0;

	if (nr == NR_SENDMMSG || nr == NR_RECVMMSG) {
		__u32 i = mmsg_index(bpf_get_current_pid_tgid(), args.a[1], args.a[2], nr, ret);

		capture_mmsg_one(args.a[0], args.a[1], i, ret,
				 META(nr == NR_SENDMMSG ? SYS_SENDMMSG : SYS_RECVMMSG, dir));
	} else {
		dispatch(nr, &args, ret, 0);
	}

	/* Keep what the shared code learnt in the note. */
	if (!(s->w.heads_set | s->w.heads_gone | s->w.owner_set | s->w.peer_set | s->w.responses |
	      s->w.quiet))
		return 0;
	if (!note)
		note = bpf_sk_storage_get(&pw_sk, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!note) {
		count_error(ERR_NOTE);
		return 0;
	}
	note->heads = (note->heads & ~s->w.heads_gone) | s->w.heads_set;
	if (s->w.responses)
		note->responses |= 1u << dir;
	if (s->w.quiet)
		note->quiet |= 1u << dir;
	if ((s->w.responses | s->w.quiet) && skip)
		*skip = cookie << 2 | ((note->responses | note->quiet) & 3);
	if (s->w.owner_set)
		note->owner_tgid = s->w.owner_set;
	if (s->w.peer_set) {
		note->peer_tgid = s->w.peer_set;
		__builtin_memcpy(note->peer_comm, s->w.peer_comm, 16);
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int pw_sock_send(__u64 *ctx)
{
	/* (struct sock *sk, int ret, int flags); flags is always 0 here. */
	return on_sock((struct sock *)ctx[0], (__s32)ctx[1], 0, DIR_EGRESS);
}

SEC("tp_btf/sock_recv_length")
int pw_sock_recv(__u64 *ctx)
{
	return on_sock((struct sock *)ctx[0], (__s32)ctx[1], (__u32)ctx[2], DIR_INGRESS);
}

/* TLS: uprobes on the TLS libraries, and the process notices. */
#include "tls_probes.h"
