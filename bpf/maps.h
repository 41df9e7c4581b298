/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * maps.h: every map of the capture program and its size; the types stored
 * in them are in state.h and work.h. Nothing is pinned: the maps live
 * exactly as long as the Go loader holds them.
 */
#ifndef PROPWATCH_MAPS_H
#define PROPWATCH_MAPS_H

#include "kernel.h"
#include "event.h"
#include "state.h"
#include "work.h"
#include <bpf/bpf_helpers.h>

/* Default ring buffer size; Go overrides it from Config.RingBufferBytes. */
#define RINGBUF_DEFAULT_BYTES (8 << 20)
/* Threads that can be inside a hooked syscall on a TCP socket at once. */
#define ARGS_MAX_ENTRIES 16384
/* Connections (times two directions) with a request head open at once. */
#define HEADS_MAX_ENTRIES 65536

/* Kafka requests awaiting their response, all connections together. */
#define KREQS_MAX_ENTRIES 16384

/* Connections whose sending process is remembered for the receiver. */
#define OWNERS_MAX_ENTRIES 65536

/* Threads inside a TLS library call at once (tls.h). */
#define TLS_CALLS_MAX_ENTRIES 16384
/* SSL* tied to their sockets, all processes together. */
#define SSL_FDS_MAX_ENTRIES 65536
/* Goroutines inside crypto/tls Read at once, all Go processes together. */
#define GO_READS_MAX_ENTRIES 16384
/* The exec and exit notices' ring buffer: 16-byte records, read at once. */
#define PROCS_RINGBUF_BYTES (256 << 10)

/* Per-thread syscall arguments, keyed by bpf_get_current_pid_tgid(). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ARGS_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct call_args);
} pw_args SEC(".maps");

/*
 * Open request heads per stream. LRU so that heads of connections that went
 * away without finishing are evicted rather than filling the map. Go deletes
 * entries through Loader.HeadDone.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, HEADS_MAX_ENTRIES);
	__type(key, struct head_key);
	__type(value, struct head_state);
} pw_heads SEC(".maps");

/*
 * Fetch and Metadata requests seen, so that their responses, which carry
 * only a size and the correlation id, can be told from any other bytes and
 * decoded knowing what they answer. LRU: requests whose response never
 * came age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KREQS_MAX_ENTRIES);
	__type(key, struct kreq_key);
	__type(value, struct kreq);
} pw_kreqs SEC(".maps");

/* The sock hooks' note on each TCP socket (struct sk_note, state.h):
 * socket storage lives and dies with its socket, so it needs no size and
 * no eviction. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sk_note);
} pw_sk SEC(".maps");

/*
 * pw_skip: the directions the sock hooks skip (a note's responses and
 * quiet bits), for the sockets seen last, in a direct-mapped table indexed
 * by the socket cookie: slot cookie % SKIP_SLOTS holds cookie << 2 | bits,
 * bit 1 << dir per direction. Most socket calls of HTTP traffic end here.
 * The socket's note says the same, but finding it costs three dependent
 * loads of lines no one else touches (~100ns here, on every call); the
 * table is small enough to stay in cache and its lookup is inlined. A
 * cookie is never reused, so a slot cannot speak for another socket, and
 * one 8-byte word is written and read whole, so two CPUs that fill a slot
 * at once leave one socket's word, never a mix. A socket that lost its slot
 * is found in its note, which fills the slot again.
 */
#define SKIP_SLOTS 4096

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SKIP_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} pw_skip SEC(".maps");

/*
 * Where the sock hooks are in a thread's sendmmsg or recvmmsg call: the
 * array, the index of its next message, the syscall number. Keyed by
 * bpf_get_current_pid_tgid(); see mmsg_index in headers.c.
 */
#define MMSG_MAX_ENTRIES 4096

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MMSG_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct mmsg_cursor);
} pw_mmsg SEC(".maps");

/*
 * Which process sent on the client end of a loopback connection: the
 * sending end of a loopback request emits nothing (loopback.h), so the
 * receiving end's event names the sender from here, and Go looks here for
 * ends it has not seen. LRU: ends of closed connections age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, OWNERS_MAX_ENTRIES);
	__type(key, struct conn_key);
	__type(value, struct owner);
} pw_owners SEC(".maps");

/* This CPU's working state and event (work.h). Go sets max_entries to the
 * number of possible CPUs; the programs index it by the running CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} pw_scratch SEC(".maps");

/* This CPU's working state and event. */
static __always_inline struct scratch *scratch(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&pw_scratch, &cpu);
}

/* Events lost, per enum lost_reason and CPU. Go sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOST_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} pw_lost SEC(".maps");

/* Map updates and reads that failed, per enum error_site and CPU
 * (counters.h). Go sums the CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ERROR_SITES);
	__type(key, __u32);
	__type(value, __u64);
} pw_errors SEC(".maps");

/* The ring buffer Go reads events from. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RINGBUF_DEFAULT_BYTES);
} pw_events SEC(".maps");

/*
 * TLS (tls.h). Every table is an LRU: a call whose return probe never ran
 * (the process died inside it), an SSL* never freed through SSL_free, a
 * goroutine that never returned from Read, are evicted, never pile up.
 */

/* TLS library calls in progress, keyed by bpf_get_current_pid_tgid(). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct tls_call);
} pw_tls_calls SEC(".maps");

/*
 * SSL_write calls that returned before their SSL* was tied (TLS_AWAIT),
 * keyed by thread: apart from pw_tls_calls, because the caller may enter
 * SSL_read before it writes the ciphertext (Node.js: ClearIn, ClearOut,
 * EncOut).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct tls_call);
} pw_tls_awaits SEC(".maps");

/* (process, SSL*) -> the socket's descriptor. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SSL_FDS_MAX_ENTRIES);
	__type(key, struct ssl_key);
	__type(value, __u64);
} pw_ssl_fds SEC(".maps");

/* Go crypto/tls Reads in progress, by goroutine. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GO_READS_MAX_ENTRIES);
	__type(key, struct go_read_key);
	__type(value, struct go_read);
} pw_go_reads SEC(".maps");

/* Exec and exit notices for Go (struct proc_event). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PROCS_RINGBUF_BYTES);
} pw_procs SEC(".maps");

#endif /* PROPWATCH_MAPS_H */
