package w3c

import "unicode/utf8"

// validEscapes reports whether every '%' in v starts a %XX escape (either
// hex case, as RFC 3986 §2.1 allows).
func validEscapes(v []byte) bool {
	for i := 0; i < len(v); i++ {
		if v[i] == '%' {
			if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
				return false
			}
			i += 2
		}
	}
	return true
}

func isHex(c byte) bool { return hexVal[c] != hexBad }

func unhex(c byte) byte {
	if h := hexVal[c]; h != hexUpper {
		return h
	}
	return c - 'A' + 10
}

// decodedAt returns the octet the percent-encoded src yields at index i and
// the index after it. A '%' that does not start a %XX escape stands for
// itself and clears ok.
func decodedAt(src []byte, i int) (c byte, next int, ok bool) {
	c = src[i]
	if c != '%' {
		return c, i + 1, true
	}
	if i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]) {
		return unhex(src[i+1])<<4 | unhex(src[i+2]), i + 3, true
	}
	return c, i + 1, false
}

// PercentDecode appends the decoding of src to dst. ok is false when src has
// a malformed escape; such a '%' is copied literally and decoding goes on.
// Octets that do not form valid UTF-8 after decoding become U+FFFD, one per
// offending octet (the convention of Go's utf8 package), as the baggage spec
// requires. '+' is not a space here. The output grows by at most 3*len(src)
// bytes, since a source byte yields at most one octet and an octet at most
// one U+FFFD.
func PercentDecode(dst, src []byte) (out []byte, ok bool) {
	// Most values are ASCII with, at most, escapes of ASCII octets: copy
	// the runs between escapes whole and decode those escapes here. The
	// first byte that needs more (an octet >= 0x80, raw or escaped, or a
	// malformed escape) hands the rest to the general loop, which would
	// have reached that same position in the same state.
	i := 0
	for i < len(src) {
		j := i
		for j+4 <= len(src) {
			if w := src[j : j+4 : j+4]; plainOctet[w[0]]&plainOctet[w[1]]&plainOctet[w[2]]&plainOctet[w[3]] == 0 {
				break
			}
			j += 4
		}
		for j < len(src) && plainOctet[src[j]] != 0 {
			j++
		}
		dst = append(dst, src[i:j]...)
		i = j
		if i == len(src) || src[i] != '%' || i+2 >= len(src) {
			break
		}
		c, next, good := decodedAt(src, i)
		if !good || c >= utf8.RuneSelf {
			break
		}
		dst = append(dst, c)
		i = next
	}
	return percentDecode(dst, src, i)
}

// plainOctet is 1 for the bytes PercentDecode copies as they are without a
// closer look, ASCII other than '%', and 0 for the others; as a number, four
// lookups combine with '&' under one branch.
var plainOctet = func() (t [256]uint8) {
	for c := 0; c < utf8.RuneSelf; c++ {
		if c != '%' {
			t[c] = 1
		}
	}
	return t
}()

// percentDecode is PercentDecode's general loop, from src[i] on; the bytes
// before i decoded cleanly.
func percentDecode(dst, src []byte, i int) (out []byte, ok bool) {
	ok = true
	for i < len(src) {
		c, next, good := decodedAt(src, i)
		ok = ok && good
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i = next
			continue
		}
		// Gather the octets a UTF-8 sequence led by c would need, decoding
		// each from src on the fly, then let utf8 judge them.
		var buf [utf8.UTFMax]byte
		buf[0] = c
		n, j := 1, next
		for n < seqLen(c) && j < len(src) {
			var g bool
			buf[n], j, g = decodedAt(src, j)
			if !g {
				// A malformed escape ends the sequence; it is re-read
				// (and counted) as a literal below.
				break
			}
			n++
		}
		if r, size := utf8.DecodeRune(buf[:n]); r != utf8.RuneError || size > 1 {
			dst = append(dst, buf[:size]...)
			// Advance past exactly size decoded octets.
			for k := 0; k < size; k++ {
				_, i, _ = decodedAt(src, i)
			}
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i = next
	}
	return dst, ok
}

// seqLen is the length of the UTF-8 sequence lead byte c announces; 1 for
// bytes that cannot lead one, which DecodeRune then rejects.
func seqLen(c byte) int {
	switch {
	case c >= 0xf0:
		return 4
	case c >= 0xe0:
		return 3
	case c >= 0xc0:
		return 2
	}
	return 1
}
