/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * http2.h: the HTTP/2 wire as the capture needs it (RFC 9113): the client
 * preface, the frame header, and the frames a client's header blocks ride
 * in. Pure: no maps, no user memory.
 *
 * Frame header, 9 bytes:
 *
 *   +-----------------------------------------------+
 *   |                 Length (24)                   |
 *   +---------------+---------------+---------------+
 *   |   Type (8)    |   Flags (8)   |
 *   +-+-------------+---------------+-------------------------------+
 *   |R|                 Stream Identifier (31)                      |
 *   +-+-------------------------------------------------------------+
 */
#ifndef PROPWATCH_HTTP2_H
#define PROPWATCH_HTTP2_H

#include "kernel.h"
#include "words.h"

/* "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": the client preface, recognised by its
 * first 8 bytes, and its length. */
#define H2_PREFACE_WORD W8('P', 'R', 'I', ' ', '*', ' ', 'H', 'T')
#define H2_PREFACE_LEN 24

#define H2_FRAME_HEADER 9
/* Bytes of a frame header that say its length and type: enough to walk. */
#define H2_LEN_TYPE 4
#define H2_TYPE_OFF 3
#define H2_FLAGS_OFF 4
#define H2_STREAM_OFF 5

/* Frame types copied out: a header block and the table size it depends on. */
#define H2_HEADERS 0x1
#define H2_SETTINGS 0x4
#define H2_CONTINUATION 0x9

/* HEADERS flags: END_STREAM, END_HEADERS, PADDED, PRIORITY. */
#define H2_END_HEADERS 0x4
#define H2_HEADERS_FLAGS (0x1 | 0x4 | 0x8 | 0x20)
/* SETTINGS_MAX_FRAME_SIZE's initial value: what a client sends unless the
 * server raised it. */
#define H2_SNIFF_MAX_LEN 16384
/* The stream identifier's reserved bit. */
#define H2_RESERVED 0x80

static __always_inline int h2_preface(__u64 word, __u32 n)
{
	return n == 8 && word == H2_PREFACE_WORD;
}

/* h2_frame_len reads the 24-bit length from a frame's first four bytes
 * (little-endian word w4); h2_frame_type reads its type. */
static __always_inline __u32 h2_frame_len(__u32 w4) { return be32(w4) >> 8; }
static __always_inline __u32 h2_frame_type(__u32 w4) { return w4 >> 24; }

/* h2_copied says whether a frame of this type is copied out. */
static __always_inline int h2_copied(__u32 type)
{
	return type == H2_HEADERS || type == H2_CONTINUATION || type == H2_SETTINGS;
}

/*
 * h2_headers_sniff reports whether the first 8 bytes of a chunk look like
 * a client's HEADERS frame holding a whole header block: how a connection
 * whose preface was missed is recognised. Length 1..16384, type HEADERS,
 * only HEADERS flags and END_HEADERS among them, the reserved bit clear.
 * Never a Kafka request: the flags byte would be its api key's high byte.
 */
static __always_inline int h2_headers_sniff(__u64 word, __u32 n)
{
	__u32 len = h2_frame_len((__u32)word);
	__u32 flags = (word >> (H2_FLAGS_OFF * 8)) & 0xff;
	__u32 sid = (word >> (H2_STREAM_OFF * 8)) & 0xff;

	return n == 8 && h2_frame_type((__u32)word) == H2_HEADERS && len > 0 &&
	       len <= H2_SNIFF_MAX_LEN && !(flags & ~H2_HEADERS_FLAGS) &&
	       (flags & H2_END_HEADERS) && !(sid & H2_RESERVED);
}

#endif /* PROPWATCH_HTTP2_H */
