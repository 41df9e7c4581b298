package pii

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// The key classifier as it was before the word table: a string switch per
// word, after copying the word lowercased, and the word splitter with its
// chains of class tests. It is the oracle of FuzzClassifyKeyTable and must
// not be optimised.

func isLower(c byte) bool { return charFlags[c]&chLower != 0 }

func refClassifyKey(key []byte) KeyHint {
	var h KeyHint
	prev := wOther
	i := 0
	for i < len(key) {
		if !isAlnum(key[i]) {
			i++
			continue
		}
		j := refWordEnd(key, i)
		hint, id := refLookupWord(key[i:j])
		if (id == wAddress || id == wIP) && prev == wMachine {
			hint = 0 // "server.address", "host.ip": a machine, not a person
		}
		h |= hint | pairHint(prev, id)
		prev = id
		i = j
	}
	return h
}

// refWordEnd returns the end of the word starting at the alphanumeric key[i].
func refWordEnd(key []byte, i int) int {
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

// refLookupWord lowercases w into a stack buffer and looks it up, retrying
// without a plural 's' ("credentials", "cookies").
func refLookupWord(w []byte) (KeyHint, wordID) {
	if len(w) > maxWord {
		return 0, wOther
	}
	var buf [maxWord]byte
	for k, c := range w {
		buf[k] = lowerASCII(c)
	}
	s := buf[:len(w)]
	h, id := refWord(s)
	if h == 0 && id == wOther && len(s) > 3 && s[len(s)-1] == 's' {
		h, id = refWord(s[:len(s)-1])
	}
	return h, id
}

// refWord is the hint list of reference-notes §5 ("Key-name hints"), one
// lowercase word per case. The switch on string(w) compiles to a binary search
// over constant strings and does not allocate.
func refWord(w []byte) (KeyHint, wordID) {
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

// refWordCases returns every word refWord's switch lists, read from this
// file's source, so that TestHintWordsMatchSwitch sees a word added to one
// list and not to the other.
func refWordCases(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "ref_key_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "refWord" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					lit, ok := e.(*ast.BasicLit)
					if !ok {
						t.Fatalf("case %T in refWord", e)
					}
					w, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					words = append(words, w)
				}
			}
			return true
		})
		return false
	})
	return words
}

// tableWord looks w up in wordTable as ClassifyKey does.
func tableWord(w []byte) *wordEntry {
	k := wordSlot(wordHash(w))
	if wordTable[k] == 0 {
		return nil
	}
	return findWord(w, k)
}

// TestHintWordsMatchSwitch checks that hintWords and refWord list the same
// words with the same hints and ids, and that the table finds each one.
func TestHintWordsMatchSwitch(t *testing.T) {
	cases := refWordCases(t)
	if len(cases) != len(hintWords) {
		t.Fatalf("switch lists %d words, hintWords %d", len(cases), len(hintWords))
	}
	for _, w := range cases {
		wantHint, wantID := refWord([]byte(w))
		e := tableWord([]byte(w))
		if e == nil || e.word != w || e.hint != wantHint || e.id != wantID {
			t.Errorf("%q: table %+v, switch %04b %d", w, e, wantHint, wantID)
		}
		if up := bytes.ToUpper([]byte(w)); tableWord(up) != e {
			t.Errorf("%q: upper case not found", up)
		}
	}
}

var classifyKeySeeds = []string{
	"", "user.email", "userPhone", "X_API_KEY", "session-token", "APIKey", "user.id", "enduser.id",
	"customer_id", "server.address", "host.ip", "social_security_number", "XMLHttpRequest", "a1b2C3",
	"...", "cookies", "Credentials", "passes", "ssns", "ips", "PassWord", "first_name", "tenant.id",
	"feature.flags", "session.region", "request.priority", "deployment", "averyveryverylongwordindeed",
	"emailaddresses", "postalcodes", "IPAddress", "userIPs", "2fa", "tel2", "AKey", "aKEY", "ÄEMAIL",
}

// FuzzClassifyKeyTable checks ClassifyKey, with its word table and its
// one-table splitter, against the switch and the splitter it replaced.
func FuzzClassifyKeyTable(f *testing.F) {
	for _, s := range classifyKeySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		if got, want := ClassifyKey(key), refClassifyKey(key); got != want {
			t.Fatalf("ClassifyKey(%q) = %04b, reference %04b", key, got, want)
		}
		for i := range key {
			if isAlnum(key[i]) {
				if got, want := wordEnd(key, i), refWordEnd(key, i); got != want {
					t.Fatalf("wordEnd(%q, %d) = %d, reference %d", key, i, got, want)
				}
			}
		}
	})
}

// TestClassifyKeyTable runs FuzzClassifyKeyTable's check over every word
// of the list in several spellings and over pairs of them, which puts
// every listed word, plural and pair through both classifiers.
func TestClassifyKeyTable(t *testing.T) {
	check := func(k string) {
		t.Helper()
		if got, want := ClassifyKey([]byte(k)), refClassifyKey([]byte(k)); got != want {
			t.Fatalf("ClassifyKey(%q) = %04b, reference %04b", k, got, want)
		}
	}
	for _, s := range classifyKeySeeds {
		check(s)
	}
	for _, a := range hintWords {
		for _, k := range []string{a.word, a.word + "s", strings.ToUpper(a.word), "x_" + a.word + "_1", a.word[:len(a.word)-1]} {
			check(k)
		}
		for _, b := range hintWords {
			check(a.word + "." + b.word)
			check(a.word + strings.ToUpper(b.word[:1]) + b.word[1:])
		}
	}
}
