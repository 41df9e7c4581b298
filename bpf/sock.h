/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sock.h: from a file descriptor of the current task to its TCP socket, and
 * from the socket to the addresses an event reports. Every kernel read goes
 * through BPF_CORE_READ, so field offsets come from the running kernel.
 */
#ifndef PROPWATCH_SOCK_H
#define PROPWATCH_SOCK_H

#include "kernel.h"
#include "event.h"
#include "state.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/*
 * file_of_fd returns the struct file that fd names in the current task's
 * file table (task->files->fdt->fd[fd], bounds-checked against max_fds),
 * or 0.
 */
static __always_inline __u64 file_of_fd(__u64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = 0;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return 0;
	return (__u64)file;
}

/*
 * tcp_sock_of_fd resolves fd with file_of_fd and keeps it only when it is
 * a TCP stream socket over IPv4 or IPv6. On success it fills si and returns
 * 1; any other file returns 0.
 *
 * This costs a dozen kernel reads, so the pipeline (pipeline.h) calls it only for chunks
 * that matter (a request start, or a stream with state), never for the
 * responses, bodies, files and pipes that make up most syscalls.
 */
static __always_inline int tcp_sock_of_fd(__u64 fd, struct sock_info *si)
{
	struct file *file = (struct file *)file_of_fd(fd);
	struct inode *inode;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (!file)
		return 0;
	inode = BPF_CORE_READ(file, f_inode);
	if (!inode || (BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK)
		return 0;
	/* For a socket file, private_data is its struct socket. */
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;

	si->sk = (__u64)sk;
	si->ino = BPF_CORE_READ(inode, i_ino);
	si->family = family;
	return 1;
}

/* Write an IPv4 address as ::ffff:a.b.c.d. */
static __always_inline void v4_mapped(__u8 dst[16], __be32 addr)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	__builtin_memcpy(dst + 12, &addr, 4);
}

/* Fill k with the connection end of the socket si->sk. */
static __always_inline void conn_fill(struct conn_key *k, const struct sock_info *si)
{
	struct sock *sk = (struct sock *)si->sk;

	k->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	k->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	k->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	if (si->family == AF_INET6) {
		BPF_CORE_READ_INTO(&k->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&k->raddr, sk, __sk_common.skc_v6_daddr);
	} else {
		v4_mapped(k->laddr, BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr));
		v4_mapped(k->raddr, BPF_CORE_READ(sk, __sk_common.skc_daddr));
	}
}

/*
 * is_loopback reports whether a 16-byte address (struct event form) is a
 * loopback address: ::1 or ::ffff:127.0.0.0/104. A connection to one never
 * leaves the host, nor its network namespace.
 */
static __always_inline int is_loopback(const __u8 a[16])
{
	__u64 hi, lo;

	__builtin_memcpy(&hi, a, 8);
	__builtin_memcpy(&lo, a + 8, 8);
	if (hi)
		return 0;
	/* Little-endian words: ::1 has its one set byte last. */
	if (lo == 1ULL << 56)
		return 1;
	return (__u32)lo == 0xffff0000 && (__u8)(lo >> 32) == 127;
}

#endif /* PROPWATCH_SOCK_H */
