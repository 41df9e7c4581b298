package pii

// KeyHint is what a key name says about its value. It drives the key-gated
// rules of Scan and the "suspect" severity (key name only, value unconfirmed).
type KeyHint uint8

// Hints derived from key names.
const (
	// HintPhone: the key names a phone number; Scan then accepts bare digits.
	HintPhone KeyHint = 1 << iota
	// HintSSN: the key names a national id; Scan then accepts nine bare digits.
	HintSSN
	// HintPII: the key names personal data (email, address, birth date, ...).
	HintPII
	// HintSecret: the key names a credential (password, token, session, ...).
	HintSecret
)

// Suspect reports whether the key name alone suggests personal data or a
// secret, whatever the value looks like.
func (h KeyHint) Suspect() bool { return h&(HintPhone|HintSSN|HintPII|HintSecret) != 0 }

// maxWord is the longest word in the hint lists; longer words cannot match and
// are skipped without being copied.
const maxWord = 16

// ClassifyKey derives hints from a key name such as "user.email", "userPhone",
// "X_API_KEY" or "session-token". The key is split into words at every byte
// that is not a letter or digit (so '.', '_', '-', ':', '/', ...), at
// lower→upper case changes ("userPhone"), at the end of an acronym
// ("APIKey" → API, Key) and between letters and digits; words are compared
// case-insensitively, alone and as adjacent pairs ("api key", "first name").
// It does not allocate and runs in time linear in len(key).
func ClassifyKey(key []byte) KeyHint {
	var h KeyHint
	prev := wOther
	i := 0
	for i < len(key) {
		if !isAlnum(key[i]) {
			i++
			continue
		}
		j := wordEnd(key, i)
		hint, id := lookupWord(key[i:j])
		if (id == wAddress || id == wIP) && prev == wMachine {
			hint = 0 // "server.address", "host.ip": a machine, not a person
		}
		h |= hint | pairHint(prev, id)
		prev = id
		i = j
	}
	return h
}

// wordEnd returns the end of the word starting at the alphanumeric key[i].
func wordEnd(key []byte, i int) int {
	j := i + 1
	for j < len(key) {
		c, p := key[j], key[j-1]
		if !isAlnum(c) || isDigit(c) != isDigit(p) {
			break
		}
		if isUpper(c) && (isLower(p) || isUpper(p) && j+1 < len(key) && isLower(key[j+1])) {
			break
		}
		j++
	}
	return j
}

// wordID names the words that matter as part of a pair.
type wordID uint8

const (
	wOther wordID = iota
	wAPI
	wAccess
	wPrivate
	wSigning
	wEncryption
	wKey
	wFirst
	wLast
	wFull
	wGiven
	wFamily
	wMiddle
	wUser
	wName
	wSocial
	wSecurity
	wNational
	wTax
	wID
	wPost
	wCode
	wPass
	wWord
	wPhrase
	wAccount
	wNumber
	wAddress
	wIP
	wMachine // server, host, peer, ...: "server.address" is not personal
)

const (
	pii    = HintPII
	secret = HintSecret
	phone  = HintPhone | HintPII
	ssn    = HintSSN | HintPII
)

// lookupWord lowercases w into a stack buffer and looks it up, retrying
// without a plural 's' ("credentials", "cookies").
func lookupWord(w []byte) (KeyHint, wordID) {
	if len(w) > maxWord {
		return 0, wOther
	}
	var buf [maxWord]byte
	for k, c := range w {
		buf[k] = lowerASCII(c)
	}
	s := buf[:len(w)]
	h, id := word(s)
	if h == 0 && id == wOther && len(s) > 3 && s[len(s)-1] == 's' {
		h, id = word(s[:len(s)-1])
	}
	return h, id
}

// word is the hint list of reference-notes §5 ("Key-name hints"), one
// lowercase word per case. The switch on string(w) compiles to a binary search
// over constant strings and does not allocate.
func word(w []byte) (KeyHint, wordID) {
	switch string(w) {
	// Personal data.
	case "email", "mail", "emailaddress", "username",
		"zip", "zipcode", "postcode", "postal", "postalcode",
		"dob", "birth", "birthdate", "birthday", "dateofbirth",
		"geo", "geolocation", "passport", "taxid",
		"iban", "card", "pan", "creditcard", "cardnumber", "cvv", "cvc",
		"firstname", "lastname", "fullname", "surname":
		return pii, wOther
	case "address":
		return pii, wAddress
	case "ip":
		return pii, wIP
	case "phone", "msisdn", "mobile", "tel", "telephone", "cellphone", "phonenumber":
		return phone, wOther
	case "ssn", "socialsecurity", "nationalid":
		return ssn, wOther
	// Secrets.
	case "password", "passwd", "pwd", "passphrase", "passcode", "secret",
		"token", "apikey", "accesskey", "privatekey", "auth", "authorization",
		"bearer", "session", "sessionid", "cookie", "jwt", "credential",
		"signature", "otp":
		return secret, wOther
	// Pair words: harmless alone.
	case "api":
		return 0, wAPI
	case "access":
		return 0, wAccess
	case "private":
		return 0, wPrivate
	case "signing":
		return 0, wSigning
	case "encryption":
		return 0, wEncryption
	case "key":
		return 0, wKey
	case "first":
		return 0, wFirst
	case "last":
		return 0, wLast
	case "full":
		return 0, wFull
	case "given":
		return 0, wGiven
	case "family":
		return 0, wFamily
	case "middle":
		return 0, wMiddle
	case "user":
		return 0, wUser
	case "name":
		return 0, wName
	case "social":
		return 0, wSocial
	case "security":
		return 0, wSecurity
	case "national":
		return 0, wNational
	case "tax":
		return 0, wTax
	case "id":
		return 0, wID
	case "post":
		return 0, wPost
	case "code":
		return 0, wCode
	case "pass":
		return 0, wPass
	case "word":
		return 0, wWord
	case "phrase":
		return 0, wPhrase
	case "account":
		return 0, wAccount
	case "number":
		return 0, wNumber
	case "server", "host", "hostname", "peer", "destination", "upstream", "proxy",
		"network", "net", "socket", "local", "gateway", "node", "pod", "broker":
		return 0, wMachine
	}
	return 0, wOther
}

// pairHint returns the hint that two adjacent words carry together.
func pairHint(prev, cur wordID) KeyHint {
	switch cur {
	case wKey:
		switch prev {
		case wAPI, wAccess, wPrivate, wSigning, wEncryption:
			return secret
		}
	case wName:
		switch prev {
		case wFirst, wLast, wFull, wGiven, wFamily, wMiddle, wUser:
			return pii
		}
	case wSecurity:
		if prev == wSocial {
			return ssn
		}
	case wID:
		switch prev {
		case wNational:
			return ssn
		case wTax:
			return pii
		}
	case wCode:
		if prev == wPost {
			return pii
		}
	case wWord, wPhrase:
		if prev == wPass {
			return secret
		}
	case wNumber:
		if prev == wAccount {
			return pii
		}
	}
	return 0
}
