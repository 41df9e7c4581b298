package pii

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// fingerprintBytes is how much of the HMAC is kept: 64 bits are plenty to
// tell values apart within one process's reports.
const fingerprintBytes = 8

// Fingerprinter makes keyed fingerprints of values, so that a report can say
// "the same value was seen 40 times" without containing the value. The key is
// per process and never leaves it: SSNs and phone numbers are so few that an
// unkeyed hash of them could be reversed by enumeration.
//
// A Fingerprinter is safe for concurrent use. Its zero value draws a random
// key on first use; a Fingerprinter must not be copied after first use.
type Fingerprinter struct {
	once sync.Once
	key  []byte
	pool sync.Pool // of *fpState: hmac.New allocates, Reset does not
}

type fpState struct {
	mac hash.Hash
	sum [sha256.Size]byte
}

// NewFingerprinter returns a Fingerprinter with a fresh 32-byte key from
// crypto/rand.
func NewFingerprinter() (*Fingerprinter, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return &Fingerprinter{key: key}, nil
}

// NewFingerprinterWithKey returns a Fingerprinter with a fixed key, for tests
// and for processes that must agree on fingerprints. The key is copied.
func NewFingerprinterWithKey(key []byte) *Fingerprinter {
	return &Fingerprinter{key: append(make([]byte, 0, len(key)), key...)}
}

func (f *Fingerprinter) init() {
	f.once.Do(func() {
		if f.key == nil {
			// Zero value. crypto/rand.Read does not fail on supported
			// platforms (it aborts the process instead).
			f.key = make([]byte, 32)
			_, _ = rand.Read(f.key)
		}
		f.pool.New = func() any { return &fpState{mac: hmac.New(sha256.New, f.key)} }
	})
}

// AppendSum appends the 16 lowercase hex characters of value's fingerprint to
// dst; with room in dst it does not allocate.
func (f *Fingerprinter) AppendSum(dst, value []byte) []byte {
	f.init()
	st := f.pool.Get().(*fpState)
	st.mac.Reset()
	st.mac.Write(value)
	sum := st.mac.Sum(st.sum[:0])
	dst = hex.AppendEncode(dst, sum[:fingerprintBytes])
	f.pool.Put(st)
	return dst
}

// Sum returns HMAC-SHA256(key, value) truncated to 8 bytes, as 16 lowercase
// hex characters.
func (f *Fingerprinter) Sum(value []byte) string {
	var buf [2 * fingerprintBytes]byte
	return string(f.AppendSum(buf[:0], value))
}
