/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sniff.h: pure helpers that decide, from a few bytes, whether a chunk of a
 * TCP stream begins an HTTP/1.x request and whether a head has ended. They
 * touch no maps and no helpers, so a test program can wrap them.
 *
 * Bytes are handled as little-endian words: the byte at the lowest address
 * is the lowest byte of the word. The object is built for bpfel only.
 */
#ifndef PROPWATCH_SNIFF_H
#define PROPWATCH_SNIFF_H

#include "kernel.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "sniff.h reads bytes as little-endian words: build with -target bpfel"
#endif

/* Little-endian words from characters, first character lowest. */
#define W2(a, b) ((__u64)(__u8)(a) | (__u64)(__u8)(b) << 8)
#define W4(a, b, c, d) (W2(a, b) | W2(c, d) << 16)
#define W8(a, b, c, d, e, f, g, h) (W4(a, b, c, d) | W4(e, f, g, h) << 32)

/* The four bytes that end a request head. */
#define HEAD_END ((__u32)W4('\r', '\n', '\r', '\n'))

/* What the first bytes of a chunk say. */
enum sniff {
	SNIFF_NONE = 0,   /* not the start of a request */
	SNIFF_PREFIX = 1, /* too short to tell, but a method could begin so */
	SNIFF_START = 2,  /* a method token followed by a space */
};

/* A mask of the low n bytes of a word, n in 0..8. */
static __always_inline __u64 low_bytes(__u32 n)
{
	if (n >= 8)
		return ~0ULL;
	return (1ULL << (n * 8)) - 1;
}

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
 * Kafka (https://kafka.apache.org/protocol): every message is a frame, an
 * int32 size and that many bytes, big-endian. A request goes on with int16
 * api_key, int16 api_version, int32 correlation_id; a response with the
 * int32 correlation_id of its request.
 */
#define KAFKA_API_PRODUCE 0
#define KAFKA_API_FETCH 1
#define KAFKA_API_METADATA 3
/* The sizes taken for a frame: a request header is at least 10 bytes, and
 * brokers refuse frames over 100 MiB by default (socket.request.max.bytes). */
#define KAFKA_MIN_FRAME 8
#define KAFKA_MAX_FRAME (100 << 20)
/* Highest Produce version accepted (Kafka 4.x has 13); Go judges it again. */
#define KAFKA_MAX_PRODUCE 13

/* Api keys and versions taken for requests at all: Kafka 4.x defines keys
 * up to about 90 and versions up to 17; a little room for what comes. */
#define KAFKA_MAX_API_KEY 127
#define KAFKA_MAX_API_VERSION 31

/* What the first 8 bytes of a chunk say about Kafka. */
enum kafka_sniff {
	KAFKA_NONE = 0,    /* not a Kafka request */
	KAFKA_CAPTURE = 1, /* a Produce request: copy it out */
	KAFKA_TRACK = 2,   /* any other request: remember it, to know its response */
};

static __always_inline __u32 be32(__u32 x) { return __builtin_bswap32(x); }
static __always_inline __u16 be16(__u16 x) { return __builtin_bswap16(x); }

/* The frame size in the first four bytes of word. */
static __always_inline __u32 kafka_size(__u64 word) { return be32((__u32)word); }

static __always_inline int kafka_size_ok(__u32 size)
{
	return size >= KAFKA_MIN_FRAME && size <= KAFKA_MAX_FRAME;
}

/* kafka_api_key and kafka_api_version read a request's word. */
static __always_inline __s16 kafka_api_key(__u64 word) { return (__s16)be16((__u16)(word >> 32)); }
static __always_inline __s16 kafka_api_version(__u64 word) { return (__s16)be16((__u16)(word >> 48)); }

/*
 * kafka_sniff classifies the first n bytes of a chunk (held in word) as a
 * Kafka request: eight bytes decide, fewer never do. Every request but a
 * Produce is tracked, not only those whose responses are copied (Fetch,
 * Metadata): tracking marks the other direction as a response stream, on
 * which requests are never sniffed, because a response's correlation id
 * can read like a request's api key and version (id 5: Produce v5).
 */
static __always_inline int kafka_sniff(__u64 word, __u32 n)
{
	__s16 key, ver;

	if (n < 8 || !kafka_size_ok(kafka_size(word)) || kafka_size(word) < 10)
		return KAFKA_NONE;
	key = kafka_api_key(word);
	ver = kafka_api_version(word);
	if (key < 0 || key > KAFKA_MAX_API_KEY || ver < 0 || ver > KAFKA_MAX_API_VERSION)
		return KAFKA_NONE;
	if (key == KAFKA_API_PRODUCE)
		return ver <= KAFKA_MAX_PRODUCE ? KAFKA_CAPTURE : KAFKA_NONE;
	return KAFKA_TRACK;
}

/*
 * kafka_size_prefix reports whether a chunk of n bytes can be a frame's size
 * read alone: Kafka clients and brokers read the four size bytes first and
 * the frame after, so the decision waits for the next chunk.
 */
static __always_inline int kafka_size_prefix(__u64 word, __u32 n)
{
	return n == 4 && kafka_size_ok(kafka_size(word));
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

#endif /* PROPWATCH_SNIFF_H */
