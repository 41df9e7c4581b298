package pii

import (
	"bytes"
	"testing"
)

func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"", "alice", "alice@example.com", "tenant@system", "4111 1111 1111 1111", "4111-1111-1111-1111",
		"378282246310005", "1700000000000", jwtHS256, jwtNoAlg, awsKey, githubPAT, githubFine, slackToken,
		stripeLive, googleKey, pemRSA, "Bearer abc", "Basic dXNlcjpwYXNz", "536-90-4399", "536904399",
		ibanExamples[0], "GB29NWBK60161331926819", "+14155552671", "(415) 555-2671", "192.168.1.1",
		"550e8400-e29b-41d4-a716-446655440000", "eyJeyJeyJ", "a@a@a@a@", "-----BEGIN-----BEGIN",
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(HintPhone|HintSSN))
	}
	f.Fuzz(func(t *testing.T, v []byte, h uint8) {
		hint := KeyHint(h)
		orig := bytes.Clone(v)
		got := Scan(v, hint)
		if !bytes.Equal(v, orig) {
			t.Fatal("Scan modified its input")
		}
		if got&^allSet != 0 {
			t.Fatalf("undefined kind bits %016b", got)
		}
		if again := Scan(v, hint); again != got {
			t.Fatalf("not deterministic: %016b then %016b", got, again)
		}
		if full := scan(v, hint); full != got {
			t.Fatalf("opaque-id shortcut changed the result: %016b vs %016b", got, full)
		}
		// Hints only enable rules.
		if base := Scan(v, 0); got&base != base {
			t.Fatalf("hint %04b lost kinds: %016b vs %016b", hint, got, base)
		}
		// Surrounding the value with spaces creates boundaries, it never
		// removes any.
		padded := append(append([]byte(" "), v...), ' ')
		if p := Scan(padded, hint); p&got != got {
			t.Fatalf("padding lost kinds: %016b vs %016b", p, got)
		}
		checkNecessary(t, v, got)
	})
}

// checkNecessary asserts the cheap necessary conditions of each kind, which
// catch a rule firing on input that cannot hold its shape.
func checkNecessary(t *testing.T, v []byte, got Set) {
	t.Helper()
	digits := 0
	for _, c := range v {
		if isDigit(c) {
			digits++
		}
	}
	if got.Has(Email) && bytes.IndexByte(v, '@') < 0 {
		t.Fatal("email without '@'")
	}
	if got.Has(PaymentCard) && digits < 13 {
		t.Fatal("card with fewer than 13 digits")
	}
	if got.Has(JWT) && bytes.Count(v, []byte(".")) < 2 {
		t.Fatal("jwt without two dots")
	}
	if got.Has(JWT) && !bytes.Contains(v, []byte("eyJ")) {
		t.Fatal("jwt without eyJ")
	}
	if got.Has(SSN) && digits < 9 {
		t.Fatal("ssn with fewer than 9 digits")
	}
	if got.Has(Phone) && digits < minPhoneDigits {
		t.Fatal("phone with fewer than 7 digits")
	}
	if got.Has(IBAN) && len(v) < 15 {
		t.Fatal("iban shorter than 15 bytes")
	}
	if got.Has(BearerToken) && len(v) < len("basic x") {
		t.Fatal("bearer token too short")
	}
	if got.Has(APIKey) && len(v) < 15 {
		t.Fatal("api key shorter than any rule")
	}
}

func FuzzClassifyKey(f *testing.F) {
	for _, s := range []string{
		"", "user.email", "userPhone", "X_API_KEY", "session-token", "APIKey", "user.id", "enduser.id",
		"customer_id", "server.address", "social_security_number", "XMLHttpRequest", "a1b2C3", "...",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, key []byte) {
		h := ClassifyKey(key)
		if h&^(HintPhone|HintSSN|HintPII|HintSecret) != 0 {
			t.Fatalf("undefined hint bits %08b", h)
		}
		if h != ClassifyKey(key) {
			t.Fatal("not deterministic")
		}
		if h.Suspect() != (h != 0) {
			t.Fatal("Suspect disagrees with the hint bits")
		}
		if h&(HintPhone|HintSSN) != 0 && h&HintPII == 0 {
			t.Fatal("phone/ssn hint without HintPII")
		}
		// A leading separator-delimited word that is no hint word changes
		// nothing.
		if p := ClassifyKey(append([]byte("zz."), key...)); p != h {
			t.Fatalf("prefix changed hints: %04b vs %04b", p, h)
		}
		// For an all-lowercase key, upper-casing it keeps the same words.
		lower := bytes.ToLower(key)
		if lh := ClassifyKey(lower); lh != ClassifyKey(bytes.ToUpper(lower)) && isASCII(lower) {
			t.Fatalf("case changed hints for %d-byte key", len(key))
		}
	})
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
