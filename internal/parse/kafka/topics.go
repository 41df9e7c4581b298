package kafka

import (
	"strings"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultTopicIDs is the number of topic ids a TopicIDs table keeps unless
// told otherwise. Clusters with more topics exist, but one host's clients
// rarely touch more; the least recently used ids go first.
const DefaultTopicIDs = 4096

// TopicIDs maps topic ids (KIP-516) to topic names, learnt from Metadata
// responses. Produce v13 and Fetch v13+ name topics only by id, and the
// Metadata response that maps an id is often seen on another connection
// than the Produce that uses it, so one table is meant to be shared by all
// Decoders; it is safe for concurrent use.
type TopicIDs struct {
	cache *lru.Cache[[16]byte, string]
}

// NewTopicIDs returns a table that keeps at most size ids (DefaultTopicIDs
// when size <= 0), evicting the least recently used.
func NewTopicIDs(size int) *TopicIDs {
	if size <= 0 {
		size = DefaultTopicIDs
	}
	c, err := lru.New[[16]byte, string](size)
	if err != nil {
		// lru.New fails only for a size <= 0, excluded above.
		panic(err)
	}
	return &TopicIDs{cache: c}
}

// Learn records that id names topic. The all-zero id is Kafka's "no id"
// (topics in error, old brokers) and is ignored, as is an empty name.
func (t *TopicIDs) Learn(id [16]byte, topic string) {
	if id == ([16]byte{}) || topic == "" {
		return
	}
	if have, ok := t.cache.Peek(id); ok && have == topic {
		// Refresh recency without replacing the string.
		t.cache.Get(id)
		return
	}
	t.cache.Add(id, topic)
}

// Lookup returns the topic named by id.
func (t *TopicIDs) Lookup(id [16]byte) (string, bool) {
	return t.cache.Get(id)
}

// Len returns the number of ids held.
func (t *TopicIDs) Len() int { return t.cache.Len() }

// maxInterned bounds the decoder's table of topic names. Past it the table
// is dropped and rebuilt, which costs allocations but never memory.
const maxInterned = 4096

// interner turns topic names read from a frame into strings the caller may
// keep: looking up a []byte key in a map does not allocate, so a topic
// costs one allocation the first time it is seen and none after.
type interner map[string]string

func (m *interner) get(b []byte) string {
	if s, ok := (*m)[string(b)]; ok {
		return s
	}
	return m.add(string(b))
}

// getString interns a string that may alias a buffer (kmsg's unsafe
// strings do), returning one that does not.
func (m *interner) getString(s string) string {
	if have, ok := (*m)[s]; ok {
		return have
	}
	return m.add(strings.Clone(s))
}

func (m *interner) add(s string) string {
	if *m == nil || len(*m) >= maxInterned {
		*m = make(interner, 64)
	}
	(*m)[s] = s
	return s
}
