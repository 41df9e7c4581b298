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
// are not looked up.
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
		hint, id := KeyHint(0), wOther
		if w := key[i:j]; len(w) <= maxWord {
			// Most words are not listed and land on an empty slot, which
			// is tested here without a call. A word not listed may be a
			// plural ("cookies").
			var e *wordEntry
			if k := wordSlot(wordHash(w)); wordTable[k] != 0 {
				e = findWord(w, k)
			}
			if e == nil && len(w) > 3 && w[len(w)-1]|0x20 == 's' {
				if k := wordSlot(wordHash(w[:len(w)-1])); wordTable[k] != 0 {
					e = findWord(w[:len(w)-1], k)
				}
			}
			if e != nil {
				hint, id = e.hint, e.id
			}
		}
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
// A word is a run of digits, a run of lowercase letters that one uppercase
// letter may lead ("Phone"), or a run of uppercase letters (an acronym),
// which ends before an uppercase letter followed by a lowercase one ("APIKey"
// is API, Key).
func wordEnd(key []byte, i int) int {
	n := len(key)
	j := i + 1
	switch wordClass[key[i]] {
	case wcDigit:
		for j < n && wordClass[key[j]] == wcDigit {
			j++
		}
		return j
	case wcUpper:
		if j < n && wordClass[key[j]] == wcUpper {
			for j < n && wordClass[key[j]] == wcUpper && (j+1 == n || wordClass[key[j+1]] != wcLower) {
				j++
			}
			return j
		}
	}
	for j < n && wordClass[key[j]] == wcLower {
		j++
	}
	return j
}

// Word classes of key bytes, one table load a byte for wordEnd.
const (
	wcNone uint8 = iota
	wcDigit
	wcLower
	wcUpper
)

var wordClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = wcDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = wcLower
		t[c-'a'+'A'] = wcUpper
	}
	return t
}()

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

// hintWords is the hint list of reference-notes §5 ("Key-name hints"): every
// word a key name is split into is looked up in it, lowercased. Words not
// listed mean nothing (0, wOther), so every entry has a hint or a pair id.
var hintWords = []wordEntry{
	// Personal data.
	{"email", pii, wOther}, {"mail", pii, wOther}, {"emailaddress", pii, wOther}, {"username", pii, wOther},
	{"zip", pii, wOther}, {"zipcode", pii, wOther}, {"postcode", pii, wOther}, {"postal", pii, wOther},
	{"postalcode", pii, wOther},
	{"dob", pii, wOther}, {"birth", pii, wOther}, {"birthdate", pii, wOther}, {"birthday", pii, wOther},
	{"dateofbirth", pii, wOther},
	{"geo", pii, wOther}, {"geolocation", pii, wOther}, {"passport", pii, wOther}, {"taxid", pii, wOther},
	{"iban", pii, wOther}, {"card", pii, wOther}, {"pan", pii, wOther}, {"creditcard", pii, wOther},
	{"cardnumber", pii, wOther}, {"cvv", pii, wOther}, {"cvc", pii, wOther},
	{"firstname", pii, wOther}, {"lastname", pii, wOther}, {"fullname", pii, wOther}, {"surname", pii, wOther},
	{"address", pii, wAddress},
	{"ip", pii, wIP},
	{"phone", phone, wOther}, {"msisdn", phone, wOther}, {"mobile", phone, wOther}, {"tel", phone, wOther},
	{"telephone", phone, wOther}, {"cellphone", phone, wOther}, {"phonenumber", phone, wOther},
	{"ssn", ssn, wOther}, {"socialsecurity", ssn, wOther}, {"nationalid", ssn, wOther},
	// Secrets.
	{"password", secret, wOther}, {"passwd", secret, wOther}, {"pwd", secret, wOther},
	{"passphrase", secret, wOther}, {"passcode", secret, wOther}, {"secret", secret, wOther},
	{"token", secret, wOther}, {"apikey", secret, wOther}, {"accesskey", secret, wOther},
	{"privatekey", secret, wOther}, {"auth", secret, wOther}, {"authorization", secret, wOther},
	{"bearer", secret, wOther}, {"session", secret, wOther}, {"sessionid", secret, wOther},
	{"cookie", secret, wOther}, {"jwt", secret, wOther}, {"credential", secret, wOther},
	{"signature", secret, wOther}, {"otp", secret, wOther},
	// Pair words: harmless alone.
	{"api", 0, wAPI}, {"access", 0, wAccess}, {"private", 0, wPrivate}, {"signing", 0, wSigning},
	{"encryption", 0, wEncryption}, {"key", 0, wKey}, {"first", 0, wFirst}, {"last", 0, wLast},
	{"full", 0, wFull}, {"given", 0, wGiven}, {"family", 0, wFamily}, {"middle", 0, wMiddle},
	{"user", 0, wUser}, {"name", 0, wName}, {"social", 0, wSocial}, {"security", 0, wSecurity},
	{"national", 0, wNational}, {"tax", 0, wTax}, {"id", 0, wID}, {"post", 0, wPost},
	{"code", 0, wCode}, {"pass", 0, wPass}, {"word", 0, wWord}, {"phrase", 0, wPhrase},
	{"account", 0, wAccount}, {"number", 0, wNumber},
	{"server", 0, wMachine}, {"host", 0, wMachine}, {"hostname", 0, wMachine}, {"peer", 0, wMachine},
	{"destination", 0, wMachine}, {"upstream", 0, wMachine}, {"proxy", 0, wMachine},
	{"network", 0, wMachine}, {"net", 0, wMachine}, {"socket", 0, wMachine}, {"local", 0, wMachine},
	{"gateway", 0, wMachine}, {"node", 0, wMachine}, {"pod", 0, wMachine}, {"broker", 0, wMachine},
}

// wordEntry is one word of the hint list, lowercase, with what it means.
type wordEntry struct {
	word string
	hint KeyHint
	id   wordID
}

// wordHash hashes a word of letters and digits, in either case, by its
// length and its first, second and last bytes: enough to spread the hint
// words over wordTable, and cheap enough that a word not listed costs no
// loop over its bytes. w|0x20 lowercases a letter and leaves a digit as it
// is.
func wordHash(w []byte) uint32 {
	if len(w) < 2 {
		if len(w) == 0 {
			return 0
		}
		return 1 | uint32(w[0]|0x20)<<8
	}
	return uint32(len(w)) | uint32(w[0]|0x20)<<8 | uint32(w[1]|0x20)<<16 | uint32(w[len(w)-1]|0x20)<<24
}

// wordSlots is the size of wordTable, a power of two about five times the
// number of words, so that most words not listed land on an empty slot.
const (
	wordSlotBits = 9
	wordSlots    = 1 << wordSlotBits
)

// wordTable indexes hintWords by hash, with linear probing: a slot holds
// 0 when empty, else the entry's index plus one. At one byte a slot it
// stays in cache, and most words not listed are rejected by an empty slot.
var wordTable = func() (t [wordSlots]uint8) {
	if len(hintWords) >= 1<<8 {
		panic("pii: too many hint words for wordTable")
	}
	for i, e := range hintWords {
		for k := wordSlot(wordHash([]byte(e.word))); ; k = (k + 1) % wordSlots {
			if t[k] == 0 {
				t[k] = uint8(i + 1)
				break
			}
		}
	}
	return t
}()

// wordSlot spreads a word hash over the table.
func wordSlot(h uint32) uint32 { return (h * 0x9e3779b1) >> (32 - wordSlotBits) }

// findWord returns the entry of the alphanumeric word w, compared without
// regard to case, searching from its slot k; nil when w is not listed.
func findWord(w []byte, k uint32) *wordEntry {
	for ; ; k = (k + 1) % wordSlots {
		x := wordTable[k]
		if x == 0 {
			return nil
		}
		if e := &hintWords[x-1]; len(e.word) == len(w) && equalLower(w, e.word) {
			return e
		}
	}
}

// equalLower reports whether the alphanumeric w, lowercased, equals the
// lowercase s of the same length.
func equalLower(w []byte, s string) bool {
	for i := 0; i < len(s) && i < len(w); i++ {
		if w[i]|0x20 != s[i] {
			return false
		}
	}
	return true
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
