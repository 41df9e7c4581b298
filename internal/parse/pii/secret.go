package pii

// apiKeyAt reports whether a vendor credential starts at v[i]. Each rule has
// a fixed prefix and a bounded body, so a call costs at most a few hundred
// byte comparisons whatever follows. A rule never fires right after a letter
// or digit, because then the prefix is the tail of some other token.
func apiKeyAt(v []byte, i int) bool {
	if alnumBefore(v, i) {
		return false
	}
	switch v[i] {
	case 'A':
		return awsKeyAt(v, i) || googleKeyAt(v, i)
	case 'g':
		return githubTokenAt(v, i)
	case 'x':
		return slackTokenAt(v, i)
	case 's', 'r':
		return stripeKeyAt(v, i)
	}
	return false
}

// awsKeyAt: (AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}, a whole token.
func awsKeyAt(v []byte, i int) bool {
	const n = 20
	if len(v)-i < n {
		return false
	}
	p := v[i : i+4]
	switch string(p) {
	case "AKIA", "ASIA", "ABIA", "ACCA":
	default:
		if p[1] != '3' || p[2] != 'T' || !isUpperDigit(p[3]) {
			return false
		}
	}
	for _, c := range v[i+4 : i+n] {
		if !isUpper(c) && (c < '2' || c > '7') {
			return false
		}
	}
	return !alnumAt(v, i+n)
}

// googleKeyAt: AIza[\w-]{35}, a whole token.
func googleKeyAt(v []byte, i int) bool {
	const n = 4 + 35
	if !hasPrefixAt(v, i, "AIza") || len(v)-i < n {
		return false
	}
	return allB64(v[i+4:i+n]) && (i+n == len(v) || !isB64(v[i+n]))
}

// githubTokenAt: gh[pousr]_[0-9A-Za-z]{36} or github_pat_\w{82}, whole tokens.
func githubTokenAt(v []byte, i int) bool {
	if hasPrefixAt(v, i, "github_pat_") {
		const n = 11 + 82
		if len(v)-i < n {
			return false
		}
		for _, c := range v[i+11 : i+n] {
			if !isAlnum(c) && c != '_' {
				return false
			}
		}
		return i+n == len(v) || !isAlnum(v[i+n]) && v[i+n] != '_'
	}
	const n = 4 + 36
	if len(v)-i < n || v[i+1] != 'h' || v[i+3] != '_' {
		return false
	}
	switch v[i+2] {
	case 'p', 'o', 'u', 's', 'r':
	default:
		return false
	}
	return allAlnum(v[i+4:i+n]) && !alnumAt(v, i+n)
}

// slackTokenAt: xox[baprse]-[0-9A-Za-z-]{10,}.
func slackTokenAt(v []byte, i int) bool {
	const n = 5 + 10
	if len(v)-i < n || !hasPrefixAt(v, i, "xox") || v[i+4] != '-' {
		return false
	}
	switch v[i+3] {
	case 'b', 'a', 'p', 'r', 's', 'e':
	default:
		return false
	}
	for _, c := range v[i+5 : i+n] {
		if !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// stripeKeyAt: (sk|rk)_(live|test)_[0-9A-Za-z]{10,}.
func stripeKeyAt(v []byte, i int) bool {
	const n = 8 + 10
	if len(v)-i < n || v[i+1] != 'k' || v[i+2] != '_' || v[i+7] != '_' {
		return false
	}
	if !hasPrefixAt(v, i+3, "live") && !hasPrefixAt(v, i+3, "test") {
		return false
	}
	return allAlnum(v[i+8 : i+n])
}

// pemKeyAt: -----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY, which covers RSA, EC,
// OPENSSH, ENCRYPTED and plain PKCS#8 private keys. b is the index of the
// 'B': anchoring on it rather than on the dashes keeps '-', a byte common in
// clean values, out of the trigger set. At most 101 label positions are
// tried, and each costs one comparison unless it holds a 'P'.
func pemKeyAt(v []byte, b int) bool {
	const tail = "PRIVATE KEY"
	i := b - 5
	if i < 0 || !hasPrefixAt(v, i, "-----BEGIN") || alnumBefore(v, i) {
		return false
	}
	start := b + len("BEGIN")
	for p := start; p <= start+100 && p < len(v); p++ {
		if v[p] == 'P' && hasPrefixAt(v, p, tail) {
			return true
		}
		if charFlags[v[p]]&chPEM == 0 {
			return false
		}
	}
	return false
}

// isAuthValue reports whether the whole value, once surrounding whitespace is
// trimmed, is an HTTP credential: (?i)^(bearer|basic)\s+[\w\-.~+/]+=*$.
func isAuthValue(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	// Cheap rejection first: nearly every value starts with another byte.
	b := 0
	for b < len(v) && isSpace(v[b]) {
		b++
	}
	if b == len(v) || lowerASCII(v[b]) != 'b' {
		return false
	}
	e := len(v)
	for e > b && isSpace(v[e-1]) {
		e--
	}
	w := v[b:e]
	var p int
	switch {
	case hasPrefixFold(w, "bearer"):
		p = 6
	case hasPrefixFold(w, "basic"):
		p = 5
	default:
		return false
	}
	if p >= len(w) || !isSpace(w[p]) {
		return false
	}
	for p < len(w) && isSpace(w[p]) {
		p++
	}
	t := p
	for p < len(w) && isTokenChar(w[p]) {
		p++
	}
	if p == t {
		return false
	}
	for p < len(w) && w[p] == '=' {
		p++
	}
	return p == len(w)
}

// isTokenChar is [\w\-.~+/], the token68 alphabet of RFC 7235 minus '='.
func isTokenChar(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '~' || c == '+' || c == '/'
}

// hasPrefixFold reports whether w starts with the lowercase word p, ignoring
// ASCII case.
func hasPrefixFold(w []byte, p string) bool {
	if len(w) < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if lowerASCII(w[k]) != p[k] {
			return false
		}
	}
	return true
}

func allAlnum(b []byte) bool {
	for _, c := range b {
		if !isAlnum(c) {
			return false
		}
	}
	return true
}

func allB64(b []byte) bool {
	for _, c := range b {
		if !isB64(c) {
			return false
		}
	}
	return true
}
