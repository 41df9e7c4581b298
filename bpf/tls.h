/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * tls.h: plaintext read where a program hands it to its TLS library, so
 * that connections that are ciphertext on the socket are judged too. The
 * uprobe programs (headers.c) go on OpenSSL's SSL_write, SSL_write_ex,
 * SSL_read and SSL_read_ex, in libssl or in an executable that links
 * OpenSSL in (node), and on Go's crypto/tls.(*Conn).Write and Read
 * (tls_probes.h);
 * internal/tlswatch decides where. The plaintext then goes through the
 * same pipeline as socket bytes (capture_tls, capture.h), on a stream of
 * its own (head_key.tls), and its events say tls.
 *
 * The connection a plaintext belongs to is its socket, and OpenSSL's
 * functions see only an SSL*. The SSL* is tied to the socket's descriptor
 * (pw_ssl_fds):
 *
 *   - by SSL_set_fd, which servers such as nginx call;
 *   - by the socket call the library makes inside SSL_write or SSL_read, for
 *     programs that give OpenSSL a BIO of their own (curl): the entry probe
 *     leaves the call in pw_tls_calls, and the socket hooks, which see the
 *     call's write or read on the same thread, tie the two (tls_window);
 *   - by the first socket write on the thread right after SSL_write
 *     returns, for programs that move the ciphertext themselves (Node.js
 *     writes it to the socket once SSL_write has filled its memory BIO).
 *
 * Plaintext is read at the function's return (a uretprobe: safe on C
 * stacks), where what was written or read is known, so a call that the
 * caller retries (SSL_ERROR_WANT_WRITE) is not counted twice. A write
 * that returns untied waits for the caller's own socket write, which
 * tls_window then replaces with the plaintext. SSL_free forgets the SSL*,
 * whose address the allocator hands to the next connection.
 *
 * Go's crypto/tls needs no tie: the entry probe of (*Conn).Write and Read
 * follows the Conn to its descriptor (go_conn_fd). Go moves goroutine
 * stacks, so a uretprobe (which rewrites a return address on the stack)
 * would crash the program: the plaintext of Read is read by a uprobe on
 * each of the function's RET instructions, matched to its entry by
 * goroutine.
 *
 * Ciphertext never starts anything the pipeline copies (a TLS record
 * begins with a content type of 20-24 and a version 3.x: no method, no
 * HTTP/2 preface, no Kafka size below 256 MiB), so a request read as
 * plaintext is never counted again as socket bytes. On loopback both ends
 * of a TLS connection emit (quiet_end): the receiving end's library may not
 * be readable, and Go matches the two ends.
 */
#ifndef PROPWATCH_TLS_H
#define PROPWATCH_TLS_H

#include "kernel.h"
#include "counters.h"
#include "event.h"
#include "maps.h"
#include "sock.h"
#include "state.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* 1: the TLS programs are loaded and the socket hooks look for TLS calls
 * in progress (tls_window). Set by Go before loading; at 0 the verifier
 * drops that code from the socket hooks. */
volatile const __u32 tls_on = 0;

/* How long after SSL_write returns its ciphertext may still be written by
 * the caller (TLS_AWAIT): Node.js does it within microseconds. */
#define TLS_AWAIT_NS (5 * 1000 * 1000ULL)

/*
 * Where Go's crypto/tls keeps a connection's descriptor, from the entry of
 * (*Conn).Write or Read: the receiver c is a *tls.Conn, whose first field
 * conn is a net.Conn interface (a type word, then the data word: a
 * *net.TCPConn); net.TCPConn begins with net.conn, whose first field is
 * fd *netFD; netFD begins with pfd poll.FD, which holds fdmu (a 16-byte
 * fdMutex), then Sysfd. These offsets have not moved since Go 1.9; Go
 * checks them against its own runtime (TestGoLayout) and the descriptor
 * they lead to must be a TCP socket of the process before anything is
 * copied (judge_chunk).
 */
enum go_layout {
	GO_TLSCONN_CONN_DATA = 8, /* tls.Conn.conn's data word */
	GO_TCPCONN_FD = 0,        /* net.TCPConn.conn.fd */
	GO_NETFD_SYSFD = 16,      /* netFD.pfd.Sysfd */
};

/*
 * Go's register ABI (ABIInternal): the receiver and arguments of
 * (*Conn).Write(b []byte) and Read(b []byte) in order (c, b.ptr, b.len),
 * the first result (n) in the first register, the current goroutine in a
 * register of its own.
 */
#if defined(__TARGET_ARCH_x86)
#define GO_ARG1(r) ((r)->ax)
#define GO_ARG2(r) ((r)->bx)
#define GO_ARG3(r) ((r)->cx)
#define GO_RET1(r) ((r)->ax)
#define GO_G(r) ((r)->r14)
#define C_ARG1(r) ((r)->di)
#define C_ARG2(r) ((r)->si)
#define C_ARG3(r) ((r)->dx)
#define C_ARG4(r) ((r)->cx)
#define C_RET(r) ((r)->ax)
#else
#define GO_ARG1(r) ((r)->regs[0])
#define GO_ARG2(r) ((r)->regs[1])
#define GO_ARG3(r) ((r)->regs[2])
#define GO_RET1(r) ((r)->regs[0])
#define GO_G(r) ((r)->regs[28])
#define C_ARG1(r) ((r)->regs[0])
#define C_ARG2(r) ((r)->regs[1])
#define C_ARG3(r) ((r)->regs[2])
#define C_ARG4(r) ((r)->regs[3])
#define C_RET(r) ((r)->regs[0])
#endif

/*
 * tls_window is what the socket hooks do for a chunk on a thread that is
 * inside a TLS library call (pw_tls_calls), before anything else: tie the
 * call's SSL* to the chunk's descriptor and drop the chunk (ciphertext: the
 * plaintext is read at the call's return); or, for the first write after
 * an SSL_write that returned untied (TLS_AWAIT), put that write's
 * plaintext in place of the chunk. It returns 1 to go on with the chunk in
 * s->w (maybe replaced), 0 to drop it.
 */
__noinline int tls_window(void)
{
	struct scratch *s = scratch();
	struct tls_call *c;
	struct work *w;

	if (!s)
		return 1;
	w = &s->w;
	if (!bpf_map_lookup_elem(&pw_tls_calls, &w->id) &&
	    (RELOAD(w->dir) != DIR_EGRESS || !bpf_map_lookup_elem(&pw_tls_awaits, &w->id)))
		return 1;
	/* Only a TCP socket is tied: the syscall hooks see every descriptor
	 * (Node.js wakes its loop through an eventfd right after). The sock
	 * hooks name the socket already. */
	if (!RELOAD(w->hint.sk) && !tcp_sock_of_fd(RELOAD(w->fd), &w->si))
		return 1;
	w->tie.tgid = RELOAD(w->key.tgid);
	w->tie._pad = 0;
	w->tie_fd = RELOAD(w->fd);
	c = bpf_map_lookup_elem(&pw_tls_calls, &w->id);
	if (c) {
		/* Ciphertext of the call: the plaintext is read at its return. */
		w->tie.ssl = c->ssl;
		update_or_count(&pw_ssl_fds, &w->tie, &w->tie_fd, ERR_TLS_TIE);
		return 0;
	}
	if (RELOAD(w->dir) != DIR_EGRESS)
		return 1;
	c = bpf_map_lookup_elem(&pw_tls_awaits, &w->id);
	if (!c)
		return 1;
	/* Only the caller's own write of the ciphertext, right away. */
	if (bpf_ktime_get_ns() - c->t_ns > TLS_AWAIT_NS) {
		bpf_map_delete_elem(&pw_tls_awaits, &w->id);
		return 1;
	}
	w->tie.ssl = c->ssl;
	update_or_count(&pw_ssl_fds, &w->tie, &w->tie_fd, ERR_TLS_TIE);
	if (!c->len) {
		/* Tied, nothing to read: the chunk is ciphertext, most
		 * likely the ClientHello, which goes on to tls_hello. */
		bpf_map_delete_elem(&pw_tls_awaits, &w->id);
		return 1;
	}

	/* The write's plaintext instead of its ciphertext, once. */
	w->c.base0 = c->buf;
	w->c.len0 = c->len;
	w->c.total = c->len;
	w->c.iov = 0;
	w->c.niov = 0;
	w->vectored = 0;
	w->no_state = 0;
	w->tls = 1;
	w->key.tls = 1;
	w->sys = SYS_TLS_WRITE;
	bpf_map_delete_elem(&pw_tls_awaits, &w->id);
	return 1;
}

/* TLS record layer: a handshake record (22), version 3.x, and the
 * handshake message's type, ClientHello (1), after the 5-byte header. */
#define TLS_RECORD_HANDSHAKE 0x16
#define TLS_VERSION_MAJOR 0x03
#define TLS_VERSION_MINOR_MAX 0x04
#define TLS_HANDSHAKE_CLIENT_HELLO 0x01
#define TLS_RECORD_HEADER 5
/* The record version of an initial ClientHello: 3.1 (TLS 1.0), which
 * OpenSSL, Go, GnuTLS and BoringSSL send there for compatibility (RFC 8446,
 * 5.1: legacy_record_version); a ServerHello's is 3.3. */
#define TLS_HELLO_RECORD_MINOR 0x01

/*
 * Whether the first n bytes of a chunk (little-endian word) start a TLS
 * ClientHello: the record header and the handshake type; or, when a
 * server reads the record header alone (GnuTLS does), a handshake record
 * of an initial ClientHello's version.
 */
static __always_inline int tls_client_hello(__u64 word, __u64 n)
{
	__u32 minor = (word >> 16) & 0xff;

	if (n < TLS_RECORD_HEADER || (word & 0xff) != TLS_RECORD_HANDSHAKE ||
	    ((word >> 8) & 0xff) != TLS_VERSION_MAJOR)
		return 0;
	if (n == TLS_RECORD_HEADER)
		return minor == TLS_HELLO_RECORD_MINOR;
	return minor <= TLS_VERSION_MINOR_MAX && ((word >> 40) & 0xff) == TLS_HANDSHAKE_CLIENT_HELLO;
}

/*
 * tls_hello makes the chunk in struct work a PROTO_TLS_HELLO event with no
 * data, on its socket, for ship_event: one per TLS connection and end, so
 * that Go can count the connections whose process's TLS it cannot read
 * (the coverage gap tls.not_readable). It returns 0 when the descriptor is
 * not a TCP socket.
 */
__noinline int tls_hello(void)
{
	struct scratch *s = scratch();
	struct work *w;

	if (!s)
		return 0;
	w = &s->w;
	if (RELOAD(w->hint.sk))
		w->si = w->hint;
	else if (!tcp_sock_of_fd(RELOAD(w->fd), &w->si))
		return 0;
	w->proto = PROTO_TLS_HELLO;
	w->api_key = -1;
	w->api_version = -1;
	w->ship = 0;
	w->ev_len = RELOAD(w->c.total);
	w->ev_start = 1;
	w->split_n = 0;
	return 1;
}

/* ssl_fd looks up the descriptor an SSL* of this process is tied to. */
static __always_inline int ssl_fd(__u64 ssl, __u64 *fd)
{
	struct ssl_key k = {.tgid = bpf_get_current_pid_tgid() >> 32, .ssl = ssl};
	__u64 *v = bpf_map_lookup_elem(&pw_ssl_fds, &k);

	if (!v)
		return 0;
	*fd = *v;
	return 1;
}

/*
 * go_conn_fd follows a *tls.Conn to its descriptor (enum go_layout), or
 * returns 0 when a read fails (not a TCP connection underneath).
 */
static __always_inline int go_conn_fd(__u64 conn, __u64 *fd)
{
	__u64 p = 0;
	__s64 sysfd = -1;

	if (bpf_probe_read_user(&p, sizeof(p), (const void *)(conn + GO_TLSCONN_CONN_DATA)) || !p)
		return 0;
	if (bpf_probe_read_user(&p, sizeof(p), (const void *)(p + GO_TCPCONN_FD)) || !p)
		return 0;
	if (bpf_probe_read_user(&sysfd, sizeof(sysfd), (const void *)(p + GO_NETFD_SYSFD)))
		return 0;
	if (sysfd < 0)
		return 0;
	*fd = sysfd;
	return 1;
}

#endif /* PROPWATCH_TLS_H */
