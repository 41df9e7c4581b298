package pii

import (
	"regexp"
	"testing"
)

func TestKindNames(t *testing.T) {
	want := []string{"email", "payment_card", "jwt", "api_key", "bearer_token", "ssn", "iban", "phone"}
	kinds := AllKinds()
	if len(kinds) != len(want) {
		t.Fatalf("AllKinds has %d kinds, want %d", len(kinds), len(want))
	}
	for i, k := range kinds {
		if k.String() != want[i] {
			t.Errorf("kind %d: String() = %q, want %q", i, k.String(), want[i])
		}
	}
	if Email != 1 || Phone != 8 {
		t.Errorf("kind numbering changed: Email=%d Phone=%d", Email, Phone)
	}
	for _, k := range []Kind{0, 9, 255} {
		if k.String() != "unknown" {
			t.Errorf("Kind(%d).String() = %q", k, k.String())
		}
	}
	if n := testing.AllocsPerRun(10, func() { _ = AllKinds() }); n != 0 {
		t.Errorf("AllKinds allocates %v", n)
	}
}

func TestSet(t *testing.T) {
	var s Set
	if s.Len() != 0 || s.Has(Email) {
		t.Fatal("zero Set is not empty")
	}
	s = s.With(Email).With(IBAN).With(Email)
	if !s.Has(Email) || !s.Has(IBAN) || s.Has(Phone) || s.Len() != 2 {
		t.Fatalf("Set = %016b", s)
	}
	for _, k := range []Kind{0, 9, 15, 16, 200} {
		if s.With(k) != s {
			t.Errorf("With(%d) changed the set", k)
		}
		if Set(0xffff).Has(k) {
			t.Errorf("Has(%d) on a full mask", k)
		}
	}
	var all Set
	for _, k := range AllKinds() {
		all = all.With(k)
	}
	if all != allSet || all.Len() != numKinds {
		t.Fatalf("all kinds = %016b, allSet = %016b", all, allSet)
	}
	if Set(0xffff).Len() != numKinds {
		t.Errorf("Len counts undefined bits")
	}
}

var hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestFingerprinter(t *testing.T) {
	a := NewFingerprinterWithKey([]byte("key-a"))
	b := NewFingerprinterWithKey([]byte("key-b"))
	v := []byte("alice@example.com")
	sa, sb := a.Sum(v), b.Sum(v)
	if !hex16.MatchString(sa) || !hex16.MatchString(sb) {
		t.Fatalf("not 16 lowercase hex chars: %q %q", sa, sb)
	}
	if sa == sb {
		t.Error("different keys gave the same fingerprint")
	}
	if a.Sum(v) != sa || NewFingerprinterWithKey([]byte("key-a")).Sum(v) != sa {
		t.Error("fingerprint is not stable for one key")
	}
	if a.Sum([]byte("bob@example.com")) == sa {
		t.Error("different values gave the same fingerprint")
	}
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") starts
	// with f7bc83f430538424 (the example in Wikipedia's HMAC article).
	if got := NewFingerprinterWithKey([]byte("key")).Sum([]byte("The quick brown fox jumps over the lazy dog")); got != "f7bc83f430538424" {
		t.Errorf("known vector: got %s", got)
	}

	r1, err := NewFingerprinter()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := NewFingerprinter()
	if err != nil {
		t.Fatal(err)
	}
	if r1.Sum(v) == r2.Sum(v) {
		t.Error("two random keys gave the same fingerprint")
	}
	var z Fingerprinter
	if s := z.Sum(v); !hex16.MatchString(s) || s != z.Sum(v) || s == NewFingerprinterWithKey(nil).Sum(v) {
		t.Errorf("zero Fingerprinter: %q", s)
	}

	key := []byte("mutable")
	f := NewFingerprinterWithKey(key)
	before := f.Sum(v)
	key[0] = 'X'
	if f.Sum(v) != before {
		t.Error("key was not copied")
	}

	buf := make([]byte, 0, 16)
	if n := testing.AllocsPerRun(100, func() { buf = a.AppendSum(buf[:0], v) }); n != 0 && !raceEnabled {
		t.Errorf("AppendSum allocates %v", n)
	}
}

func TestFingerprinterConcurrent(t *testing.T) {
	f := NewFingerprinterWithKey([]byte("k"))
	want := f.Sum([]byte("v"))
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func() {
			ok := true
			for i := 0; i < 200; i++ {
				ok = ok && f.Sum([]byte("v")) == want
			}
			done <- ok
		}()
	}
	for g := 0; g < 4; g++ {
		if !<-done {
			t.Error("concurrent Sum disagreed")
		}
	}
}

func TestDigitFlagIsBitZero(t *testing.T) {
	if chDigit != 1 {
		t.Fatal("digitRun adds chDigit as a count; it must be bit 0")
	}
}
