package pii

// RFC 5321 limits; they also bound the work done per '@'.
const (
	maxLocal  = 64
	maxDomain = 253
	maxLabel  = 63
)

// emailAt reports whether the '@' at v[at] joins a local part and a domain
// with an alphabetic top-level label. The local part is the run of local-part
// characters before '@' (at most 64), the domain the run of [A-Za-z0-9.-]
// after it (at most 253). Neither run can cross another '@', so the scans
// done for successive '@'s never overlap and the total stays linear.
func emailAt(v []byte, at int) bool {
	k := at
	alnum := false
	for k > 0 && at-k <= maxLocal && charFlags[v[k-1]]&chLocal != 0 {
		k--
		if isAlnum(v[k]) {
			alnum = true
		}
	}
	if local := at - k; local == 0 || local > maxLocal || !alnum {
		return false
	}
	j := at + 1
	for j < len(v) && j-at-1 <= maxDomain && charFlags[v[j]]&chDomain != 0 {
		j++
	}
	dom := v[at+1 : j]
	if len(dom) > maxDomain {
		return false
	}
	// A sentence may end right after the address ("write to a@b.com.").
	for len(dom) > 0 && dom[len(dom)-1] == '.' {
		dom = dom[:len(dom)-1]
	}
	return validDomain(dom)
}

// validDomain requires at least two labels of 1–63 letters, digits and inner
// hyphens, the last of which is 2–63 letters: "tenant@system", "a@10.0.0.1"
// and "build@1.2.3" are not addresses.
func validDomain(dom []byte) bool {
	labels := 0
	start := 0
	for i := 0; i <= len(dom); i++ {
		if i < len(dom) && dom[i] != '.' {
			continue
		}
		label := dom[start:i]
		if len(label) == 0 || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
		start = i + 1
	}
	if labels < 2 {
		return false
	}
	tld := dom[lastDot(dom)+1:]
	if len(tld) < 2 {
		return false
	}
	for _, c := range tld {
		if !isAlpha(c) {
			return false
		}
	}
	return true
}

func lastDot(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '.' {
			return i
		}
	}
	return -1
}
