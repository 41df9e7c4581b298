package pii

import "math/bits"

// Kind is a class of personal data or secret. Its String form is part of
// propwatch's output contract: reports print it verbatim.
type Kind uint8

// The kinds Scan can report. The numbering is internal; reports use String.
const (
	// Email is an address of the form local@domain.tld.
	Email Kind = iota + 1
	// PaymentCard is a primary account number: issuer prefix, length and
	// Luhn checksum all confirmed.
	PaymentCard
	// JWT is a JSON Web Token whose header decodes to a JSON object with "alg".
	JWT
	// APIKey is a credential recognised by its vendor prefix (AWS, GitHub,
	// Slack, Stripe, Google) or a PEM private-key header.
	APIKey
	// BearerToken is a whole value of the form "Bearer <token>" or
	// "Basic <credentials>", i.e. an Authorization header smuggled in baggage.
	BearerToken
	// SSN is a US social security number in its ddd-dd-dddd form (or nine
	// bare digits under a key that names an SSN).
	SSN
	// IBAN is an international bank account number whose length matches its
	// country and whose mod-97 check holds.
	IBAN
	// Phone is an E.164 number (+ and 7–15 digits), or a local number under a
	// key that names a phone.
	Phone
)

// numKinds is the highest defined Kind.
const numKinds = 8

var kindNames = [numKinds + 1]string{
	"", "email", "payment_card", "jwt", "api_key", "bearer_token", "ssn", "iban", "phone",
}

var allKinds = [numKinds]Kind{Email, PaymentCard, JWT, APIKey, BearerToken, SSN, IBAN, Phone}

// String returns the stable report name of k ("email", "payment_card", ...),
// or "unknown" for a value outside the defined kinds.
func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return "unknown"
}

func (k Kind) valid() bool { return k >= Email && k <= numKinds }

// AllKinds returns every defined kind in declaration order. The slice is
// shared by all callers and must not be modified; it costs no allocation.
func AllKinds() []Kind { return allKinds[:] }

// Set is a set of kinds: Scan reports each kind at most once per value, however
// many times it occurs, because reports count values, not matches.
type Set uint16

// allSet holds every defined kind; other bits never appear in a Set built
// through With or returned by Scan.
const allSet Set = (1<<(numKinds+1) - 1) &^ 1

func (k Kind) bit() Set { return 1 << k }

// Has reports whether s holds k.
func (s Set) Has(k Kind) bool { return k.valid() && s&k.bit() != 0 }

// With returns s with k added. Adding an undefined kind leaves s unchanged, so
// a Set only ever holds kinds that have a name.
func (s Set) With(k Kind) Set {
	if !k.valid() {
		return s
	}
	return s | k.bit()
}

// Len returns the number of kinds in s.
func (s Set) Len() int { return bits.OnesCount16(uint16(s & allSet)) }
