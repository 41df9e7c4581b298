package pii

// maxIBAN is the longest IBAN of the registry (Russia, 33) rounded up to the
// ISO 13616 maximum.
const maxIBAN = 34

// ibanLengths maps a country code, indexed as (c0-'A')*26+(c1-'A'), to the
// length of that country's IBANs, 0 when the country issues none. Sources:
// the SWIFT IBAN registry (89 countries, 2025) and the territories it lists
// under a parent country's format.
var ibanLengths = func() (t [26 * 26]uint8) {
	for _, e := range []struct {
		cc string
		n  uint8
	}{
		{"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
		{"BG", 22}, {"BH", 22}, {"BI", 27}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22},
		{"CY", 28}, {"CZ", 24}, {"DE", 22}, {"DJ", 27}, {"DK", 18}, {"DO", 28}, {"EE", 20},
		{"EG", 29}, {"ES", 24}, {"FI", 18}, {"FK", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22},
		{"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HN", 28}, {"HR", 21},
		{"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30},
		{"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20},
		{"LV", 21}, {"LY", 25}, {"MC", 27}, {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MN", 20},
		{"MR", 27}, {"MT", 31}, {"MU", 30}, {"NI", 28}, {"NL", 18}, {"NO", 15}, {"OM", 23},
		{"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22},
		{"RU", 33}, {"SA", 24}, {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24},
		{"SM", 27}, {"SO", 23}, {"ST", 25}, {"SV", 28}, {"TL", 23}, {"TN", 24}, {"TR", 26},
		{"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20}, {"YE", 30},
		// Territories using the format of Finland, France and the UK.
		{"AX", 18},
		{"GF", 27}, {"GP", 27}, {"MQ", 27}, {"RE", 27}, {"PF", 27}, {"TF", 27}, {"YT", 27},
		{"NC", 27}, {"BL", 27}, {"MF", 27}, {"PM", 27}, {"WF", 27},
		{"IM", 22}, {"JE", 22}, {"GG", 22},
	} {
		t[int(e.cc[0]-'A')*26+int(e.cc[1]-'A')] = e.n
	}
	return t
}()

// ibanLength returns the IBAN length of the country c0c1 (both A-Z), or 0.
func ibanLength(c0, c1 byte) int {
	return int(ibanLengths[int(c0-'A')*26+int(c1-'A')])
}

// ibanAt reports whether an IBAN starts at the uppercase letter v[i], in its
// electronic form (DE89370400440532013000) or its print form with a single
// space every four characters (DE89 3704 0044 0532 0130 00). The country's
// length tells exactly how many characters to read, so a call reads at most
// 34 characters plus separators.
func ibanAt(v []byte, i int) bool {
	if alnumBefore(v, i) || len(v)-i < 15 {
		return false
	}
	if !isUpper(v[i+1]) || !isDigit(v[i+2]) || !isDigit(v[i+3]) {
		return false
	}
	want := ibanLength(v[i], v[i+1])
	if want == 0 {
		return false
	}
	var buf [maxIBAN]byte
	copy(buf[:4], v[i:i+4])
	n := 4
	j := i + 4
	if j < len(v) && v[j] == ' ' {
		for n < want {
			if j >= len(v) || v[j] != ' ' {
				return false
			}
			j++
			g := 0
			for g < 4 && n < want && j < len(v) && isUpperDigit(v[j]) {
				buf[n] = v[j]
				n++
				j++
				g++
			}
			if g == 0 || g < 4 && n < want {
				return false
			}
		}
	} else {
		for n < want && j < len(v) && isUpperDigit(v[j]) {
			buf[n] = v[j]
			n++
			j++
		}
		if n < want {
			return false
		}
	}
	if alnumAt(v, j) {
		return false
	}
	return mod97(buf[:want]) == 1
}

// mod97 computes the ISO 7064 MOD 97-10 remainder of an IBAN: the first four
// characters move to the end and letters count as 10–35.
func mod97(s []byte) int {
	r := 0
	add := func(c byte) {
		if isDigit(c) {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	for _, c := range s[4:] {
		add(c)
	}
	for _, c := range s[:4] {
		add(c)
	}
	return r
}
