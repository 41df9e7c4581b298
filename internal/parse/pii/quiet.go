package pii

// Quiet reports whether Scan, under any hint, finds nothing in any part of
// b, where a part is a sub-slice that no ASCII letter or digit precedes
// within b. The members of a baggage list, and their keys, values and
// properties, are such parts of the header value, so one call answers for
// all of them; a false result says nothing, and the caller scans each part.
//
// Quiet looks for what every rule needs before it can fire, and is true
// only when none of it is present: an '@' or a '+'; "eyJ"; a vendor-key
// prefix's first two bytes or a PEM "-B" at the start of a token; an
// uppercase letter that could start an AWS or Google key or an IBAN;
// "bearer" or "basic" in any case; a run of digits and phone separators with
// seven digits or more. Each of these is made of the bytes at and after one
// position, plus at most the byte before it, which is why the answer holds
// for parts as well as for b: inside a part those bytes are the same as in
// b, and where a part starts its missing left neighbour acts like the
// non-alphanumeric byte b has there.
//
// Quiet runs in time linear in len(b) and allocates nothing.
func Quiet(b []byte) bool {
	// Most bytes are not marked: take four at a time, with one branch for
	// all of them, and step to the first marked one when there is one.
	i := 0
	for i+4 <= len(b) {
		if w := b[i : i+4 : i+4]; quietTab[w[0]]|quietTab[w[1]]|quietTab[w[2]]|quietTab[w[3]] == 0 {
			i += 4
			continue
		}
		for quietTab[b[i]] == 0 {
			i++
		}
		if i = quietAt(b, i); i < 0 {
			return false
		}
		i++
	}
	for ; i < len(b); i++ {
		if quietTab[b[i]] != 0 {
			if i = quietAt(b, i); i < 0 {
				return false
			}
		}
	}
	return true
}

// quietTab marks the bytes Quiet must look at more closely. Of the two-byte
// prefixes, each is marked by its rarer byte, so that common letters ('e',
// 's', 'r') cost one table load and nothing else: "eyJ" and "sk_"/"rk_" by
// their 'y' and 'k', "gh"/"gi", "xo" and "be"/"ba" by their first byte.
var quietTab = func() (t [256]uint8) {
	for _, c := range []byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ@+ykgxb") {
		t[c] = 1
	}
	return t
}()

// quietAt looks closer at the byte v[i] quietTab marks. It returns -1 when
// a rule may start there (or, for 'y' and 'k', one byte before), else the
// index of the last byte Quiet may skip to.
func quietAt(v []byte, i int) int {
	switch c := v[i]; {
	case isDigit(c):
		// The fewest digits any digit rule needs is minPhoneDigits (bare
		// phone numbers under a phone key); a shorter run is skipped
		// whole, as scan skips it.
		j, n, _ := digitRun(v, i)
		if n < minPhoneDigits {
			return j - 1
		}
	case isUpper(c):
		if !upperMayStart(v, i) {
			return i
		}
	case c == 'y':
		// "eyJ", the start of a JWT.
		if i == 0 || !hasPrefixAt(v, i-1, "eyJ") {
			return i
		}
	case c == 'k':
		// "sk" and "rk" at a token start, for Stripe keys.
		if i == 0 || v[i-1] != 's' && v[i-1] != 'r' || alnumBefore(v, i-1) {
			return i
		}
	case c == 'g' || c == 'x' || c == 'b':
		if !lowerMayStart(v, i) {
			return i
		}
	}
	return -1
}

// lowerMayStart tests the lowercase letter v[i], one of 'g', 'x' and 'b',
// against the rules that can start on it: the vendor prefixes of apiKeyAt
// (which need a token start) and "bearer"/"basic" for isAuthValue.
func lowerMayStart(v []byte, i int) bool {
	if v[i] == 'b' {
		return authWordAt(v, i)
	}
	// 'g', 'x': the second byte secondByteLikely wants.
	return secondByteLikely(v, i) && !alnumBefore(v, i)
}

// upperMayStart tests the uppercase letter v[i]: "Bearer"/"Basic", a PEM
// "-----BEGIN" (whose 'B' follows a '-'), the second byte of an AWS or
// Google key id, and an IBAN's country code and check digits.
func upperMayStart(v []byte, i int) bool {
	switch v[i] {
	case 'A':
		if i+1 < len(v) && !alnumBefore(v, i) {
			switch v[i+1] {
			case 'K', 'S', 'B', 'C', '3', 'I': // AKIA ASIA ABIA ACCA A3T AIza
				return true
			}
		}
	case 'B':
		if i > 0 && v[i-1] == '-' || authWordAt(v, i) {
			return true
		}
	}
	return ibanLikely(v, i)
}

// authWordAt reports whether v[i:] starts with "bearer" or "basic" in any
// case, the words isAuthValue needs.
func authWordAt(v []byte, i int) bool {
	return hasPrefixFold(v[i:], "bearer") || hasPrefixFold(v[i:], "basic")
}
