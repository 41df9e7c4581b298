package pii

import (
	"bytes"
	"testing"
)

// classifyAll asks m about every key of keys (split at '\n') twice, and
// fails where it does not answer as ClassifyKey does.
func classifyAll(t *testing.T, m *KeyMemo, keys []byte) {
	t.Helper()
	for round := 0; round < 2; round++ {
		for _, k := range bytes.Split(keys, []byte("\n")) {
			if got, want := m.Classify(k), ClassifyKey(k); got != want {
				t.Fatalf("round %d: Classify(%q) = %v, ClassifyKey = %v", round, k, got, want)
			}
		}
	}
}

func TestKeyMemo(t *testing.T) {
	var m KeyMemo
	// Keys of one length and the same first, middle and last bytes share
	// a slot: each must still get its own answer.
	classifyAll(t, &m, []byte("user.email\nuser.phone\nuserXemail\nuser.token\ntenant.id\n"+
		"user.email\n\nx\nsession.region\nfeature.flags\nrequest.priority\n"+
		"a.key.much.longer.than.thirty.bytes.password\nAPIKey\napikey\nAPIKEY"))
	// More keys than slots: replaced slots are filled again.
	var many bytes.Buffer
	for i := 0; i < 3*memoSlots; i++ {
		many.WriteString("k")
		many.WriteByte(byte('a' + i%26))
		many.WriteByte(byte('a' + i/26))
		many.WriteString(".email\n")
	}
	classifyAll(t, &m, many.Bytes())
}

func BenchmarkKeyMemo(b *testing.B) {
	keys := [][]byte{[]byte("tenant.id"), []byte("session.region"), []byte("feature.flags"), []byte("request.priority")}
	b.Run("ClassifyKey", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, k := range keys {
				ClassifyKey(k)
			}
		}
	})
	b.Run("KeyMemo", func(b *testing.B) {
		var m KeyMemo
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			for _, k := range keys {
				m.Classify(k)
			}
		}
	})
}

// FuzzKeyMemo: a KeyMemo answers as ClassifyKey does, whatever keys it was
// asked about before.
func FuzzKeyMemo(f *testing.F) {
	f.Add([]byte("user.email\nuser.phone\nuserXemail"))
	f.Add([]byte("tenant.id\nsession.region\nfeature.flags\nrequest.priority"))
	f.Add([]byte("APIKey\napikey\n\n\xff\x00key"))
	f.Fuzz(func(t *testing.T, keys []byte) {
		var m KeyMemo
		classifyAll(t, &m, keys)
	})
}
