package pii

import "testing"

func TestClassifyKey(t *testing.T) {
	cases := []struct {
		key  string
		want KeyHint
	}{
		// Personal data.
		{"user.email", HintPII},
		{"email", HintPII},
		{"userEmail", HintPII},
		{"EMAIL_ADDRESS", HintPII},
		{"e-mail", HintPII},
		{"emailAddress", HintPII},
		{"user.full_name", HintPII},
		{"user.name", HintPII},
		{"userName", HintPII},
		{"username", HintPII},
		{"first_name", HintPII},
		{"lastName", HintPII},
		{"FullName", HintPII},
		{"dob", HintPII},
		{"date_of_birth", HintPII},
		{"birthDate", HintPII},
		{"home.address", HintPII},
		{"zip", HintPII},
		{"postCode", HintPII},
		{"postal_code", HintPII},
		{"iban", HintPII},
		{"credit-card", HintPII},
		{"cardNumber", HintPII},
		{"pan", HintPII},
		{"passport", HintPII},
		{"tax_id", HintPII},
		{"client.ip", HintPII},
		{"geo", HintPII},
		{"account_number", HintPII},
		// Phone and SSN imply personal data.
		{"userPhone", HintPhone | HintPII},
		{"phone_number", HintPhone | HintPII},
		{"msisdn", HintPhone | HintPII},
		{"MOBILE", HintPhone | HintPII},
		{"contact.tel", HintPhone | HintPII},
		{"ssn", HintSSN | HintPII},
		{"customer.SSN", HintSSN | HintPII},
		{"social_security_number", HintSSN | HintPII},
		{"nationalId", HintSSN | HintPII},
		// Secrets.
		{"X_API_KEY", HintSecret},
		{"x-api-key", HintSecret},
		{"apiKey", HintSecret},
		{"APIKey", HintSecret},
		{"apikey", HintSecret},
		{"session-token", HintSecret},
		{"access_token", HintSecret},
		{"aws.accessKey", HintSecret},
		{"private_key", HintSecret},
		{"password", HintSecret},
		{"db_passwd", HintSecret},
		{"pwd", HintSecret},
		{"PassWord", HintSecret},
		{"client_secret", HintSecret},
		{"authorization", HintSecret},
		{"auth", HintSecret},
		{"bearer", HintSecret},
		{"sessionId", HintSecret},
		{"cookie", HintSecret},
		{"cookies", HintSecret},
		{"jwt", HintSecret},
		{"credentials", HintSecret},
		{"signature", HintSecret},
		{"otp", HintSecret},
		{"oauth2:token", HintSecret},
		// Mixed.
		{"user.email.token", HintPII | HintSecret},
		// Not suspect.
		{"user.id", 0},
		{"enduser.id", 0},
		{"customer_id", 0},
		{"tenant", 0},
		{"service.name", 0},
		{"deployment.environment", 0},
		{"server.address", 0},
		{"host.ip", 0},
		{"net.peer.ip", 0},
		{"sentry-public_key", 0},
		{"key", 0},
		{"hotel", 0},
		{"pants", 0},
		{"mailbox_size", 0},
		{"tokenizer", 0},
		{"", 0},
		{"...", 0},
		{"a-very-long-key-name-without-any-hint-words-in-it-at-all", 0},
		{"supercalifragilisticexpialidocious_email", HintPII},
	}
	for _, tc := range cases {
		got := ClassifyKey([]byte(tc.key))
		if got != tc.want {
			t.Errorf("ClassifyKey(%q) = %04b, want %04b", tc.key, got, tc.want)
		}
		if got.Suspect() != (tc.want != 0) {
			t.Errorf("ClassifyKey(%q).Suspect() = %v", tc.key, got.Suspect())
		}
	}
}

func TestWordSplit(t *testing.T) {
	cases := []struct {
		key  string
		want []string
	}{
		{"userPhone", []string{"user", "Phone"}},
		{"APIKey", []string{"API", "Key"}},
		{"X_API_KEY", []string{"X", "API", "KEY"}},
		{"XMLHttpRequest", []string{"XML", "Http", "Request"}},
		{"address2", []string{"address", "2"}},
		{"a.b-c_d", []string{"a", "b", "c", "d"}},
	}
	for _, tc := range cases {
		var got []string
		k := []byte(tc.key)
		for i := 0; i < len(k); {
			if !isAlnum(k[i]) {
				i++
				continue
			}
			j := wordEnd(k, i)
			got = append(got, string(k[i:j]))
			i = j
		}
		if len(got) != len(tc.want) {
			t.Errorf("split %q = %q, want %q", tc.key, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("split %q = %q, want %q", tc.key, got, tc.want)
				break
			}
		}
	}
}

func TestClassifyKeyHintEnablesScan(t *testing.T) {
	if got := Scan([]byte("415-555-2671"), ClassifyKey([]byte("user.phone"))); !got.Has(Phone) {
		t.Error("phone key did not enable the bare phone rule")
	}
	if got := Scan([]byte("536904399"), ClassifyKey([]byte("ssn"))); !got.Has(SSN) {
		t.Error("ssn key did not enable the bare SSN rule")
	}
	if got := Scan([]byte("415-555-2671"), ClassifyKey([]byte("order.id"))); got != 0 {
		t.Errorf("non-phone key enabled a rule: %s", kindNamesOf(got))
	}
}

func TestClassifyKeyNoAllocs(t *testing.T) {
	keys := [][]byte{[]byte("user.email"), []byte("X_API_KEY"), []byte("userPhone"), []byte("deployment.environment")}
	allocs := testing.AllocsPerRun(100, func() {
		for _, k := range keys {
			ClassifyKey(k)
		}
	})
	if allocs != 0 {
		t.Fatalf("ClassifyKey allocates: %v allocs/run", allocs)
	}
}
