/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kernel.h: the few kernel and UAPI types the capture program touches,
 * kept by hand instead of a 3 MB generated vmlinux.h.
 *
 * Kernel-internal structs carry __attribute__((preserve_access_index)): clang
 * records every field access as a CO-RE relocation, and the loader
 * (cilium/ebpf) rewrites the offsets against the running kernel's BTF
 * (/sys/kernel/btf/vmlinux). So these declarations only need the right
 * field NAMES and compatible types; order, offsets and the fields left out do
 * not matter, and one object runs on every kernel that has the named fields.
 *
 * Where the names come from (all present from Linux 5.8 to 6.18 at least;
 * checked with `bpftool btf dump file /sys/kernel/btf/vmlinux format c` on
 * 6.18 and against the 5.8 sources):
 *   task_struct.files               include/linux/sched.h
 *   files_struct.fdt                include/linux/fdtable.h
 *   fdtable.max_fds, fdtable.fd     include/linux/fdtable.h
 *   file.f_inode, file.private_data include/linux/fs.h
 *   inode.i_mode, inode.i_ino       include/linux/fs.h
 *   socket.type, socket.sk          include/linux/net.h
 *   sock.__sk_common, sock.sk_protocol (a plain u16 since 5.6; a bitfield
 *                                   before, which this program does not read)
 *                                   include/net/sock.h
 *   sock_common.skc_*               include/net/sock.h; skc_daddr,
 *                                   skc_rcv_saddr, skc_dport and skc_num sit in
 *                                   anonymous unions there, which CO-RE
 *                                   resolves by name
 *   net.ns, ns_common.inum          include/net/net_namespace.h,
 *                                   include/linux/ns_common.h
 *   pt_regs (x86: di, si, dx, r10, orig_ax; arm64: regs, pstate, orig_x0,
 *   syscallno)                      arch/<arch>/include/asm/ptrace.h; the
 *                                   syscall ABI's registers, stable for as
 *                                   long as the ABI is
 *   thread_info.status (x86)        arch/x86/include/asm/thread_info.h
 *
 * The user-space structs (iovec, msghdr, mmsghdr) are not relocated: they
 * are the 64-bit syscall ABI (include/uapi/linux/uio.h, include/linux/socket.h)
 * and never change. 32-bit (compat) syscalls do not fire the native syscall
 * tracepoints, so only the 64-bit layout is needed.
 */
#ifndef PROPWATCH_KERNEL_H
#define PROPWATCH_KERNEL_H

/* Fixed-width types, as in include/uapi/asm-generic/int-ll64.h. */
typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;

/* Big-endian and checksum types used by libbpf's helper prototypes. */
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;

/* Map types and update flags (include/uapi/linux/bpf.h), stable UAPI values. */
enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_SK_STORAGE = 24,
	BPF_MAP_TYPE_RINGBUF = 27,
};

/* Map flags: socket storage must be allocated on demand. */
enum {
	BPF_F_NO_PREALLOC = 1,
};

/* Flags of bpf_sk_storage_get. */
enum {
	BPF_SK_STORAGE_GET_F_CREATE = 1,
};

/* Flags of bpf_map_update_elem. */
enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

/* bpf_ringbuf_output flags (include/uapi/linux/bpf.h). */
enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

/* Socket address families (include/linux/socket.h). */
#define AF_INET 2
#define AF_INET6 10
/* Socket type of a TCP socket (include/linux/net.h). */
#define SOCK_STREAM 1
/* IP protocol number of TCP (include/uapi/linux/in.h). */
#define IPPROTO_TCP 6
/* recv flags: MSG_PEEK leaves the data to be read again, MSG_TRUNC on TCP
 * discards it without filling the buffer (include/linux/socket.h). */
#define MSG_PEEK 0x2
#define MSG_TRUNC 0x20
/* File type bits of inode.i_mode and the socket type (include/uapi/linux/stat.h). */
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/*
 * The layout of these CO-RE mirrors is never used (offsets come from the
 * kernel's BTF), so the padding warning that guards struct event is off here.
 */
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wpadded"

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

#if defined(__TARGET_ARCH_x86)
struct thread_info {
	__u32 status;
} __attribute__((preserve_access_index));

/* thread_info.status: the task is in a 32-bit (ia32) syscall. */
#define TS_COMPAT 0x0002
#endif

struct task_struct {
#if defined(__TARGET_ARCH_x86)
	struct thread_info thread_info;
#endif
	struct files_struct *files;
} __attribute__((preserve_access_index));

/*
 * The registers a syscall was made with, as the kernel saved them on entry.
 * At syscall exit they still hold the arguments (the return value goes to
 * ax, or to regs[0] on arm64, whose first argument is kept in orig_x0), and
 * the syscall number is in orig_ax / syscallno.
 *
 * A uprobe sees the user registers at the probed instruction: the C
 * arguments (di, si, dx, cx; regs[0..3]), the return value at a uretprobe
 * (ax; regs[0]), and Go's register ABI (tls.h).
 */
#if defined(__TARGET_ARCH_x86)
struct pt_regs {
	unsigned long r14;
	unsigned long bx;
	unsigned long ax;
	unsigned long cx;
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long r10;
	unsigned long orig_ax;
} __attribute__((preserve_access_index));
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs {
	__u64 regs[31];
	__u64 pstate;
	__u64 orig_x0;
	__s32 syscallno;
} __attribute__((preserve_access_index));

/* pt_regs.pstate: the task runs AArch32 code (a compat task). */
#define PSR_MODE32_BIT 0x10
#endif

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	void *private_data;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr {
	__u8 u6_addr8[16];
} __attribute__((preserve_access_index));

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	possible_net_t skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct socket;

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
	struct socket *sk_socket;
} __attribute__((preserve_access_index));

struct socket {
	short type;
	struct sock *sk;
	struct file *file;
} __attribute__((preserve_access_index));

#pragma clang diagnostic pop

/* struct iovec of the 64-bit syscall ABI. */
struct pw_iovec {
	__u64 base;
	__u64 len;
};

/* struct user_msghdr of the 64-bit syscall ABI, padding spelled out. */
struct pw_msghdr {
	__u64 name;
	__s32 namelen;
	__u32 _pad0;
	__u64 iov;
	__u64 iovlen;
	__u64 control;
	__u64 controllen;
	__u32 flags;
	__u32 _pad1;
};

/* struct mmsghdr of the 64-bit syscall ABI: msg_len is what the call moved. */
struct pw_mmsghdr {
	struct pw_msghdr hdr;
	__u32 msg_len;
	__u32 _pad;
};

#endif /* PROPWATCH_KERNEL_H */
