package pii

import "testing"

// quietHints are the hint sets Quiet must answer for.
var quietHints = []KeyHint{0, HintPhone, HintSSN, HintPII, HintSecret, HintPhone | HintSSN | HintPII | HintSecret}

// checkQuiet fails when Quiet(b) holds but Scan, under some hint, finds
// something in a part of b: a sub-slice no letter or digit precedes.
func checkQuiet(t *testing.T, b []byte) {
	t.Helper()
	if !Quiet(b) {
		return
	}
	for i := 0; i <= len(b); i++ {
		if alnumBefore(b, i) {
			continue
		}
		for j := i; j <= len(b); j++ {
			for _, h := range quietHints {
				if got := Scan(b[i:j], h); got != 0 {
					t.Fatalf("Quiet(%q) but Scan(%q, %04b) = %s", b, b[i:j], h, kindNamesOf(got))
				}
			}
		}
	}
}

var quietSeeds = []string{
	"", "tenant=acme,region=eu-west-1,plan=enterprise,feature.canary=true,deployment=canary-7",
	"tenant.id=acme-corp,session.region=eu-west-1,feature.flags=new-checkout%3Bdark-mode,request.priority=high",
	"a=jane@example.com", "k=+14155552671", "k=415 555 2671", "k=415-555-2671", "k=123456",
	"k=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "key=eyes", "dark=sk", "k=sk_live_0123456789abcdef",
	"k=ghp_0123456789abcdefghijABCDEFGHIJ012345", "region=origin", "k=xoxb-0123456789-abc", "box=xo",
	"k=AKIAIOSFODNN7EXAMPLE", "k=AIzaSyA-0123456789abcdefghijklmnopqrstu", "Alpha=Beta",
	"k=DE89370400440532013000", "k=DE89 3704 0044 0532 0130 00", "AB12=CD34",
	"k=-----BEGIN RSA PRIVATE KEY", "-B", "k=Bearer abc", "k=basic xyz", "label=babel", "k=BEARER\tx",
	"4111-1111-1111-1111", "1.2.3.4.5.6.7", "(1)2 3", "v1.2.3-rc4", "a1b2c3d4e5f6g7h8",
}

func TestQuiet(t *testing.T) {
	for _, s := range quietSeeds {
		checkQuiet(t, []byte(s))
	}
	// Quiet must not be so cautious that clean baggage never passes.
	for _, s := range quietSeeds[1:3] {
		if !Quiet([]byte(s)) {
			t.Errorf("Quiet(%q) = false", s)
		}
	}
}

// FuzzQuiet checks Quiet's promise on every part of the input and under
// every hint, against Scan itself.
func FuzzQuiet(f *testing.F) {
	for _, s := range quietSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64 {
			b = b[:64] // every part of it is scanned: keep the cubic cost small
		}
		checkQuiet(t, b)
	})
}
