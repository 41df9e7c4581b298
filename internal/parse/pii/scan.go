package pii

// Trigger classes: the byte at the current position decides which rules may
// start there. Everything else (most lowercase letters, '-', '.', '_',
// spaces) costs one table load and a branch.
const (
	tNone   uint8 = iota
	tDigit        // card, SSN, key-gated phone
	tAt           // e-mail
	tPlus         // E.164 phone
	tE            // "eyJ" JWT
	tPrefix       // vendor key prefixes: gh…, github_pat_, xox…, sk_/rk_
	tUpperA       // AWS and Google key prefixes, IBAN country codes
	tUpperB       // "BEGIN" of a PEM header, IBAN country codes
	tUpper        // IBAN country codes
)

var triggers = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = tDigit
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = tUpper
	}
	t['A'] = tUpperA
	t['B'] = tUpperB
	t['@'] = tAt
	t['+'] = tPlus
	t['e'] = tE
	for _, c := range []byte("gxsr") {
		t[c] = tPrefix
	}
	return t
}()

// Scan returns the kinds of personal data and secrets found in value. It
// inspects the bytes as given; callers that see percent-encoded values call
// it on the decoded form too. hint, from ClassifyKey on the member's key,
// enables the rules that are too noisy without the key's word for it:
// bare-digit phone numbers (HintPhone) and nine bare SSN digits (HintSSN).
//
// Scan runs in time linear in len(value) for every input, allocates nothing
// and never panics. It does not cap the length; callers that want a budget
// truncate before calling.
func Scan(value []byte, hint KeyHint) Set {
	if hint&HintSSN == 0 && opaqueID(value) {
		return 0
	}
	return scan(value, hint)
}

// scan is Scan without the opaque-id shortcut.
func scan(value []byte, hint KeyHint) Set {
	st := scanner{v: value, bareSSN: hint&HintSSN != 0}
	if isAuthValue(value) {
		st.found |= BearerToken.bit()
	}
	if hint&HintPhone == 0 {
		st.phoneNext = len(value)
	}
	needDigits := ssnDigits // the fewest digits of a card, SSN or key-gated phone
	if hint&HintPhone != 0 {
		needDigits = minPhoneDigits
	}
	// On ordinary bytes the loop touches only i and value, so they stay in
	// registers; the rules' state lives in st and is loaded on trigger bytes.
	for i := 0; i < len(value); i++ {
		t := triggers[value[i]]
		if t == tNone {
			continue
		}
		if (t == tE || t == tPrefix) && !secondByteLikely(value, i) {
			continue // most 'e', 'g', 's', 'r' and 'x' are just letters
		}
		if t == tDigit && i >= st.runEnd {
			// Short runs of digits and separators (parts of ids, dates,
			// versions) are skipped right here: no digit rule can match
			// inside them and nothing else triggers on their bytes.
			j, n, flags := digitRun(value, i)
			if n < needDigits {
				i = j - 1
				continue
			}
			st.enterRun(i, j, n, flags)
		}
		i = st.at(i, t)
	}
	return st.found
}

// scanner is the state of one Scan. Each rule that scans an unbounded run
// remembers where that run ended (its next field), so that no byte is
// examined twice by the same rule: this is what keeps inputs like "1111…"
// or "eyJeyJ…" linear. A rule that has matched sets its next field to the
// end of the value, since a kind counts once.
type scanner struct {
	v       []byte
	found   Set
	bareSSN bool
	// runEnd is the end of the current run of digits and phone separators.
	// Every digit rule's candidate lies inside one such run, so counting
	// its digits once tells which rules can match in it at all; the others
	// are moved past it, and when no rule is left inside the run the scan
	// jumps to its end. Ids, dates and versions are made of runs too short
	// for any rule.
	runEnd                                int
	cardNext, ssnNext, phoneNext, jwtNext int
}

// at runs the rules that may start at v[i], whose trigger class is t, and
// returns the index of the last byte the main loop may skip to.
func (st *scanner) at(i int, t uint8) int {
	v := st.v
	switch t {
	case tDigit:
		return st.digit(i)
	case tAt:
		if st.found&Email.bit() == 0 && emailAt(v, i) {
			st.found |= Email.bit()
		}
	case tPlus:
		if st.found&Phone.bit() == 0 && e164At(v, i) {
			st.found |= Phone.bit()
			st.phoneNext = len(v)
		}
	case tE:
		if i >= st.jwtNext && hasPrefixAt(v, i, "eyJ") {
			ok, end := jwtAt(v, i)
			if ok {
				st.found |= JWT.bit()
				end = len(v)
			}
			st.jwtNext = end
		}
	case tPrefix:
		if st.found&APIKey.bit() == 0 && apiKeyAt(v, i) {
			st.found |= APIKey.bit()
		}
	case tUpperA:
		if st.found&APIKey.bit() == 0 && apiKeyAt(v, i) {
			st.found |= APIKey.bit()
		}
		st.iban(i)
	case tUpperB:
		if st.found&APIKey.bit() == 0 && i >= 5 && v[i-1] == '-' && pemKeyAt(v, i) {
			st.found |= APIKey.bit()
		}
		st.iban(i)
	case tUpper:
		st.iban(i)
	}
	return i
}

func (st *scanner) iban(i int) {
	if st.found&IBAN.bit() == 0 && ibanLikely(st.v, i) && ibanAt(st.v, i) {
		st.found |= IBAN.bit()
	}
}

// enterRun records the run of digits and phone separators v[i:end], which
// holds n digits and bytes whose class flags together are flags, and moves
// every digit rule that cannot match in it past it.
func (st *scanner) enterRun(i, end, n int, flags uint16) {
	v := st.v
	st.runEnd = end
	if n < minCardDigits || n > maxCardDigits && flags&chPhoneSep == 0 {
		st.cardNext = max(st.cardNext, end)
	}
	if n < ssnDigits {
		st.ssnNext = max(st.ssnNext, end)
	} else if i >= st.ssnNext && flags&chSoftSep == 0 {
		// Only digits and hyphens: the SSN candidate is the whole run,
		// already measured.
		if ssnRun(v, i, end, st.bareSSN) {
			st.found |= SSN.bit()
			st.ssnNext = len(v)
		} else {
			st.ssnNext = end
		}
	}
	if n < minPhoneDigits {
		st.phoneNext = max(st.phoneNext, end)
	}
}

// digit runs the card, SSN and key-gated phone rules at the digit v[i],
// inside the run recorded by enterRun.
func (st *scanner) digit(i int) int {
	v := st.v
	if i >= st.cardNext {
		ok, end := cardAt(v, i)
		if ok {
			st.found |= PaymentCard.bit()
			end = len(v)
		}
		st.cardNext = end
	}
	if i >= st.ssnNext {
		ok, end := ssnAt(v, i, st.bareSSN)
		if ok {
			st.found |= SSN.bit()
			end = len(v)
		}
		st.ssnNext = end
	}
	if i >= st.phoneNext {
		ok, end := localPhoneAt(v, i)
		if ok {
			st.found |= Phone.bit()
			end = len(v)
		}
		st.phoneNext = end
	}
	// Only these rules start on digits and phone separators.
	if next := min(st.cardNext, st.ssnNext, st.phoneNext, st.runEnd); next > i+1 {
		return next - 1
	}
	return i
}

// digitRun returns the end of the run of digits and phone separators that
// starts at v[i], the number of digits in it and the union of its bytes'
// class flags.
func digitRun(v []byte, i int) (end, digits int, flags uint16) {
	for ; i < len(v); i++ {
		f := charFlags[v[i]]
		if f&(chDigit|chPhoneSep) == 0 {
			break
		}
		digits += int(f & chDigit)
		flags |= f
	}
	return i, digits, flags
}

// secondByte holds the second byte of the prefixes starting with a
// lowercase trigger (eyJ…, gh…, xox…, sk_/rk_; github_pat_ is tested apart),
// so that ordinary words cost one comparison.
var secondByte = [256]byte{'e': 'y', 'g': 'h', 'x': 'o', 's': 'k', 'r': 'k'}

// secondByteLikely is the inlinable first test for tE and tPrefix bytes.
func secondByteLikely(v []byte, i int) bool {
	return i+1 < len(v) && (v[i+1] == secondByte[v[i]] || v[i] == 'g' && v[i+1] == 'i')
}

// ibanLikely is ibanAt's inlinable first test: two letters and two digits
// at a token start.
func ibanLikely(v []byte, i int) bool {
	return i+3 < len(v) && isUpper(v[i+1]) && isDigit(v[i+2]) && isDigit(v[i+3]) && !alnumBefore(v, i)
}

// opaqueID reports whether v is exactly a UUID (8-4-4-4-12 hex digits) or a
// traceparent (2-32-16-2 lowercase hex digits), the most common values with
// many digits in baggage and the ones that make the digit rules work
// hardest. No rule can match such a value unless the nine-bare-digit SSN
// rule is on (a run like "a123456789b" inside the hex), which is why Scan
// only takes this shortcut without HintSSN; the fuzz test checks that the
// shortcut never changes a result.
func opaqueID(v []byte) bool {
	switch len(v) {
	case 36:
		return v[8] == '-' && v[13] == '-' && v[18] == '-' && v[23] == '-' &&
			hexOnly(v[:8], 0) && hexOnly(v[9:13], 0) && hexOnly(v[14:18], 0) &&
			hexOnly(v[19:23], 0) && hexOnly(v[24:], 0)
	case 55:
		return v[2] == '-' && v[35] == '-' && v[52] == '-' &&
			hexOnly(v[:2], chUpper) && hexOnly(v[3:35], chUpper) &&
			hexOnly(v[36:52], chUpper) && hexOnly(v[53:], chUpper)
	}
	return false
}

// hexOnly reports whether every byte of b is a hex digit without the class
// flags in forbid.
func hexOnly(b []byte, forbid uint16) bool {
	mask := chHex | forbid
	for _, c := range b {
		if charFlags[c]&mask != chHex {
			return false
		}
	}
	return true
}
