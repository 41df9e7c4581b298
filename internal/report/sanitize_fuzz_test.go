package report

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/propwatch/propwatch/internal/parse"
)

// FuzzSanitizeLabel feeds arbitrary names through sanitizing and through
// the aggregator: every name that comes out is printable UTF-8 within the
// cap, sanitizing is idempotent and leaves clean names alone, and the
// snapshot never holds two pairs with the same labels.
func FuzzSanitizeLabel(f *testing.F) {
	for _, s := range []string{
		"", "checkout", "évènement-服务", "\x1b[2J\x1b[H", "a\x00b", "\xff\xfe", "rtl\u202eevil",
		strings.Repeat("a", 200), strings.Repeat("é", 70), OverflowName, "a\u00a0b", "\xef\xbf\xbd",
	} {
		f.Add(s, "db")
	}
	f.Fuzz(func(t *testing.T, src, dst string) {
		got := sanitizeLabel(src)
		if len(got) > MaxLabelBytes || !utf8.ValidString(got) || !labelOK(got) || got == "" {
			t.Fatalf("sanitizeLabel(%q) = %q: not clean", src, got)
		}
		if again := sanitizeLabel(got); again != got {
			t.Fatalf("not idempotent: %q then %q", got, again)
		}
		if labelOK(src) && src != "" && got != src {
			t.Fatalf("clean name %q changed to %q", src, got)
		}

		a := NewAggregator(AggregatorConfig{MaxPairs: 2})
		v := parse.Verdict{}
		for _, k := range []PairKey{{src, dst, "http", "", "", false}, {dst, src, "http", src, dst, false}, {got, dst, "http", "", "", true}, {src, src, src, src, src, true}} {
			record(a, k, &v, "")
		}
		a.ParseFailure(src)
		s := a.Snapshot()
		seen := map[PairKey]bool{}
		var total uint64
		for _, p := range s.Pairs {
			if seen[p.Key()] {
				t.Fatalf("two pairs labelled %v", p.Key())
			}
			seen[p.Key()] = true
			total += p.Requests
			for _, name := range []string{p.Source, p.Destination, p.Protocol} {
				if !labelOK(name) || name == "" {
					t.Fatalf("unclean name %q in snapshot", name)
				}
			}
		}
		if total != 4 {
			t.Fatalf("%d requests counted, want 4", total)
		}
		for r := range s.ParseFailures {
			if !labelOK(r) {
				t.Fatalf("unclean parse-failure reason %q", r)
			}
		}
	})
}
