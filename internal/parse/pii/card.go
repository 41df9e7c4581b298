package pii

// ISO/IEC 7812 primary account numbers have 13 to 19 digits.
const (
	minCardDigits = 13
	maxCardDigits = 19
)

// cardAt examines the digit run that starts at v[s] (v[s-1] is not a digit)
// and reports whether it is a payment card number. It always returns the end
// of the run, so that the caller never restarts inside it.
//
// The candidate is the maximal run of digits joined by single spaces or
// hyphens. Requiring that run to be 13–19 digits, rather than looking for 16
// digits anywhere, is what keeps long numeric ids and concatenated numbers
// from matching at some inner offset.
func cardAt(v []byte, s int) (bool, int) {
	var digits [maxCardDigits]byte
	n := 0       // digits in the run, may exceed len(digits)
	var sep byte // the separator in use, 0 for none
	mixed := false
	groups := 0
	badGroup := false // a group length no card layout uses
	j := s
	for {
		g := 0
		for j < len(v) && isDigit(v[j]) {
			if n < len(digits) {
				digits[n] = v[j] - '0'
			}
			n++
			g++
			j++
		}
		groups++
		// Printed cards group digits 4-4-4-4(-3), 4-6-5 or 4-6-4 (or 4-3-3-3
		// for old 13-digit Visa): the first group has four digits and no
		// group is longer than six. UUIDs (8-4-4-4-12) and dates fail this.
		if groups == 1 && g != 4 || g > 6 || g < 3 && groups > 1 {
			badGroup = true
		}
		if j+1 < len(v) && (v[j] == ' ' || v[j] == '-') && isDigit(v[j+1]) {
			if sep == 0 {
				sep = v[j]
			} else if sep != v[j] {
				mixed = true
			}
			j++
			continue
		}
		break
	}
	end := j
	if n < minCardDigits || n > maxCardDigits || mixed || sep != 0 && badGroup {
		return false, end
	}
	if !cardBoundaryBefore(v, s) || !cardBoundaryAfter(v, end) {
		return false, end
	}
	return validPAN(digits[:n]), end
}

// cardBoundaryBefore rejects runs glued to a token: a letter right before the
// first digit, or a hyphen that joins the run to a preceding word
// ("ORD-4111…" is an order id, not a card). A leading '+' makes the run a
// phone number: "+4915112345678" passes Luhn with a Visa prefix.
func cardBoundaryBefore(v []byte, s int) bool {
	if s == 0 {
		return true
	}
	p := v[s-1]
	if isAlpha(p) || p == '+' {
		return false
	}
	if p == '-' && alnumBefore(v, s-1) {
		return false
	}
	return true
}

// cardBoundaryAfter is cardBoundaryBefore's mirror for the byte after the run.
func cardBoundaryAfter(v []byte, e int) bool {
	if e >= len(v) {
		return true
	}
	c := v[e]
	if isAlpha(c) {
		return false
	}
	if c == '-' && alnumAt(v, e+1) {
		return false
	}
	return true
}

// validPAN checks the issuer prefix, the length the issuer implies, that the
// number is not a single repeated digit, and the Luhn checksum. d holds one
// digit value (0–9) per element.
func validPAN(d []byte) bool {
	if !issuerKnown(d) {
		return false
	}
	return !oneDigit(d) && luhn(d)
}

// issuerKnown accepts the IIN ranges of the major networks. Epoch timestamps
// in ms/µs/ns and today's snowflake ids all start with 1, which no network
// uses, so this check is what rejects them even when they pass Luhn.
func issuerKnown(d []byte) bool {
	n := len(d)
	p2 := int(d[0])*10 + int(d[1])
	p3 := p2*10 + int(d[2])
	p4 := p3*10 + int(d[3])
	switch {
	case d[0] == 4: // Visa
		return true
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720: // Mastercard
		return true
	case p2 == 34 || p2 == 37: // American Express
		return n == 15
	case p4 == 6011, p3 >= 644 && p3 <= 649, p2 == 65: // Discover
		return true
	case p4 >= 3528 && p4 <= 3589: // JCB
		return true
	case p2 == 36 || p2 == 38, p3 >= 300 && p3 <= 305: // Diners Club
		return true
	case p2 == 62: // UnionPay
		return true
	}
	return false
}

// luhn reports whether the digits pass the Luhn mod-10 check.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		x := int(d[i])
		if double {
			x *= 2
			if x > 9 {
				x -= 9
			}
		}
		sum += x
		double = !double
	}
	return sum%10 == 0
}

// oneDigit reports whether d is a single digit repeated: a placeholder,
// never a real number.
func oneDigit(d []byte) bool {
	for _, x := range d[1:] {
		if x != d[0] {
			return false
		}
	}
	return true
}
