package report

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxLabelBytes caps a pair's names. Names come from process environments
// and Host headers, which any program controls; the cap keeps one hostile
// name from bloating every report, metric and table row it appears in.
const MaxLabelBytes = 128

// EmptyName replaces an empty name, which would otherwise vanish from
// metrics (Prometheus treats an empty label as an absent one).
const EmptyName = "(unknown)"

// Sanitize returns k with each name fit to print anywhere, as reports,
// metrics and the live view show it (see sanitizeLabel). Outputs other than
// the Aggregator's, such as evidence spans, name pairs through it.
func Sanitize(k PairKey) PairKey { return sanitizeKey(k) }

// sanitizeKey sanitizes each name of k.
func sanitizeKey(k PairKey) PairKey {
	return PairKey{sanitizeLabel(k.Source), sanitizeLabel(k.Destination), sanitizeLabel(k.Protocol),
		sanitizeNamespace(k.SourceNamespace), sanitizeNamespace(k.DestinationNamespace), k.TLS}
}

// sanitizeNamespace is sanitizeLabel for a namespace, which may be empty:
// off-cluster, every end has none.
func sanitizeNamespace(s string) string {
	if s == "" {
		return ""
	}
	return sanitizeLabel(s)
}

// sanitizeLabel returns s fit to print anywhere: at most MaxLabelBytes
// bytes of valid, printable UTF-8, with every other byte or rune (control
// characters, terminal escapes, bidirectional overrides, invalid UTF-8)
// replaced by '?'. A name that is already fit is returned as it is,
// without allocating.
func sanitizeLabel(s string) string {
	if s == "" {
		return EmptyName
	}
	if labelOK(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), MaxLabelBytes))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) {
			r, n = '?', 1
		}
		if b.Len()+n > MaxLabelBytes {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// labelOK reports whether s needs no sanitizing.
func labelOK(s string) bool {
	if len(s) > MaxLabelBytes {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}
