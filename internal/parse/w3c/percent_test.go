package w3c

import (
	"testing"
)

func TestPercentDecode(t *testing.T) {
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"empty", "", "", true},
		{"plain", "alice", "alice", true},
		{"space", "DF%2028", "DF 28", true},
		{"utf8", "Am%C3%A9lie", "Amélie", true},
		{"lowercase_hex", "Am%c3%a9lie", "Amélie", true},
		{"euro", "%E2%82%AC", "€", true},
		{"four_byte", "%F0%9F%98%80", "😀", true},
		{"percent", "100%25", "100%", true},
		{"plus_is_literal", "a+b", "a+b", true},
		{"w3c_suite_value", percentValueQuoted, percentValueRaw, true},
		{"lone_continuation", "%80", "\uFFFD", true},
		{"truncated_sequence", "%E2%82", "\uFFFD\uFFFD", true},
		{"truncated_then_ascii", "%E2%82x", "\uFFFD\uFFFDx", true},
		{"invalid_byte", "%FF", "\uFFFD", true},
		{"overlong", "%C0%AF", "\uFFFD\uFFFD", true},
		{"surrogate", "%ED%A0%80", "\uFFFD\uFFFD\uFFFD", true},
		{"replacement_char_kept", "%EF%BF%BD", "\uFFFD", true},
		{"raw_utf8_passes", "é", "é", true},
		{"raw_invalid_byte", "a\xffb", "a\uFFFDb", true},
		{"mixed_raw_and_escaped", "\xc3%A9", "é", true},
		{"trailing_percent", "100%", "100%", false},
		{"short_escape", "%4", "%4", false},
		{"non_hex_escape", "%zz", "%zz", false},
		{"half_hex_escape", "%4g", "%4g", false},
		{"bad_escape_inside_sequence", "%C3%zz", "\uFFFD%zz", false},
		{"bad_escape_then_good", "%%41", "%A", false},
		{"double_encoded", "%2541", "%41", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PercentDecode(nil, []byte(tc.in))
			if string(got) != tc.want || ok != tc.ok {
				t.Fatalf("PercentDecode(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
			if len(got) > 3*len(tc.in) {
				t.Fatalf("output %d bytes for %d input bytes", len(got), len(tc.in))
			}
		})
	}
}

func TestPercentDecodeAppends(t *testing.T) {
	dst := make([]byte, 0, 64)
	dst = append(dst, "pre:"...)
	got, ok := PercentDecode(dst, []byte("%41%FF"))
	if !ok || string(got) != "pre:A\uFFFD" {
		t.Fatalf("got %q %v", got, ok)
	}
	if n := testing.AllocsPerRun(100, func() { PercentDecode(dst[:0], []byte("DF%2028%C3%A9")) }); n != 0 {
		t.Fatalf("%v allocs with enough capacity", n)
	}
}
