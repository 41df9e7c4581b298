/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kafka.h: the Kafka wire as the capture sees it (constants and pure
 * sniffers that sniff_test.c wraps for Go's tests). Which requests are
 * tracked and how responses are matched to them is in kafka_corr.h.
 */
#ifndef PROPWATCH_KAFKA_H
#define PROPWATCH_KAFKA_H

#include "kernel.h"
#include "words.h"

/*
 * Kafka (https://kafka.apache.org/protocol): every message is a frame, an
 * int32 size and that many bytes, all big-endian:
 *
 *   request:   0      4        6            8                12
 *              | size | api_key | api_version | correlation_id | client_id ...
 *   response:  0      4                8
 *              | size | correlation_id | body ...
 *
 * The capture looks at the first 8 bytes of a chunk (one word): a
 * request's size, key and version, or a response's size and correlation id.
 */
#define KAFKA_SIZE_BYTES 4        /* the int32 size that opens a frame */
#define KAFKA_REQ_CORR_OFF 8      /* a request's correlation_id */
#define KAFKA_REQ_HEADER_MIN 10   /* key, version, correlation id, client id length */

/* The api keys the capture tells apart (Go: internal/parse/kafka). */
#define KAFKA_API_PRODUCE 0
#define KAFKA_API_FETCH 1
#define KAFKA_API_METADATA 3
/* The sizes taken for a frame: a request header is at least 10 bytes, and
 * brokers refuse frames over 100 MiB by default (socket.request.max.bytes). */
#define KAFKA_MIN_FRAME 8
#define KAFKA_MAX_FRAME (100 << 20)
/* Highest Produce version accepted (Kafka 4.x has 13); Go judges it again. */
#define KAFKA_MAX_PRODUCE 13
/* Lowest: v2 (Kafka 0.10, 2016), the version librdkafka falls back to when
 * a broker does not answer ApiVersions (broker.version.fallback); Kafka 4.0
 * refuses anything below v3 (KIP-896). An HTTP/2 SETTINGS or WINDOW_UPDATE
 * frame on stream 0, and a DATA frame on stream 1, read as Produce v0 and
 * v1: a server's first frames over TLS (ALPN h2) and h2c. */
#define KAFKA_MIN_PRODUCE 2

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

/* The frame size in the first four bytes of word. */
static __always_inline __u32 kafka_size(__u64 word) { return be32((__u32)word); }

static __always_inline int kafka_size_ok(__u32 size)
{
	return size >= KAFKA_MIN_FRAME && size <= KAFKA_MAX_FRAME;
}

/* kafka_api_key and kafka_api_version read a request's word (bytes 4..7). */
static __always_inline __s16 kafka_api_key(__u64 word) { return (__s16)be16((__u16)(word >> 32)); }
static __always_inline __s16 kafka_api_version(__u64 word) { return (__s16)be16((__u16)(word >> 48)); }

/* kafka_resp_corr reads a response's correlation id from its word (bytes
 * 4..7), as on the wire: pw_kreqs keys hold it so, unswapped. */
static __always_inline __u32 kafka_resp_corr(__u64 word) { return (__u32)(word >> 32); }

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

	if (n < 8 || !kafka_size_ok(kafka_size(word)) || kafka_size(word) < KAFKA_REQ_HEADER_MIN)
		return KAFKA_NONE;
	key = kafka_api_key(word);
	ver = kafka_api_version(word);
	if (key < 0 || key > KAFKA_MAX_API_KEY || ver < 0 || ver > KAFKA_MAX_API_VERSION)
		return KAFKA_NONE;
	if (key == KAFKA_API_PRODUCE)
		return ver >= KAFKA_MIN_PRODUCE && ver <= KAFKA_MAX_PRODUCE ? KAFKA_CAPTURE : KAFKA_NONE;
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

#endif /* PROPWATCH_KAFKA_H */
