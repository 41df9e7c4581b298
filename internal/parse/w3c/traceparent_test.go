package w3c

import (
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

const (
	tpTraceID  = "12345678901234567890123456789012"
	tpParentID = "1234567890123456"
)

// traceParentCases holds every traceparent value the W3C test suite
// (w3c/trace-context test/test.py, branches level-2 and main) sends, named
// after its test function, then cases of our own.
//
// Several suite tests are about the HTTP message rather than the value; the
// caller (which sees the header names and their count) handles those, and
// here each value is only judged on its own:
//   - test_traceparent_duplicated: two valid values; the caller reports
//     TraceParentDuplicate.
//   - test_traceparent_header_name, test_traceparent_header_name_valid_casing:
//     the name decides whether the value is a traceparent at all.
//   - test_both_traceparent_and_tracestate_missing,
//     test_multiple_requests_without_traceparent: no value to judge.
var traceParentCases = []struct {
	name string
	in   string
	want reason.Code
}{
	// TraceContextTest
	{"test_traceparent_included_tracestate_missing", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_duplicated/first", "00-12345678901234567890123456789011-1234567890123456-01", ""},
	{"test_traceparent_duplicated/second", "00-12345678901234567890123456789012-1234567890123456-01", ""},
	{"test_traceparent_header_name/trace-parent", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_header_name/trace.parent", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_header_name_valid_casing/TraceParent", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_header_name_valid_casing/TrAcEpArEnT", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_header_name_valid_casing/TRACEPARENT", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_version_0x00/dot", "00-" + tpTraceID + "-" + tpParentID + "-01.", TraceParentTrailingData},
	{"test_traceparent_version_0x00/future_fields", "00-" + tpTraceID + "-" + tpParentID + "-01-what-the-future-will-be-like", TraceParentTrailingData},
	{"test_traceparent_version_0xcc/plain", "cc-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_version_0xcc/future_fields", "cc-" + tpTraceID + "-" + tpParentID + "-01-what-the-future-will-be-like", ""},
	{"test_traceparent_version_0xcc/dot", "cc-" + tpTraceID + "-" + tpParentID + "-01.what-the-future-will-be-like", TraceParentBadDelimiter},
	{"test_traceparent_version_0xff", "ff-" + tpTraceID + "-" + tpParentID + "-01", TraceParentVersionFF},
	{"test_traceparent_version_illegal_characters/first", ".0-" + tpTraceID + "-" + tpParentID + "-01", TraceParentBadHex},
	{"test_traceparent_version_illegal_characters/second", "0.-" + tpTraceID + "-" + tpParentID + "-01", TraceParentBadHex},
	{"test_traceparent_version_too_long/3", "000-" + tpTraceID + "-" + tpParentID + "-01", TraceParentBadLength},
	{"test_traceparent_version_too_long/4", "0000-" + tpTraceID + "-" + tpParentID + "-01", TraceParentBadLength},
	{"test_traceparent_version_too_short", "0-" + tpTraceID + "-" + tpParentID + "-01", TraceParentBadLength},
	{"test_traceparent_trace_id_all_zero", "00-00000000000000000000000000000000-" + tpParentID + "-01", TraceParentTraceIDZero},
	{"test_traceparent_trace_id_illegal_characters/first", "00-.2345678901234567890123456789012-" + tpParentID + "-01", TraceParentBadHex},
	{"test_traceparent_trace_id_illegal_characters/last", "00-1234567890123456789012345678901.-" + tpParentID + "-01", TraceParentBadHex},
	{"test_traceparent_trace_id_too_long", "00-123456789012345678901234567890123-" + tpParentID + "-01", TraceParentBadLength},
	{"test_traceparent_trace_id_too_short", "00-1234567890123456789012345678901-" + tpParentID + "-01", TraceParentBadLength},
	{"test_traceparent_parent_id_all_zero", "00-" + tpTraceID + "-0000000000000000-01", TraceParentParentIDZero},
	{"test_traceparent_parent_id_illegal_characters/first", "00-" + tpTraceID + "-.234567890123456-01", TraceParentBadHex},
	{"test_traceparent_parent_id_illegal_characters/last", "00-" + tpTraceID + "-123456789012345.-01", TraceParentBadHex},
	{"test_traceparent_parent_id_too_long", "00-" + tpTraceID + "-12345678901234567-01", TraceParentBadLength},
	{"test_traceparent_parent_id_too_short", "00-" + tpTraceID + "-123456789012345-01", TraceParentBadLength},
	{"test_traceparent_trace_flags_illegal_characters/first", "00-" + tpTraceID + "-" + tpParentID + "-.0", TraceParentBadHex},
	{"test_traceparent_trace_flags_illegal_characters/last", "00-" + tpTraceID + "-" + tpParentID + "-0.", TraceParentBadHex},
	{"test_traceparent_trace_flags_too_long", "00-" + tpTraceID + "-" + tpParentID + "-001", TraceParentBadLength},
	{"test_traceparent_trace_flags_too_short", "00-" + tpTraceID + "-" + tpParentID + "-1", TraceParentBadLength},
	{"test_traceparent_ows_handling/sp_lead", " 00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_ows_handling/tab_lead", "\t00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_traceparent_ows_handling/sp_trail", "00-" + tpTraceID + "-" + tpParentID + "-01 ", ""},
	{"test_traceparent_ows_handling/tab_trail", "00-" + tpTraceID + "-" + tpParentID + "-01\t", ""},
	{"test_traceparent_ows_handling/both", "\t 00-" + tpTraceID + "-" + tpParentID + "-01 \t", ""},
	// The tracestate tests all send this unsampled traceparent.
	{"test_tracestate_included_traceparent_included", "00-" + tpTraceID + "-" + tpParentID + "-00", ""},
	// AdvancedTest
	{"test_multiple_requests_with_valid_traceparent", "00-" + tpTraceID + "-" + tpParentID + "-01", ""},
	{"test_multiple_requests_with_illegal_traceparent", "00-00000000000000000000000000000000-" + tpParentID + "-01", TraceParentTraceIDZero},
	// TraceContext2Test (main)
	{"test_propagates_random_flag", "00-" + tpTraceID + "-" + tpParentID + "-02", ""},

	// Spec examples (spec/20-http_request_header_format.md).
	{"spec/sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
	{"spec/not_sampled", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", ""},

	// Our own.
	{"empty", "", TraceParentEmpty},
	{"ows_only", " \t \t", TraceParentEmpty},
	{"one_char", "0", TraceParentBadLength},
	{"version_only", "00", TraceParentBadLength},
	{"version_dash", "00-", TraceParentBadLength},
	{"truncated", "00-" + tpTraceID + "-" + tpParentID, TraceParentBadLength},
	{"truncated_dash", "00-" + tpTraceID + "-" + tpParentID + "-", TraceParentBadLength},
	{"uppercase_trace_id", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", TraceParentUppercaseHex},
	{"uppercase_parent_id", "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", TraceParentUppercaseHex},
	{"uppercase_flags", "00-" + tpTraceID + "-" + tpParentID + "-0A", TraceParentUppercaseHex},
	{"uppercase_version", "CC-" + tpTraceID + "-" + tpParentID + "-01", TraceParentUppercaseHex},
	{"uppercase_ff", "FF-" + tpTraceID + "-" + tpParentID + "-01", TraceParentUppercaseHex},
	{"version_ff_short", "ff-1234", TraceParentVersionFF},
	{"version_ff_long", "ff-" + tpTraceID + "-" + tpParentID + "-01-extra", TraceParentVersionFF},
	{"underscore_delimiters", "00_" + tpTraceID + "_" + tpParentID + "_01", TraceParentBadDelimiter},
	{"missing_delimiter_parent", "00-" + tpTraceID + "." + tpParentID + "-01", TraceParentBadDelimiter},
	{"inner_space", "00-" + tpTraceID + " " + tpParentID + "-01", TraceParentBadDelimiter},
	{"nul_in_trace_id", "00-1234567890123456\x00890123456789012-" + tpParentID + "-01", TraceParentBadHex},
	{"non_ascii", "00-1234567890123456\xc3\xa990123456789012-" + tpParentID + "-01", TraceParentBadHex},
	{"crlf_trail", "00-" + tpTraceID + "-" + tpParentID + "-01\r\n", TraceParentTrailingData},
	{"v00_trailing_space_then_dot", "00-" + tpTraceID + "-" + tpParentID + "-01 .", TraceParentTrailingData},
	{"reserved_flags_ff", "00-" + tpTraceID + "-" + tpParentID + "-ff", ""},
	{"reserved_flags_03", "00-" + tpTraceID + "-" + tpParentID + "-03", ""},
	{"future_short", "01-" + tpTraceID + "-" + tpParentID, TraceParentBadLength},
	{"future_flags_too_long", "cc-" + tpTraceID + "-" + tpParentID + "-001", TraceParentBadLength},
	{"future_empty_extra", "cc-" + tpTraceID + "-" + tpParentID + "-01-", ""},
	{"future_zero_trace_id", "01-00000000000000000000000000000000-" + tpParentID + "-01", TraceParentTraceIDZero},
	{"future_zero_parent_id", "01-" + tpTraceID + "-0000000000000000-01-x", TraceParentParentIDZero},
	{"future_uppercase_tail_ignored", "fe-" + tpTraceID + "-" + tpParentID + "-01-ANYTHING\x00", ""},
	{"both_ids_zero", "00-00000000000000000000000000000000-0000000000000000-00", TraceParentTraceIDZero},
	{"zero_is_first_but_later_bad_hex", "00-00000000000000000000000000000000-" + tpParentID + "-0x", TraceParentBadHex},
	{"huge", "00-" + tpTraceID + "-" + tpParentID + "-01" + strings.Repeat("-", 1<<16), TraceParentTrailingData},
}

func TestParseTraceParent(t *testing.T) {
	for _, tc := range traceParentCases {
		t.Run(tc.name, func(t *testing.T) {
			tp, got := ParseTraceParent([]byte(tc.in))
			if got != tc.want {
				t.Fatalf("code = %q, want %q", got, tc.want)
			}
			if got != "" {
				if tp != (TraceParent{}) {
					t.Fatalf("invalid value returned non-zero TraceParent")
				}
				return
			}
			s := strings.Trim(tc.in, " \t")
			if enc := string(tp.Append(nil)); enc != s[:traceParentLen] {
				t.Fatalf("re-encoded %q, want %q", enc, s[:traceParentLen])
			}
		})
	}
}

func TestTraceParentFields(t *testing.T) {
	tp, c := ParseTraceParent([]byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
	if c != "" {
		t.Fatal(c)
	}
	want := TraceParent{
		Version:  0,
		TraceID:  [16]byte{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		ParentID: [8]byte{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		Flags:    1,
	}
	if tp != want {
		t.Fatalf("got %+v, want %+v", tp, want)
	}

	flags := []struct {
		hex             string
		sampled, random bool
		reserved        byte
	}{
		{"00", false, false, 0},
		{"01", true, false, 0},
		{"02", false, true, 0},
		{"03", true, true, 0},
		{"05", true, false, 0x04},
		{"ff", true, true, 0xfc},
	}
	for _, f := range flags {
		tp, c := ParseTraceParent([]byte("00-" + tpTraceID + "-" + tpParentID + "-" + f.hex))
		if c != "" {
			t.Fatalf("%s: %s", f.hex, c)
		}
		if tp.Sampled() != f.sampled || tp.RandomTraceID() != f.random || tp.ReservedFlags() != f.reserved {
			t.Errorf("flags %s: sampled=%v random=%v reserved=%#x", f.hex, tp.Sampled(), tp.RandomTraceID(), tp.ReservedFlags())
		}
	}

	tp, c = ParseTraceParent([]byte("cc-" + tpTraceID + "-" + tpParentID + "-01-what-the-future-will-be-like"))
	if c != "" || tp.Version != 0xcc || !tp.Sampled() {
		t.Fatalf("future version: %+v %q", tp, c)
	}
}

func TestCodesDeclared(t *testing.T) {
	seen := map[reason.Code]bool{}
	for _, c := range Codes() {
		if seen[c] {
			t.Errorf("duplicate code %q", c)
		}
		seen[c] = true
		f := c.Field()
		if f != "traceparent" && f != "tracestate" && f != "baggage" {
			t.Errorf("code %q has field %q", c, f)
		}
	}
}
