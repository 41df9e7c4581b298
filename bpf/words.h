/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * words.h: the first bytes of a chunk as one little-endian word, the way
 * http.h and kafka.h look at them: the byte at the lowest address is the
 * lowest byte of the word. Pure helpers: no maps, no BPF helpers.
 */
#ifndef PROPWATCH_WORDS_H
#define PROPWATCH_WORDS_H

#include "kernel.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "words.h reads bytes as little-endian words: build with -target bpfel"
#endif

/* Little-endian words from characters, first character lowest. */
#define W2(a, b) ((__u64)(__u8)(a) | (__u64)(__u8)(b) << 8)
#define W4(a, b, c, d) (W2(a, b) | W2(c, d) << 16)
#define W8(a, b, c, d, e, f, g, h) (W4(a, b, c, d) | W4(e, f, g, h) << 32)

/* A mask of the low n bytes of a word, n in 0..8. */
static __always_inline __u64 low_bytes(__u32 n)
{
	if (n >= 8)
		return ~0ULL;
	return (1ULL << (n * 8)) - 1;
}

/* Big-endian (network order) fields read from a little-endian word. */
static __always_inline __u32 be32(__u32 x) { return __builtin_bswap32(x); }
static __always_inline __u16 be16(__u16 x) { return __builtin_bswap16(x); }

#endif /* PROPWATCH_WORDS_H */
