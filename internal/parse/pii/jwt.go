package pii

// maxHeaderChars bounds how much of a JWT header is decoded. Real headers are
// tens of bytes; one carrying a JWK or an x5c chain can be longer, and then
// "alg" is looked for in the decoded prefix only.
const maxHeaderChars = 1024

// jwtAt examines the candidate starting with "eyJ" at v[i]:
// eyJ[\w-]{8,} '.' [\w-]{8,} '.' [\w-]*, with a header that decodes to a
// JSON object holding the key "alg". It returns the end of the first segment
// (or of the token when it matched). Any other "eyJ" inside that segment would
// share its end and its next segments, so the caller skips it: this is what
// keeps "eyJeyJeyJ…" linear.
func jwtAt(v []byte, i int) (bool, int) {
	j := i + 3
	for j < len(v) && isB64(v[j]) {
		j++
	}
	seg1End := j
	if seg1End-i < 3+8 || j >= len(v) || v[j] != '.' {
		return false, seg1End
	}
	k := j + 1
	for k < len(v) && isB64(v[k]) {
		k++
	}
	if k-j-1 < 8 || k >= len(v) || v[k] != '.' {
		return false, seg1End
	}
	if !headerHasAlg(v[i:seg1End]) {
		return false, seg1End
	}
	k++
	for k < len(v) && isB64(v[k]) {
		k++
	}
	return true, k
}

var b64Values = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// headerHasAlg decodes (a bounded prefix of) the base64url segment into a
// stack buffer and looks for a JSON object with an "alg" member. Checking
// the header is what separates tokens from the many base64 blobs that
// happen to start with "eyJ" (any base64 of `{"`).
func headerHasAlg(seg []byte) bool {
	truncated := false
	if len(seg) > maxHeaderChars {
		seg = seg[:maxHeaderChars]
		truncated = true
	}
	if len(seg)%4 == 1 {
		return false
	}
	var buf [maxHeaderChars / 4 * 3]byte
	n := 0
	for q := 0; q < len(seg); q += 4 {
		var acc uint32
		m := len(seg) - q
		if m > 4 {
			m = 4
		}
		for r := 0; r < m; r++ {
			x := b64Values[seg[q+r]]
			if x < 0 {
				return false
			}
			acc |= uint32(x) << (18 - 6*r)
		}
		for r := 0; r < m-1; r++ {
			buf[n] = byte(acc >> (16 - 8*r))
			n++
		}
	}
	hdr := buf[:n]
	if len(hdr) == 0 || hdr[0] != '{' {
		return false
	}
	if !truncated {
		e := len(hdr)
		for e > 0 && isJSONSpace(hdr[e-1]) {
			e--
		}
		if e == 0 || hdr[e-1] != '}' {
			return false
		}
	}
	return hasAlgKey(hdr)
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// hasAlgKey looks for `"alg"` followed by optional whitespace and ':', which
// makes it a member name rather than a string value.
func hasAlgKey(h []byte) bool {
	for p := 0; p+5 <= len(h); p++ {
		if h[p] != '"' || h[p+1] != 'a' || h[p+2] != 'l' || h[p+3] != 'g' || h[p+4] != '"' {
			continue
		}
		q := p + 5
		for q < len(h) && isJSONSpace(h[q]) {
			q++
		}
		if q < len(h) && h[q] == ':' {
			return true
		}
	}
	return false
}
