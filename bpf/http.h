/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http.h: the HTTP/1.x wire as the capture sees it: whether the first bytes
 * of a chunk begin a request (a method token and a space) or a response,
 * and whether a request head has ended ("\r\n\r\n", tracked across chunks
 * by its last four bytes). Pure helpers that sniff_test.c wraps for Go's
 * tests; the per-stream state machine that uses them is in stream.h.
 */
#ifndef PROPWATCH_HTTP_H
#define PROPWATCH_HTTP_H

#include "kernel.h"
#include "words.h"

/* The four bytes that end a request head. */
#define HEAD_END ((__u32)W4('\r', '\n', '\r', '\n'))

/* What the first bytes of a chunk say. */
enum sniff {
	SNIFF_NONE = 0,   /* not the start of a request */
	SNIFF_PREFIX = 1, /* too short to tell, but a method could begin so */
	SNIFF_START = 2,  /* a method token followed by a space */
};

/*
 * http_sniff classifies the first n (1..8) bytes of a chunk, held in the
 * low bytes of word. A request starts with one of the RFC 9110 methods and a
 * space; "OPTIONS " and "CONNECT " are the longest at eight bytes, so eight
 * bytes always decide, and fewer can only say "maybe" (SNIFF_PREFIX).
 */
static __always_inline int http_sniff(__u64 word, __u32 n)
{
	__u64 have = low_bytes(n);
	int prefix = 0;

/* One method token plus its space, len bytes long, as a word. */
#define SNIFF_METHOD(tok, len)                                       \
	do {                                                         \
		if (n >= (len)) {                                    \
			if ((word & low_bytes(len)) == (tok))        \
				return SNIFF_START;                  \
		} else if (((word ^ (tok)) & have) == 0) {           \
			prefix = 1;                                  \
		}                                                    \
	} while (0)

	SNIFF_METHOD(W4('G', 'E', 'T', ' '), 4);
	SNIFF_METHOD(W4('P', 'U', 'T', ' '), 4);
	SNIFF_METHOD(W4('P', 'O', 'S', 'T') | W2(' ', 0) << 32, 5);
	SNIFF_METHOD(W4('H', 'E', 'A', 'D') | W2(' ', 0) << 32, 5);
	SNIFF_METHOD(W4('P', 'A', 'T', 'C') | W2('H', ' ') << 32, 6);
	SNIFF_METHOD(W4('T', 'R', 'A', 'C') | W2('E', ' ') << 32, 6);
	SNIFF_METHOD(W8('D', 'E', 'L', 'E', 'T', 'E', ' ', 0), 7);
	SNIFF_METHOD(W8('O', 'P', 'T', 'I', 'O', 'N', 'S', ' '), 8);
	SNIFF_METHOD(W8('C', 'O', 'N', 'N', 'E', 'C', 'T', ' '), 8);
#undef SNIFF_METHOD

	return prefix ? SNIFF_PREFIX : SNIFF_NONE;
}

/*
 * http_response reports whether the first n bytes of a chunk (the low
 * bytes of word) begin an HTTP/1.0 or HTTP/1.1 response: a direction of a
 * connection that carries responses carries no requests.
 */
static __always_inline int http_response(__u64 word, __u32 n)
{
	return n == 8 && (word == W8('H', 'T', 'T', 'P', '/', '1', '.', '1') ||
			  word == W8('H', 'T', 'T', 'P', '/', '1', '.', '0'));
}

/*
 * tail_push appends the n newest bytes (low bytes of fresh) to the last four
 * bytes of a stream, so that a head whose "\r\n\r\n" is split across chunks
 * is still seen to end.
 */
static __always_inline __u32 tail_push(__u32 tail, __u32 fresh, __u32 n)
{
	if (n >= 4)
		return fresh;
	if (n == 0)
		return tail;
	return (tail >> (n * 8)) | (fresh << ((4 - n) * 8));
}

#endif /* PROPWATCH_HTTP_H */
