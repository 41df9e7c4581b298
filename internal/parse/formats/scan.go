package formats

import (
	"bytes"
	"encoding/binary"
)

// Byte-level helpers shared by the format judges. All are bounded by their
// input length and never index past it.

const bad = 0xFF

// unhexTab maps 0-9 and a-f to their value and everything else (A-F
// included, see the package doc) to bad.
var unhexTab = func() (t [256]byte) {
	for i := range t {
		t[i] = bad
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

// b64Tab marks the standard base64 alphabet (RFC 4648 §4) with the digit's
// value and everything else with bad.
var b64Tab = func() (t [256]byte) {
	for i := range t {
		t[i] = bad
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// traceID is an id as it travels in a Result: right-aligned, bits 0 when
// there is none.
type traceID struct {
	id   [16]byte
	bits int
}

// zero reports whether every byte of the id is zero.
func (t *traceID) zero() bool {
	return t.id == [16]byte{}
}

// decodeHex decodes 2*len(dst) lowercase hex digits from src into dst. It
// reports false, leaving dst partly written, on any other byte or length.
// It works eight digits at a time (hexWord) and finishes with a table.
func decodeHex(dst, src []byte) bool {
	if len(src) != 2*len(dst) {
		return false
	}
	for len(src) >= 8 {
		v, ok := hexWord(binary.LittleEndian.Uint64(src))
		if !ok {
			return false
		}
		binary.BigEndian.PutUint32(dst, v)
		src, dst = src[8:], dst[4:]
	}
	var acc byte
	for i := 0; i+1 < len(src) && i>>1 < len(dst); i += 2 {
		hi, lo := unhexTab[src[i]], unhexTab[src[i+1]]
		acc |= hi | lo
		dst[i>>1] = hi<<4 | lo
	}
	return acc <= 0xF
}

const (
	lsb = 0x0101010101010101 // 0x01 in every byte
	msb = 0x8080808080808080 // 0x80 in every byte
)

// hexWord decodes eight lowercase hex digits, loaded little-endian (the
// first digit in the low byte), into four bytes, the first digit in the top
// nibble. Each range test adds a constant that carries into a byte's top bit
// exactly when the byte is past a bound; no byte below 0x80 can carry into
// its neighbour, and bytes from 0x80 up are rejected first.
func hexWord(x uint64) (uint32, bool) {
	geDigit := x + (0x80-'0')*lsb  // top bit: byte >= '0'
	gtDigit := x + (0x7F-'9')*lsb  // top bit: byte > '9'
	geLetter := x + (0x80-'a')*lsb // top bit: byte >= 'a'
	gtLetter := x + (0x7F-'f')*lsb // top bit: byte > 'f'
	valid := (geDigit&^gtDigit | geLetter&^gtLetter) & msb
	if x&msb != 0 || valid != msb {
		return 0, false
	}
	// A digit's value is its low nibble; a letter's is its low nibble + 9,
	// and only letters have bit 0x40 set.
	v := x&(0x0F*lsb) + (x>>6&lsb)*9
	w := v<<4 | v>>8 // byte 2k now holds digit 2k and digit 2k+1
	return uint32(byte(w))<<24 | uint32(byte(w>>16))<<16 | uint32(byte(w>>32))<<8 | uint32(byte(w>>48)), true
}

// decodeHexID decodes s, 1 to 32 lowercase hex digits, right-aligned into
// id: the last digit lands in the low nibble of id[15]. It reports false,
// leaving id partly written, on any other byte or length.
func decodeHexID(s []byte, id *[16]byte) bool {
	n := len(s)
	if n == 0 || n > 32 {
		return false
	}
	*id = [16]byte{}
	start := 16 - (n+1)/2
	if n%2 == 1 {
		v := unhexTab[s[0]]
		if v == bad {
			return false
		}
		id[start] = v
		start++
		s = s[1:]
	}
	return decodeHex(id[start:], s)
}

// hexSpan checks that s is n lowercase hex digits and reports whether they
// are all '0'. ok is false when s is not.
func hexSpan(s []byte, n int) (zero, ok bool) {
	if len(s) != n {
		return false, false
	}
	zero = true
	for len(s) >= 8 {
		x := binary.LittleEndian.Uint64(s)
		if _, ok := hexWord(x); !ok {
			return false, false
		}
		zero = zero && x == '0'*lsb
		s = s[8:]
	}
	var acc byte
	for _, c := range s {
		acc |= unhexTab[c]
	}
	return zero && acc == 0, acc <= 0xF
}

// isLowerHex reports whether s is 1 to max lowercase hex digits.
func isLowerHex(s []byte, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, c := range s {
		if unhexTab[c] == bad {
			return false
		}
	}
	return true
}

// allZeroDigits reports whether s holds only '0' characters.
func allZeroDigits(s []byte) bool {
	for _, c := range s {
		if c != '0' {
			return false
		}
	}
	return true
}

// parseUint64 parses s as unsigned decimal digits (leading zeros allowed),
// reporting false when s is empty, holds a non-digit or overflows 64 bits.
func parseUint64(s []byte) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		d := uint64(c - '0')
		if d > 9 {
			return 0, false
		}
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// isDecimal reports whether s is 1 to max ASCII digits.
func isDecimal(s []byte, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// base64Body checks that s is standard-alphabet base64 with optional
// padding and returns the length of s without the padding. ok is false for
// an empty value, a byte outside the alphabet, padding that does not make
// the length a multiple of 4, or a length that cannot be base64 (4n+1).
func base64Body(s []byte) (body int, ok bool) {
	n := len(s)
	if n == 0 {
		return 0, false
	}
	pad := 0
	if s[n-1] == '=' {
		pad = 1
		if n >= 2 && s[n-2] == '=' {
			pad = 2
		}
	}
	if pad > 0 && n%4 != 0 {
		return 0, false
	}
	body = n - pad
	if body%4 == 1 {
		return 0, false
	}
	for i := 0; i < body; i++ {
		if b64Tab[s[i]] == bad {
			return 0, false
		}
	}
	return body, true
}

// decodeBase64Prefix decodes the first bytes of body, which base64Body has
// checked, into dst until dst is full, and returns how many bytes it wrote.
func decodeBase64Prefix(body []byte, dst []byte) int {
	var acc uint32
	bits, n := 0, 0
	for _, c := range body {
		if n == len(dst) {
			break
		}
		acc = acc<<6 | uint32(b64Tab[c])
		bits += 6
		if bits >= 8 {
			bits -= 8
			dst[n] = byte(acc >> bits)
			n++
		}
	}
	return n
}

// cut splits s at the first sep, reporting whether sep was there.
func cut(s []byte, sep byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, nil, false
}

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
