package pii

// ssnDigits is the number of digits in an SSN.
const ssnDigits = 9

// ssnAt examines the run of digits and hyphens that contains the digit v[s]
// (v[s-1] is not a digit) and reports whether the whole run is an SSN:
// ddd-dd-dddd, or nine bare digits when bare is set. It returns the end of
// the run. Taking the maximal run means "2024-123-45-6789" or a phone number
// with an extra group never yields an SSN from its middle.
func ssnAt(v []byte, s int, bare bool) (bool, int) {
	j := s
	for j < len(v) && charFlags[v[j]]&(chDigit|chHyphen) != 0 {
		j++
	}
	return ssnRun(v, s, j, bare), j
}

// ssnRun reports whether v[s:e], a maximal run of digits and hyphens that
// contains the digit v[s] with v[s-1] not a digit, is an SSN.
func ssnRun(v []byte, s, e int, bare bool) bool {
	if s > 0 && v[s-1] == '-' {
		// The run really starts with a hyphen before s.
		return false
	}
	run := v[s:e]
	var d [ssnDigits]byte
	switch {
	case len(run) == 11 && run[3] == '-' && run[6] == '-':
		n := 0
		for k, c := range run {
			if k == 3 || k == 6 {
				continue
			}
			if !isDigit(c) {
				return false
			}
			d[n] = c - '0'
			n++
		}
	case bare && len(run) == 9:
		for k, c := range run {
			if !isDigit(c) {
				return false
			}
			d[k] = c - '0'
		}
	default:
		return false
	}
	return validSSN(&d)
}

// validSSN applies the SSA's never-issued rules and drops the numbers that
// appear in documentation and ads often enough to be noise.
func validSSN(d *[ssnDigits]byte) bool {
	area := int(d[0])*100 + int(d[1])*10 + int(d[2])
	group := int(d[3])*10 + int(d[4])
	serial := int(d[5])*1000 + int(d[6])*100 + int(d[7])*10 + int(d[8])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	if oneDigit(d[:]) {
		return false
	}
	// 123-45-6789 is the canonical example; 078-05-1120 was printed on a
	// wallet insert and used by thousands of people.
	if area == 123 && group == 45 && serial == 6789 || area == 78 && group == 5 && serial == 1120 {
		return false
	}
	return true
}
