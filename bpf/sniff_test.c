//go:build ignore

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sniff_test.c: test-only programs that run the helpers of http.h and
 * kafka.h on inputs from Go (Program.Run), so that internal/loader's tests
 * can check the kernel's HTTP and Kafka sniffing against a Go reference,
 * input by input.
 *
 * Hooks: none; BPF_PROG_TYPE_SYSCALL programs run only through
 * BPF_PROG_TEST_RUN, which needs Linux 5.14. propwatch never loads them.
 * Emits: the helper's result as the program's return value.
 */

#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include "http.h"
#include "kafka.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* The input of one run: the context Go passes to Program.Run. */
struct sniff_args {
	__u64 word;  /* http_sniff: the first bytes, little-endian */
	__u32 n;     /* http_sniff: how many; tail_push: how many fresh bytes */
	__u32 tail;  /* tail_push: the last four bytes so far */
	__u32 fresh; /* tail_push: the new bytes */
	__u32 _pad;
};

/* Returns http_sniff(word, n). */
SEC("syscall")
int run_http_sniff(struct sniff_args *a)
{
	return http_sniff(a->word, a->n);
}

/* Returns http_response(word, n). */
SEC("syscall")
int run_http_response(struct sniff_args *a)
{
	return http_response(a->word, a->n);
}

/* Returns tail_push(tail, fresh, n). */
SEC("syscall")
int run_tail_push(struct sniff_args *a)
{
	return tail_push(a->tail, a->fresh, a->n);
}

/* Returns kafka_sniff(word, n). */
SEC("syscall")
int run_kafka_sniff(struct sniff_args *a)
{
	return kafka_sniff(a->word, a->n);
}

/* Returns kafka_size_prefix(word, n). */
SEC("syscall")
int run_kafka_size_prefix(struct sniff_args *a)
{
	return kafka_size_prefix(a->word, a->n);
}
