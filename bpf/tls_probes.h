/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tls_probes.h: the TLS capture's programs (tls.h says how it works): the
 * uprobes on OpenSSL's functions and on Go's crypto/tls.(*Conn).Write and
 * Read, and the exec and exit notices internal/tlswatch follows processes
 * by. Included once, at the end of headers.c, whose object holds every
 * program.
 */
#ifndef PROPWATCH_TLS_PROBES_H
#define PROPWATCH_TLS_PROBES_H

#include "kernel.h"
#include "capture.h"
#include "counters.h"
#include "event.h"
#include "maps.h"
#include "state.h"
#include "tls.h"
#include <bpf/bpf_helpers.h>

/*
 * TLS: uprobes on the TLS libraries (tls.h). internal/tlswatch attaches
 * them to the functions of each library or executable found; nothing here
 * runs until it does.
 */

/* tls_begin: the entry of an OpenSSL read or write on ssl. */
static __always_inline int tls_begin(__u64 ssl, __u64 buf, __u64 len, __u64 outlen, __u32 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct tls_call c = {.ssl = ssl, .buf = buf, .len = len, .outlen = outlen,
			     .state = TLS_IN_CALL, .dir = dir};

	if ((__u32)(id >> 32) == self_tgid)
		return 0;
	if (bpf_map_update_elem(&pw_tls_calls, &id, &c, BPF_ANY))
		count_error(ERR_TLS_CALL);
	return 0;
}

/*
 * tls_await keeps a call on an SSL* not tied yet for the caller's own next
 * socket write (tls_window), which ties it: with the plaintext of a write
 * (n bytes at buf) to put in place of that write's ciphertext, or none
 * (n 0: any call that returned, so that the handshake's first write ties
 * the SSL* before a request is written: Node.js frees the plaintext it
 * held back during the handshake once SSL_write has taken it). The first
 * write waiting stays: a request's head is written before its body.
 */
static __always_inline int tls_await(__u64 id, __u64 ssl, __u64 buf, __u64 n)
{
	struct tls_call a = {.ssl = ssl, .buf = buf, .len = n, .state = TLS_AWAIT,
			     .dir = DIR_EGRESS};
	struct tls_call *old = bpf_map_lookup_elem(&pw_tls_awaits, &id);

	a.t_ns = bpf_ktime_get_ns();
	if (old && old->ssl == ssl && a.t_ns - old->t_ns <= TLS_AWAIT_NS && (old->len || !n))
		return 0;
	if (bpf_map_update_elem(&pw_tls_awaits, &id, &a, BPF_ANY))
		count_error(ERR_TLS_CALL);
	return 0;
}

/*
 * tls_return: the return of the OpenSSL call in progress on this thread,
 * which returned ret. SSL_write and SSL_read return the bytes moved; the
 * _ex functions return 1 and write the count to *outlen. The plaintext
 * goes to the pipeline on the SSL*'s socket; a write not tied yet waits
 * for the caller's own socket write (TLS_AWAIT).
 */
static __always_inline int tls_return(__s64 ret)
{
	__u64 id = bpf_get_current_pid_tgid(), n = 0, fd, buf, ssl;
	struct tls_call *c = bpf_map_lookup_elem(&pw_tls_calls, &id);
	__u32 dir;

	if (!c || c->state != TLS_IN_CALL)
		return 0;
	if (c->outlen) {
		if (ret == 1 && bpf_probe_read_user(&n, sizeof(n), (const void *)c->outlen))
			count_error(ERR_TLS_READ);
		if (ret != 1)
			n = 0;
	} else if ((__s32)ret > 0) {
		n = (__u32)ret;
	}
	ssl = c->ssl;
	buf = c->buf;
	dir = c->dir;
	bpf_map_delete_elem(&pw_tls_calls, &id);
	if (!ssl_fd(ssl, &fd)) {
		if (dir == DIR_EGRESS)
			return tls_await(id, ssl, buf, n);
		if (n)
			count_lost(LOST_TLS_UNTIED);
		return tls_await(id, ssl, 0, 0);
	}
	if (!n)
		return 0;
	return capture_tls(fd, buf, n, 0,
			   META(dir == DIR_EGRESS ? SYS_TLS_WRITE : SYS_TLS_READ, dir));
}

/* int SSL_set_fd(SSL *ssl, int fd), and SSL_set_rfd, SSL_set_wfd. */
SEC("uprobe")
int pw_ssl_set_fd(struct pt_regs *ctx)
{
	struct ssl_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = C_ARG1(ctx)};
	__u64 fd = (__u32)C_ARG2(ctx);

	if (k.tgid == self_tgid)
		return 0;
	update_or_count(&pw_ssl_fds, &k, &fd, ERR_TLS_TIE);
	return 0;
}

/* void SSL_free(SSL *ssl) */
SEC("uprobe")
int pw_ssl_free(struct pt_regs *ctx)
{
	struct ssl_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = C_ARG1(ctx)};

	bpf_map_delete_elem(&pw_ssl_fds, &k);
	return 0;
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int pw_ssl_write(struct pt_regs *ctx)
{
	return tls_begin(C_ARG1(ctx), C_ARG2(ctx), (__u32)C_ARG3(ctx), 0, DIR_EGRESS);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int pw_ssl_write_ex(struct pt_regs *ctx)
{
	return tls_begin(C_ARG1(ctx), C_ARG2(ctx), C_ARG3(ctx), C_ARG4(ctx), DIR_EGRESS);
}

/* The return of SSL_write and SSL_write_ex. */
SEC("uretprobe")
int pw_ssl_write_ret(struct pt_regs *ctx)
{
	return tls_return(C_RET(ctx));
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int pw_ssl_read(struct pt_regs *ctx)
{
	return tls_begin(C_ARG1(ctx), C_ARG2(ctx), (__u32)C_ARG3(ctx), 0, DIR_INGRESS);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int pw_ssl_read_ex(struct pt_regs *ctx)
{
	return tls_begin(C_ARG1(ctx), C_ARG2(ctx), C_ARG3(ctx), C_ARG4(ctx), DIR_INGRESS);
}

/* The return of SSL_read and SSL_read_ex. */
SEC("uretprobe")
int pw_ssl_read_ret(struct pt_regs *ctx)
{
	return tls_return(C_RET(ctx));
}

/* func (c *tls.Conn) Write(b []byte) (int, error), at entry: Write
 * returns only once all of b is written, or on an error. */
SEC("uprobe")
int pw_go_tls_write(struct pt_regs *ctx)
{
	__u64 fd;

	if (is_self())
		return 0;
	if (!go_conn_fd(GO_ARG1(ctx), &fd)) {
		count_error(ERR_TLS_READ);
		return 0;
	}
	return capture_tls(fd, GO_ARG2(ctx), GO_ARG3(ctx), 0, META(SYS_TLS_WRITE, DIR_EGRESS));
}

/* func (c *tls.Conn) Read(b []byte) (int, error), at entry. */
SEC("uprobe")
int pw_go_tls_read(struct pt_regs *ctx)
{
	struct go_read_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .g = GO_G(ctx)};
	struct go_read r = {.buf = GO_ARG2(ctx)};

	if (k.tgid == self_tgid)
		return 0;
	if (!go_conn_fd(GO_ARG1(ctx), &r.fd)) {
		count_error(ERR_TLS_READ);
		return 0;
	}
	update_or_count(&pw_go_reads, &k, &r, ERR_GO_READ);
	return 0;
}

/* (*tls.Conn).Read at one of its RET instructions: n in the first result
 * register, the goroutine the one that entered. */
SEC("uprobe")
int pw_go_tls_read_ret(struct pt_regs *ctx)
{
	struct go_read_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .g = GO_G(ctx)};
	__s64 n = GO_RET1(ctx);
	struct go_read *r = bpf_map_lookup_elem(&pw_go_reads, &k);
	__u64 buf, fd;

	if (!r)
		return 0;
	buf = r->buf;
	fd = r->fd;
	bpf_map_delete_elem(&pw_go_reads, &k);
	if (n <= 0)
		return 0;
	return capture_tls(fd, buf, n, 0, META(SYS_TLS_READ, DIR_INGRESS));
}

/* proc_note tells Go that this process exec'd (exec 1) or exited. */
static __always_inline int proc_note(__u32 exec)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct proc_event *e;

	if (!exec && (__u32)id != id >> 32)
		return 0; /* a thread, not the process */
	e = bpf_ringbuf_reserve(&pw_procs, sizeof(*e), 0);
	if (!e) {
		count_error(ERR_PROC);
		return 0;
	}
	e->tgid = id >> 32;
	e->exec = exec;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int pw_proc_exec(void *ctx)
{
	return proc_note(1);
}

SEC("raw_tracepoint/sched_process_exit")
int pw_proc_exit(void *ctx)
{
	return proc_note(0);
}

#endif /* PROPWATCH_TLS_PROBES_H */
