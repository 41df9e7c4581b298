package w3c

// Character classes, one bit each, so that every grammar check is a single
// table load instead of a chain of range comparisons.
const (
	clsTSKeyStart   = 1 << iota // tracestate key first char: lcalpha / DIGIT
	clsTSKeyChar                // tracestate keychar: lcalpha / DIGIT / _ - * / @
	clsTSValueChar              // tracestate chr: 0x20-0x7E except ',' '='
	clsToken                    // RFC 7230 tchar
	clsBaggageOctet             // baggage-octet
	clsValueChar                // baggage-octet other than '%'
)

// span returns the end of the run of bytes of b from i on that are all
// in the classes cls: the first index at or after i whose byte is not, or
// len(b). It takes four bytes at a time, with one branch, while all four
// belong: the long runs of keys and values are the hot loop of parsing.
func span(b []byte, i int, cls uint8) int {
	n := len(b)
	for i+4 <= n {
		if w := b[i : i+4 : i+4]; class[w[0]]&class[w[1]]&class[w[2]]&class[w[3]]&cls == 0 {
			break
		}
		i += 4
	}
	for i < n && class[b[i]]&cls != 0 {
		i++
	}
	return i
}

var class = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= clsTSKeyStart | clsTSKeyChar | clsToken
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] |= clsToken
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= clsTSKeyStart | clsTSKeyChar | clsToken
	}
	for _, c := range "_-*/@" {
		t[c] |= clsTSKeyChar
	}
	for c := 0x20; c <= 0x7e; c++ {
		if c != ',' && c != '=' {
			t[c] |= clsTSValueChar
		}
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] |= clsToken
	}
	for c := 0x21; c <= 0x7e; c++ {
		if c != '"' && c != ',' && c != ';' && c != '\\' {
			t[c] |= clsBaggageOctet
			if c != '%' {
				t[c] |= clsValueChar
			}
		}
	}
	return t
}()

// hexVal maps a lowercase hex digit to its value. Uppercase A-F map to
// hexUpper and everything else to hexBad, so that one comparison (> 0x0f)
// rejects both while the slow path can still tell them apart.
var hexVal = func() (t [256]uint8) {
	for i := range t {
		t[i] = hexBad
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = uint8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = uint8(c - 'a' + 10)
	}
	for c := 'A'; c <= 'F'; c++ {
		t[c] = hexUpper
	}
	return t
}()

const (
	hexUpper = 0x10
	hexBad   = 0xff
)

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// trimOWS drops leading and trailing SP/HTAB; the result is a sub-slice of b.
func trimOWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isOWS(b[i]) {
		i++
	}
	for j > i && isOWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

// allIn reports whether every byte of b has the class bit cls.
func allIn(b []byte, cls uint8) bool {
	for _, c := range b {
		if class[c]&cls == 0 {
			return false
		}
	}
	return true
}
