package hint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFor(t *testing.T) {
	tests := []struct {
		s        Sender
		protocol string
		reason   string
		want     Code
	}{
		{Sender{Runtime: Node}, "http", NewRoot, NodeContextBind},
		{Sender{Runtime: Go}, "http", NewRoot, GoPassCtx},
		{Sender{Runtime: JVM}, "http", NewRoot, JavaContextWrap},
		{Sender{Runtime: Python}, "http", NewRoot, PythonCopyContext},
		{Sender{Runtime: Unknown}, "http", NewRoot, CodeUnknown},
		{Sender{Runtime: Mixed}, "http", NewRoot, CodeUnknown},
		// A producer that started a trace of its own: the runtime's fix
		// when its input came over HTTP, ...
		{Sender{Runtime: Go}, ProtocolKafka, NewRoot, GoPassCtx},
		// ... the consumer's extract when it came in records only.
		{Sender{Runtime: Go, KafkaOnly: true}, ProtocolKafka, NewRoot, KafkaExtract},
		{Sender{Runtime: Node, KafkaOnly: true}, "http", NewRoot, KafkaExtract},
		{Sender{Runtime: Go}, ProtocolKafka, Dropped, KafkaInject},
		{Sender{Runtime: Go, KafkaOnly: true}, ProtocolKafka, Dropped, KafkaInject},
		{Sender{Runtime: Node}, "http", Dropped, HTTPInject},
		{Sender{}, "http", Dropped, HTTPInject},
		{Sender{Runtime: Go}, "http", "continued", ""},
	}
	for _, tt := range tests {
		if got := For(tt.s, tt.protocol, tt.reason); got != tt.want {
			t.Errorf("For(%+v, %s, %s) = %q, want %q", tt.s, tt.protocol, tt.reason, got, tt.want)
		}
	}
}

// TestCodes: every code has words, short ones fit a table cell, and the
// codes are the stable strings the README lists.
func TestCodes(t *testing.T) {
	want := []string{"node.context_bind", "go.pass_ctx", "java.context_wrap", "python.copy_context",
		"kafka.extract_headers", "kafka.inject_headers", "http.inject_headers", "unknown"}
	var got []string
	for _, c := range Codes() {
		got = append(got, string(c))
		if c.Words() == "" {
			t.Errorf("%s has no words", c)
		}
		if n := len(c.Words()); n > 40 {
			t.Errorf("%s: short words of %d bytes", c, n)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("codes %v, want %v", got, want)
	}
	if len(words) != len(Codes()) {
		t.Errorf("%d words for %d codes", len(words), len(Codes()))
	}
	if Code("x").Words() != "" {
		t.Error("an unknown code has words")
	}
}

// TestReadmeListsEveryCode keeps the README's table of hints in step with
// the codes.
func TestReadmeListsEveryCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Codes() {
		if !strings.Contains(string(readme), "\n| `"+string(c)+"` | ") {
			t.Errorf("README's table of hints lacks %s", c)
		}
	}
}
