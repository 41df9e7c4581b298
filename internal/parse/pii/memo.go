package pii

// KeyMemo remembers ClassifyKey's answers for the keys it was asked about
// last. Baggage keys are names that code chooses, a handful per service,
// so the same few come back on every request of a busy pair, while their
// values change; remembering the keys' hints saves splitting and looking up
// their words each time (about three quarters of ClassifyKey's cost for a
// key of two words). It is a direct-mapped table: a key that lands on
// another's slot replaces it, so it holds at most memoSlots keys of up to
// memoKeyMax bytes and never allocates. The zero value is ready to use; a
// KeyMemo is not safe for concurrent use.
type KeyMemo struct {
	slots [memoSlots]memoSlot
}

const (
	memoSlots  = 64
	memoKeyMax = 30
)

type memoSlot struct {
	n    uint8 // length of key; 0: empty
	hint KeyHint
	key  [memoKeyMax]byte
}

// Classify returns ClassifyKey(key).
func (m *KeyMemo) Classify(key []byte) KeyHint {
	n := len(key)
	if n == 0 || n > memoKeyMax {
		return ClassifyKey(key)
	}
	// The length and three bytes tell most keys of a service apart.
	s := &m.slots[(uint(n)*37+uint(key[0])*31+uint(key[n/2])*7+uint(key[n-1]))%memoSlots]
	if int(s.n) == n && string(s.key[:n]) == string(key) {
		return s.hint
	}
	h := ClassifyKey(key)
	s.n, s.hint = uint8(n), h
	copy(s.key[:], key)
	return h
}
