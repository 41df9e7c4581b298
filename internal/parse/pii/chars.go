package pii

// Character classes as bit flags in one 256-entry table, so that every class
// test on the hot path is a single load and mask instead of a chain of range
// comparisons.
const (
	chDigit    uint16 = 1 << iota // 0-9; must stay bit 0 (digitRun adds it)
	chUpper                       // A-Z
	chLower                       // a-z
	chLocal                       // e-mail local part: [A-Za-z0-9_.!#$%&'*+/=?^{|}~-]
	chDomain                      // e-mail domain run: [A-Za-z0-9.-]
	chB64                         // base64url alphabet: [A-Za-z0-9_-]
	chPEM                         // PEM label: [ A-Z0-9_-]
	chSpace                       // RE2 \s: [\t\n\f\r ]
	chPhoneSep                    // phone separators: [ .()-]
	chHyphen                      // '-'
	chHex                         // [0-9a-fA-F]
	chSoftSep                     // phone separators other than '-': [ .()]
)

var charFlags = func() (t [256]uint16) {
	for c := '0'; c <= '9'; c++ {
		t[c] |= chDigit | chLocal | chDomain | chB64 | chPEM
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= chUpper | chLocal | chDomain | chB64 | chPEM
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= chLower | chLocal | chDomain | chB64
	}
	for _, c := range []byte("_.!#$%&'*+/=?^{|}~-") {
		t[c] |= chLocal
	}
	t['.'] |= chDomain
	t['-'] |= chDomain | chB64 | chPEM
	t['_'] |= chB64 | chPEM
	t[' '] |= chPEM
	for _, c := range []byte("\t\n\f\r ") {
		t[c] |= chSpace
	}
	for _, c := range []byte(" .()-") {
		t[c] |= chPhoneSep
	}
	t['-'] |= chHyphen
	for _, c := range []byte(" .()") {
		t[c] |= chSoftSep
	}
	for _, c := range []byte("0123456789abcdefABCDEF") {
		t[c] |= chHex
	}
	return t
}()

func isDigit(c byte) bool { return charFlags[c]&chDigit != 0 }
func isUpper(c byte) bool { return charFlags[c]&chUpper != 0 }
func isAlpha(c byte) bool { return charFlags[c]&(chUpper|chLower) != 0 }
func isAlnum(c byte) bool { return charFlags[c]&(chDigit|chUpper|chLower) != 0 }
func isB64(c byte) bool   { return charFlags[c]&chB64 != 0 }
func isSpace(c byte) bool { return charFlags[c]&chSpace != 0 }

// isUpperDigit is [A-Z0-9], the alphabet of IBANs and AWS key ids.
func isUpperDigit(c byte) bool { return charFlags[c]&(chDigit|chUpper) != 0 }

// alnumBefore reports whether v[i-1] exists and is a letter or digit: the
// left boundary test shared by the prefix rules, which must not fire in the
// middle of a longer token.
func alnumBefore(v []byte, i int) bool { return i > 0 && isAlnum(v[i-1]) }

// alnumAt reports whether v[i] exists and is a letter or digit.
func alnumAt(v []byte, i int) bool { return i < len(v) && isAlnum(v[i]) }

// hasPrefixAt reports whether v[i:] starts with p.
func hasPrefixAt(v []byte, i int, p string) bool {
	if len(v)-i < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if v[i+k] != p[k] {
			return false
		}
	}
	return true
}

// lowerASCII folds A-Z to a-z and leaves every other byte alone.
func lowerASCII(c byte) byte {
	if isUpper(c) {
		return c + ('a' - 'A')
	}
	return c
}
