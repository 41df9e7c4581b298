package pii

// E.164 allows at most 15 digits; 7 is the shortest number still worth
// reporting (shorter strings are extensions, PINs, years).
const (
	minPhoneDigits = 7
	maxPhoneDigits = 15
)

// e164At reports whether the '+' at v[i] starts an E.164 number: a digit
// 1–9 and 7–15 digits in all, with no letter or digit on either side. The
// digit scan stops after 16 digits, so the cost per '+' is bounded.
func e164At(v []byte, i int) bool {
	if alnumBefore(v, i) {
		return false
	}
	j := i + 1
	if j >= len(v) || v[j] < '1' || v[j] > '9' {
		return false
	}
	for j < len(v) && isDigit(v[j]) && j-i <= maxPhoneDigits+1 {
		j++
	}
	n := j - i - 1
	return n >= minPhoneDigits && n <= maxPhoneDigits && !alnumAt(v, j)
}

func isPhoneSep(c byte) bool { return charFlags[c]&chPhoneSep != 0 }

// localPhoneAt handles the key-gated rule: under a key that names a phone,
// any run of 7–15 digits with the usual separators ("(415) 555-2671",
// "415.555.2671", "+1 415 555 2671") is a phone number. v[s] is a digit and
// v[s-1] is not. It returns the end of the run examined.
//
// Dotted quads and separated dates are excluded even under a phone key: they
// are the common non-phone values of this shape.
func localPhoneAt(v []byte, s int) (bool, int) {
	b := s
	for b > 0 && s-b < 2 && (v[b-1] == '(' || v[b-1] == '+') {
		b--
	}
	j := s
	digits := 0
	last := s // index after the last digit
	var groups [4]int
	nGroups := 0
	g := 0
	seps := 0 // bitmask: 1 space, 2 '-', 4 '.', 8 parentheses
	for j < len(v) {
		c := v[j]
		if isDigit(c) {
			digits++
			g++
			last = j + 1
		} else if isPhoneSep(c) {
			if g > 0 {
				if nGroups < len(groups) {
					groups[nGroups] = g
				}
				nGroups++
				g = 0
			}
			switch c {
			case ' ':
				seps |= 1
			case '-':
				seps |= 2
			case '.':
				seps |= 4
			default:
				seps |= 8
			}
		} else {
			break
		}
		j++
	}
	if g > 0 {
		if nGroups < len(groups) {
			groups[nGroups] = g
		}
		nGroups++
	}
	if digits < minPhoneDigits || digits > maxPhoneDigits {
		return false, j
	}
	if b > 0 && (isAlnum(v[b-1]) || (v[b-1] == '-' || v[b-1] == '.') && alnumBefore(v, b-1)) {
		return false, j
	}
	if last < len(v) {
		c := v[last]
		if isAlpha(c) || (c == '-' || c == '.') && alnumAt(v, last+1) {
			return false, j
		}
	}
	if seps == 4 && nGroups == 4 && groups[0] <= 3 && groups[1] <= 3 && groups[2] <= 3 && groups[3] <= 3 {
		return false, j // IPv4 dotted quad
	}
	if (seps == 2 || seps == 4) && nGroups == 3 &&
		(groups[0] == 4 && groups[1] <= 2 && groups[2] <= 2 || groups[0] <= 2 && groups[1] <= 2 && groups[2] == 4) {
		return false, j // yyyy-mm-dd, dd.mm.yyyy and friends
	}
	return true, j
}
