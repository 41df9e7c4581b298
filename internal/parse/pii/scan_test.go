package pii

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

type scanCase struct {
	name  string
	value string
	hint  KeyHint
	want  []Kind
}

func setOf(ks ...Kind) Set {
	var s Set
	for _, k := range ks {
		s = s.With(k)
	}
	return s
}

func kindNamesOf(s Set) string {
	var b strings.Builder
	for _, k := range AllKinds() {
		if s.Has(k) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(k.String())
		}
	}
	return "{" + b.String() + "}"
}

func runScanCases(t *testing.T, cases []scanCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Scan([]byte(tc.value), tc.hint)
			if want := setOf(tc.want...); got != want {
				t.Errorf("Scan(%q, %04b) = %s, want %s", tc.value, tc.hint, kindNamesOf(got), kindNamesOf(want))
			}
		})
	}
}

// decoded percent-decodes a raw baggage value the way the caller does before
// its second Scan.
func decoded(t *testing.T, raw string) string {
	t.Helper()
	s, err := url.PathUnescape(raw)
	if err != nil {
		t.Fatalf("bad test value: %v", err)
	}
	return s
}

func TestScanEmail(t *testing.T) {
	runScanCases(t, []scanCase{
		{"plain", "alice@example.com", 0, []Kind{Email}},
		{"subdomains and tag", "user.name+tag@mail.sub.example.co.uk", 0, []Kind{Email}},
		{"short", "x@y.io", 0, []Kind{Email}},
		{"in text", "contact=<bob@example.org>;", 0, []Kind{Email}},
		{"sentence end", "write to bob@example.org.", 0, []Kind{Email}},
		{"second at", "a@b@example.com", 0, []Kind{Email}},
		{"hyphenated domain", "ops@my-company.travel", 0, []Kind{Email}},
		{"upper case", "ALICE@EXAMPLE.COM", 0, []Kind{Email}},
		{"percent-decoded", decoded(t, "alice%40example.com"), 0, []Kind{Email}},
		{"local 64", strings.Repeat("a", 64) + "@example.com", 0, []Kind{Email}},
		{"after hostile prefix", strings.Repeat("a@", 100) + "bob@example.org", 0, []Kind{Email}},

		{"raw percent-encoded", "alice%40example.com", 0, nil},
		{"tenant at system", "tenant@system", 0, nil},
		{"single-letter tld", "a@b.c", 0, nil},
		{"ip domain", "user@10.0.0.1", 0, nil},
		{"version domain", "build@1.2.3", 0, nil},
		{"numeric tld", "svc@host.123", 0, nil},
		{"lone at", "@", 0, nil},
		{"no local", "@example.com", 0, nil},
		{"no domain", "foo@", 0, nil},
		{"local too long", strings.Repeat("a", 65) + "@example.com", 0, nil},
		{"domain too long", "a@" + strings.Repeat("b", 250) + ".com", 0, nil},
		{"label too long", "a@" + strings.Repeat("b", 64) + ".com", 0, nil},
		{"empty label", "a@example..com", 0, nil},
		{"leading hyphen label", "a@-example.com", 0, nil},
		{"punctuation-only local", "..@example.com", 0, nil},
		{"tld glued to word", "user@example.com-prod", 0, nil},
		{"hostile a@a", strings.Repeat("a@", 1000), 0, nil},
	})
}

func TestScanPaymentCard(t *testing.T) {
	runScanCases(t, []scanCase{
		{"visa", "4111111111111111", 0, []Kind{PaymentCard}},
		{"visa spaces", "4111 1111 1111 1111", 0, []Kind{PaymentCard}},
		{"visa hyphens", "4111-1111-1111-1111", 0, []Kind{PaymentCard}},
		{"visa 13", "4222222222222", 0, []Kind{PaymentCard}},
		{"visa 4-3-3-3", "4222 222 222 222", 0, []Kind{PaymentCard}},
		{"mastercard", "5555555555554444", 0, []Kind{PaymentCard}},
		{"mastercard 51", "5105105105105100", 0, []Kind{PaymentCard}},
		{"mastercard 2-series", "2223003122003222", 0, []Kind{PaymentCard}},
		{"amex", "378282246310005", 0, []Kind{PaymentCard}},
		{"amex 4-6-5", "3782 822463 10005", 0, []Kind{PaymentCard}},
		{"discover 6011", "6011111111111117", 0, []Kind{PaymentCard}},
		{"discover 644", "6445644564456445", 0, []Kind{PaymentCard}},
		{"discover 65", "6500000000000002", 0, []Kind{PaymentCard}},
		{"jcb", "3530111333300000", 0, []Kind{PaymentCard}},
		{"jcb 3566", "3566002020360505", 0, []Kind{PaymentCard}},
		{"diners 36", "36227206271667", 0, []Kind{PaymentCard}},
		{"diners 305", "30569309025904", 0, []Kind{PaymentCard}},
		{"unionpay", "6200000000000005", 0, []Kind{PaymentCard}},
		{"in text", "card=4111111111111111;exp=12/29", 0, []Kind{PaymentCard}},
		{"after label", "pan: 4012 8888 8888 1881", 0, []Kind{PaymentCard}},
		{"percent-decoded", decoded(t, "4111%201111%201111%201111"), 0, []Kind{PaymentCard}},
		{"after another number", "12, 4111111111111111", 0, []Kind{PaymentCard}},

		{"luhn fails", "4111111111111112", 0, nil},
		{"mixed separators", "4111 1111-1111 1111", 0, nil},
		{"letter before", "x4111111111111111", 0, nil},
		{"letter after", "4111111111111111x", 0, nil},
		{"hyphen-joined prefix", "INV-4111111111111111", 0, nil},
		{"hyphen-joined suffix", "4111111111111111-b", 0, nil},
		{"too long", "41111111111111111111", 0, nil},
		{"12 digits", "411111111113", 0, nil},
		{"inside longer run", "99994111111111111111", 0, nil},
		{"amex wrong length", "3782822463100051", 0, nil},
		{"unknown issuer 1", "1234567812345670", 0, nil},
		{"unknown issuer 9", "9111111111111119", 0, nil},
		{"bad grouping 8-4-4", "41111111-1111-1111", 0, nil},
		{"bad grouping 2-14", "41 11111111111111", 0, nil},
		{"double space splits", "4111  1111 1111 1111", 0, nil},
		// The candidate is the maximal run: a number glued by a space to a
		// card number makes an 18-digit run with a 2-digit first group.
		{"space-joined numbers", "12 4111111111111111", 0, nil},
	})
}

func TestScanJWT(t *testing.T) {
	runScanCases(t, []scanCase{
		{"hs256", jwtHS256, 0, []Kind{JWT}},
		{"header with spaces", jwtSpaced, 0, []Kind{JWT}},
		{"alg none empty sig", jwtNone, 0, []Kind{JWT}},
		{"in text", "session=" + jwtHS256 + ";path=/", 0, []Kind{JWT}},
		{"long header alg first", jwtLongHeaderAlgFirst, 0, []Kind{JWT}},
		{"bearer", "Bearer " + jwtHS256, 0, []Kind{JWT, BearerToken}},
		{"after eyJ noise", "eyJ eyJ." + jwtHS256, 0, []Kind{JWT}},

		{"header lacks alg", jwtNoAlg, 0, nil},
		{"alg is a value", jwtAlgValue, 0, nil},
		{"header not an object", jwtOpen, 0, nil},
		{"alg beyond bound", jwtLongHeader, 0, nil},
		{"two segments", strings.Join(strings.Split(jwtHS256, ".")[:2], "."), 0, nil},
		{"short header", "eyJhbGc.eyJzdWIiOiIx.sig", 0, nil},
		{"short payload", b64url(`{"alg":"HS256"}`) + ".eyJz.sig", 0, nil},
		{"bad base64 length", b64url(`{"alg":"HS256"}`) + "A.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig", 0, nil},
		{"hostile eyJ", strings.Repeat("eyJ", 1000), 0, nil},
		{"hostile eyJ dots", strings.Repeat("eyJaaaaaaaa.", 1000), 0, nil},
	})
}

func TestScanAPIKey(t *testing.T) {
	runScanCases(t, []scanCase{
		{"aws", awsKey, 0, []Kind{APIKey}},
		{"aws session", awsSessKey, 0, []Kind{APIKey}},
		{"aws a3t", awsA3TKey, 0, []Kind{APIKey}},
		{"aws in text", "key=" + awsKey + ";", 0, []Kind{APIKey}},
		{"github pat", githubPAT, 0, []Kind{APIKey}},
		{"github oauth", githubOAuth, 0, []Kind{APIKey}},
		{"github fine-grained", githubFine, 0, []Kind{APIKey}},
		{"slack", slackToken, 0, []Kind{APIKey}},
		{"stripe live", stripeLive, 0, []Kind{APIKey}},
		{"stripe restricted test", stripeRTest, 0, []Kind{APIKey}},
		{"google", googleKey, 0, []Kind{APIKey}},
		{"pem rsa", pemRSA, 0, []Kind{APIKey}},
		{"pem pkcs8", pemPKCS8, 0, []Kind{APIKey}},
		{"pem openssh", pemOpenSSH, 0, []Kind{APIKey}},
		{"pem encrypted", pemEncrypted, 0, []Kind{APIKey}},
		{"pem percent-decoded", decoded(t, "-----BEGIN%20EC%20PRIVATE%20KEY-----"), 0, []Kind{APIKey}},

		{"aws short", awsKey[:19], 0, nil},
		{"aws glued before", "X" + awsKey, 0, nil},
		{"aws glued after", awsKey + "1", 0, nil},
		{"aws lowercase body", "AKIA" + "iosfodnn7example", 0, nil},
		{"aws digit 8", "AKIA" + "IOSFODNN8EXAMPLE", 0, nil},
		{"github short", "gh" + "p_" + alnum36[:20], 0, nil},
		{"github wrong letter", "gh" + "x_" + alnum36, 0, nil},
		{"github glued", "x" + githubPAT, 0, nil},
		{"slack short", "xo" + "xb-123", 0, nil},
		{"stripe short", "sk" + "_live_abc", 0, nil},
		{"stripe wrong mode", "sk" + "_prod_4eC39HqLyjWDarjtT1zdp7dc", 0, nil},
		{"google short", googleKey[:30], 0, nil},
		{"pem public", "-----BEGIN" + " PUBLIC KEY-----", 0, nil},
		{"pem certificate", "-----BEGIN" + " CERTIFICATE-----", 0, nil},
		{"pem label too long", "-----BEGIN" + strings.Repeat("X", 101) + "PRIVATE KEY", 0, nil},
		{"words", "sky-rocket gh-pages xox ask_live", 0, nil},
	})
}

func TestScanBearer(t *testing.T) {
	runScanCases(t, []scanCase{
		{"bearer", "Bearer abc.def-ghi_jkl", 0, []Kind{BearerToken}},
		{"lowercase padded", "bearer   xyz+/==", 0, []Kind{BearerToken}},
		{"basic", "Basic dXNlcjpwYXNzd29yZA==", 0, []Kind{BearerToken}},
		{"trimmed", " \tBEARER token123 \r\n", 0, []Kind{BearerToken}},
		{"percent-decoded", decoded(t, "Bearer%20abc123"), 0, []Kind{BearerToken}},
		{"tab separator", "Bearer\tabc", 0, []Kind{BearerToken}},

		{"raw percent-encoded", "Bearer%20abc123", 0, nil},
		{"scheme only", "Bearer", 0, nil},
		{"scheme and space", "Bearer ", 0, nil},
		{"no space", "Bearerabc", 0, nil},
		{"prose", "bearer of bad news", 0, nil},
		{"two tokens", "Basic abc def", 0, nil},
		{"padding then text", "Bearer abc==x", 0, nil},
		{"not first", "x Bearer abc", 0, nil},
		{"other scheme", "Digest abc", 0, nil},
		{"only spaces", "   ", 0, nil},
	})
}

func TestScanSSN(t *testing.T) {
	runScanCases(t, []scanCase{
		{"dashed", "536-90-4399", 0, []Kind{SSN}},
		{"in text", "ssn:536-90-4399;", 0, []Kind{SSN}},
		{"letters around", "id536-90-4399x", 0, []Kind{SSN}},
		{"area 001", "001-01-0001", 0, []Kind{SSN}},
		{"bare with hint", "536904399", HintSSN, []Kind{SSN}},
		{"dashed with hint", "772-10-2234", HintSSN | HintPII, []Kind{SSN}},

		{"bare without hint", "536904399", 0, nil},
		{"area 000", "000-12-3456", 0, nil},
		{"area 666", "666-12-3456", 0, nil},
		{"area 9xx", "912-12-3456", 0, nil},
		{"group 00", "536-00-4399", 0, nil},
		{"serial 0000", "536-90-0000", 0, nil},
		{"all same", "555-55-5555", 0, nil},
		{"example", "123-45-6789", 0, nil},
		{"woolworth", "078-05-1120", 0, nil},
		{"longer run before", "1536-90-4399", 0, nil},
		{"longer run after", "536-90-43990", 0, nil},
		{"extra group", "536-90-4399-1", 0, nil},
		{"leading hyphen", "-536-90-4399", 0, nil},
		{"hyphen-joined id", "ORD-536-90-4399", 0, nil},
		{"wrong shape", "5369-04-399", 0, nil},
		{"bare 10 digits with hint", "5369043991", HintSSN, nil},
		{"bare example with hint", "123456789", HintSSN, nil},
		{"date", "2024-01-15", 0, nil},
	})
}

func TestScanIBAN(t *testing.T) {
	for _, ex := range ibanExamples {
		compact := strings.ReplaceAll(ex, " ", "")
		runScanCases(t, []scanCase{
			{ex, ex, 0, []Kind{IBAN}},
			{compact, compact, 0, []Kind{IBAN}},
			{"in text " + compact, "iban=" + compact + ";", 0, []Kind{IBAN}},
		})
	}
	runScanCases(t, []scanCase{
		{"russia", "RU0204452560040702810412345678901", 0, []Kind{IBAN}},
		{"percent-decoded", decoded(t, "DE89%203704%200044%200532%200130%2000"), 0, []Kind{IBAN}},

		{"bad checksum", "DE89370400440532013001", 0, nil},
		{"transposed digits", "DE89370400440532031000", 0, nil},
		{"too short", "DE8937040044053201300", 0, nil},
		{"too long", "DE893704004405320130000", 0, nil},
		{"unknown country", "XX89370400440532013000", 0, nil},
		{"country without iban", "US89370400440532013000", 0, nil},
		{"lowercase", "de89370400440532013000", 0, nil},
		{"glued before", "XDE89370400440532013000", 0, nil},
		{"glued after", "DE89370400440532013000a", 0, nil},
		{"print short", "DE89 3704 0044 0532 0130 0", 0, nil},
		{"print bad grouping", "DE89 37040044 0532 0130 00", 0, nil},
		{"print double space", "DE89  3704 0044 0532 0130 00", 0, nil},
		{"print glued after", "DE89 3704 0044 0532 0130 00X", 0, nil},
		{"uppercase words", "HELLO WORLD AB12 CD34", 0, nil},
	})
}

func TestScanPhone(t *testing.T) {
	runScanCases(t, []scanCase{
		{"e164 us", "+14155552671", 0, []Kind{Phone}},
		{"e164 uk", "+442071838750", 0, []Kind{Phone}},
		{"e164 de mobile", "+4915112345678", 0, []Kind{Phone}},
		{"e164 7 digits", "+1234567", 0, []Kind{Phone}},
		{"e164 15 digits", "+123456789012345", 0, []Kind{Phone}},
		{"tel uri", "tel:+14155552671", 0, []Kind{Phone}},
		{"percent-decoded", decoded(t, "%2B14155552671"), 0, []Kind{Phone}},
		{"hint dashed", "415-555-2671", HintPhone, []Kind{Phone}},
		{"hint parens", "(415) 555-2671", HintPhone, []Kind{Phone}},
		{"hint dots", "415.555.2671", HintPhone, []Kind{Phone}},
		{"hint bare", "4155552671", HintPhone, []Kind{Phone}},
		{"hint international", "+1 (415) 555-2671", HintPhone, []Kind{Phone}},
		{"hint uk local", "020 7183 8750", HintPhone, []Kind{Phone}},
		{"hint 7 digits", "5552671", HintPhone, []Kind{Phone}},

		{"e164 too short", "+123456", 0, nil},
		{"e164 leading zero", "+0123456789", 0, nil},
		{"e164 16 digits", "+1234567890123456", 0, nil},
		{"e164 letter before", "a+14155552671", 0, nil},
		{"e164 digit before", "1+14155552671", 0, nil},
		{"e164 letter after", "+14155552671a", 0, nil},
		{"e164 with spaces no hint", "+1 415 555 2671", 0, nil},
		{"bare without hint", "4155552671", 0, nil},
		{"dashed without hint", "415-555-2671", 0, nil},
		{"semver build", "1.0.0+20130313144700", 0, nil},
		{"timezone", "2024-01-15T10:20:30+0100", 0, nil},
		{"hint ipv4", "192.168.100.200", HintPhone, nil},
		{"hint iso date", "2024-01-15", HintPhone, nil},
		{"hint dotted date", "15.01.2024", HintPhone, nil},
		{"hint 6 digits", "555267", HintPhone, nil},
		{"hint 16 digits", "1234567890123456", HintPhone, nil},
		{"hint glued", "x4155552671", HintPhone, nil},
		{"hint hyphen-joined", "ID-4155552671", HintPhone, nil},
		{"hint letters", "unknown", HintPhone, nil},
	})
}

// TestScanOpaqueIDs: the identifiers that fill real baggage must not be
// reported, whatever checksum they happen to pass.
func TestScanOpaqueIDs(t *testing.T) {
	cases := []scanCase{
		{"word", "alice", 0, nil},
		{"env", "acme-prod", 0, nil},
		{"empty", "", 0, nil},
		{"uuid", "550e8400-e29b-41d4-a716-446655440000", 0, nil},
		{"uuid upper", "550E8400-E29B-41D4-A716-446655440000", 0, nil},
		{"uuid digits", "12345678-1234-4234-9234-123456789012", 0, nil},
		{"uuid digit groups", "41234567-8901-4234-a234-123456789012", 0, nil},
		{"uuid nil", "00000000-0000-0000-0000-000000000000", 0, nil},
		{"ulid", "01ARZ3NDEKTSV4RRFFQ69G5FAV", 0, nil},
		{"ulid 2", "01HQ3J7Y8Z9ABCDEFGHJKMNPQR", 0, nil},
		{"ksuid", "0ujsswThIGTUYm2K8FjOOfXtY1K", 0, nil},
		{"hex16", "00f067aa0ba902b7", 0, nil},
		{"hex32", "4bf92f3577b34da6a3ce929d0e0e4736", 0, nil},
		{"hex40", "da39a3ee5e6b4b0d3255bfef95601890afd80709", 0, nil},
		{"hex64", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 0, nil},
		{"hex32 upper", "4BF92F3577B34DA6A3CE929D0E0E4736", 0, nil},
		{"epoch s", "1700000000", 0, nil},
		{"epoch ms", "1700000000000", 0, nil},
		{"epoch us", "1700000000000000", 0, nil},
		{"epoch ns", "1700000000000000000", 0, nil},
		{"epoch ms now", "1732540000123", 0, nil},
		{"snowflake twitter", "1790123456789012480", 0, nil},
		{"snowflake discord", "175928847299117063", 0, nil},
		{"order number", "ORD-2024-000123", 0, nil},
		{"invoice", "INV-2024-11-000042", 0, nil},
		{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, nil},
		{"semver", "1.2.3", 0, nil},
		{"semver pre", "v10.20.30-rc.1+build.5", 0, nil},
		{"ipv4", "192.168.100.200", 0, nil},
		{"ipv6", "2001:db8::8a2e:370:7334", 0, nil},
		{"date", "2024-01-15", 0, nil},
		{"datetime", "2024-01-15T10:20:30.123Z", 0, nil},
		{"12 digits", "123456789012", 0, nil},
		{"12 digits visa-ish", "411111111111", 0, nil},
		{"tenant", "tenant@system", 0, nil},
		{"k8s pod", "checkout-7d9f8b6c5d-x2x7k", 0, nil},
		{"sha-like upper", "ABCDEF0123456789ABCDEF0123456789", 0, nil},
		{"base64 blob", "eyJmb28iOiJiYXIifQ==", 0, nil},
		{"version list", "1.2.3,4.5.6", 0, nil},
		{"amount", "1234.56", 0, nil},
		{"country and number", "DE 12345", 0, nil},
	}
	// Luhn-valid epoch timestamps: the checksum alone would call them cards.
	for base, n := int64(1700000000000), 0; n < 5; base++ {
		s := strconv.FormatInt(base, 10)
		if luhn(digitsOf(s)) {
			cases = append(cases, scanCase{"luhn epoch ms " + s, s, 0, nil})
			n++
		}
	}
	for base, n := int64(1700000000000000), 0; n < 3; base++ {
		s := strconv.FormatInt(base, 10)
		if luhn(digitsOf(s)) {
			cases = append(cases, scanCase{"luhn epoch us " + s, s, 0, nil})
			n++
		}
	}
	runScanCases(t, cases)
}

func digitsOf(s string) []byte {
	d := make([]byte, len(s))
	for i := range s {
		d[i] = s[i] - '0'
	}
	return d
}

func TestScanSeveralKinds(t *testing.T) {
	v := "mail=alice@example.com;card=4111111111111111;again=bob@example.org;ssn=536-90-4399;" +
		"iban=GB29NWBK60161331926819;tel=+14155552671;key=" + awsKey + ";t=" + jwtHS256
	got := Scan([]byte(v), 0)
	want := setOf(Email, PaymentCard, SSN, IBAN, Phone, APIKey, JWT)
	if got != want {
		t.Fatalf("got %s, want %s", kindNamesOf(got), kindNamesOf(want))
	}
	if got.Len() != 7 {
		t.Fatalf("Len = %d", got.Len())
	}
}

// TestScanHintMonotone: hints only enable rules, never disable them.
func TestScanHintMonotone(t *testing.T) {
	for _, v := range []string{"4155552671", "536904399", "alice@example.com", "1700000000", "+14155552671"} {
		base := Scan([]byte(v), 0)
		for h := KeyHint(0); h < 16; h++ {
			if got := Scan([]byte(v), h); got&base != base {
				t.Errorf("Scan(%q, %04b) = %s lost kinds of %s", v, h, kindNamesOf(got), kindNamesOf(base))
			}
		}
	}
}

func TestScanLargeAndBinary(t *testing.T) {
	big := strings.Repeat("x", 1<<20) + " alice@example.com"
	if got := Scan([]byte(big), 0); got != setOf(Email) {
		t.Fatalf("finding at the end of 1 MiB: got %s", kindNamesOf(got))
	}
	bin := make([]byte, 4096)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	_ = Scan(bin, 0xff) // must not panic
	if got := Scan(nil, 0xff); got != 0 {
		t.Fatalf("Scan(nil) = %s", kindNamesOf(got))
	}
}

func TestScanNoAllocs(t *testing.T) {
	values := [][]byte{
		[]byte("alice"), []byte("acme-prod"), []byte("1700000000"),
		[]byte("550e8400-e29b-41d4-a716-446655440000"), []byte(jwtHS256),
		[]byte("alice@example.com"), []byte("4111 1111 1111 1111"), []byte(ibanExamples[0]),
	}
	allocs := testing.AllocsPerRun(100, func() {
		for _, v := range values {
			Scan(v, HintPhone|HintSSN)
		}
	})
	if allocs != 0 {
		t.Fatalf("Scan allocates: %v allocs/run", allocs)
	}
}

// TestOpaqueShortcut checks the claim behind Scan's UUID/traceparent
// shortcut: without HintSSN, the full scan finds nothing in such values, even
// when their hex groups are all digits (which is when the digit rules work
// hardest).
func TestOpaqueShortcut(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const digits, hexLower, hexUpper = "0123456789", "0123456789abcdef", "0123456789ABCDEF"
	fill := func(b []byte, alphabet string) {
		for i := range b {
			if b[i] != '-' {
				b[i] = alphabet[r.IntN(len(alphabet))]
			}
		}
	}
	shapes := []string{
		"xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
		"xx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx-xx",
	}
	for n := 0; n < 20000; n++ {
		shape := shapes[n%2]
		alphabet := []string{digits, hexLower, hexUpper}[r.IntN(3)]
		if n%2 == 1 && alphabet == hexUpper {
			alphabet = digits // traceparents are lowercase
		}
		b := []byte(shape)
		fill(b, alphabet)
		if !opaqueID(b) {
			t.Fatalf("shape not recognised: %q", b)
		}
		for _, h := range []KeyHint{0, HintPhone, HintPII | HintSecret | HintPhone} {
			if got := scan(b, h); got != 0 {
				t.Fatalf("scan(%q, %04b) = %s: the shortcut would hide it", b, h, kindNamesOf(got))
			}
		}
	}
	// With HintSSN the shortcut is off, and rightly so.
	v := []byte("abcdef12-3456-7890-abcd-ef536904399f")
	if got := Scan(v, HintSSN); !got.Has(SSN) {
		t.Fatalf("Scan(%q, HintSSN) = %s", v, kindNamesOf(got))
	}
	for _, v := range []string{
		"550e8400-e29b-41d4-a716-44665544000",   // short
		"550e8400-e29b-41d4-a716-4466554400000", // long
		"550e8400-e29b-41d4-a716_446655440000",  // wrong separator
		"550e8400-e29b-41d4-a716-44665544000g",  // not hex
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01",
	} {
		if opaqueID([]byte(v)) {
			t.Errorf("opaqueID(%q) = true", v)
		}
	}
}
