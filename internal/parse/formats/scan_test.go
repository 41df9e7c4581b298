package formats

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestHexWordEveryByte puts every byte value in every position of a valid
// word and compares with the table decoder. Positions are independent: no
// byte below 0x80 carries into its neighbour, and x&msb rejects the rest.
func TestHexWordEveryByte(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			b := []byte("0123abcd")
			b[pos] = byte(c)
			var want [4]byte
			okWant := true
			for i := 0; i < 8; i += 2 {
				hi, lo := unhexTab[b[i]], unhexTab[b[i+1]]
				okWant = okWant && hi != bad && lo != bad
				want[i/2] = hi<<4 | lo
			}
			v, ok := hexWord(binary.LittleEndian.Uint64(b))
			if ok != okWant || (ok && v != binary.BigEndian.Uint32(want[:])) {
				t.Fatalf("%q: %x %v, want %x %v", b, v, ok, want, okWant)
			}
		}
	}
}

// randomIDText returns 0-40 bytes drawn mostly from hex digits.
func randomIDText(r *rand.Rand) []byte {
	const alphabet = "0123456789abcdef0123456789abcdefABCDEFxg-\x00\xff"
	b := make([]byte, r.IntN(41))
	for i := range b {
		if r.IntN(10) == 0 {
			b[i] = alphabet[r.IntN(len(alphabet))]
		} else {
			b[i] = alphabet[r.IntN(16)]
		}
	}
	return b
}

func isLowerHexString(s []byte) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func TestHexHelpersAgainstStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		s := randomIDText(r)
		var id [16]byte
		ok := decodeHexID(s, &id)
		wantOK := len(s) >= 1 && len(s) <= 32 && isLowerHexString(s)
		if ok != wantOK {
			t.Fatalf("decodeHexID(%q) ok = %v", s, ok)
		}
		if ok {
			padded := string(s)
			for len(padded) < 32 {
				padded = "0" + padded
			}
			want, _ := hex.DecodeString(padded)
			if string(id[:]) != string(want) {
				t.Fatalf("decodeHexID(%q) = %x", s, id)
			}
		}
		zero, ok := hexSpan(s, 16)
		if wantOK := len(s) == 16 && isLowerHexString(s); ok != wantOK || (ok && zero != (string(s) == zero16)) {
			t.Fatalf("hexSpan(%q) = %v %v", s, zero, ok)
		}
		n, ok := parseUint64(s)
		if want, err := strconv.ParseUint(string(s), 10, 64); (err == nil) != ok || (ok && n != want) {
			t.Fatalf("parseUint64(%q) = %d %v", s, n, ok)
		}
	}
}

func TestBase64HelpersAgainstStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for range 200000 {
		b := make([]byte, r.IntN(48))
		for i := range b {
			b[i] = alphabet[r.IntN(64)]
		}
		switch r.IntN(6) {
		case 0:
			b = append(b, '=')
		case 1:
			b = append(b, '=', '=')
		case 2:
			if len(b) > 0 {
				b[r.IntN(len(b))] = "-_=!\x00"[r.IntN(5)]
			}
		}
		body, ok := base64Body(b)
		var want []byte
		var err error
		if len(b) > 0 && b[len(b)-1] == '=' {
			want, err = base64.StdEncoding.DecodeString(string(b))
		} else {
			want, err = base64.RawStdEncoding.DecodeString(string(b))
		}
		if wantOK := err == nil && len(b) > 0; ok != wantOK {
			t.Fatalf("base64Body(%q) = %v, stdlib err %v", b, ok, err)
		}
		if !ok {
			continue
		}
		var buf [grpcFullLen]byte
		n := decodeBase64Prefix(b[:body], buf[:])
		if n != min(len(want), len(buf)) || string(buf[:n]) != string(want[:n]) {
			t.Fatalf("decodeBase64Prefix(%q) = %x, want %x", b, buf[:n], want)
		}
	}
}
