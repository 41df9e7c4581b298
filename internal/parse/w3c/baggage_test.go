package w3c

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// bm is the expected view of one BaggageMember.
type bm struct {
	header     int
	key, value string
	props      string
	defect     reason.Code
}

// quotedPercentValue is test_parse_percent_encoded's value after Python's
// urllib.parse.quote, as the W3C baggage test suite builds it.
const (
	percentValueRaw    = "\t \"';=asdf!@#$%^&*()"
	percentValueQuoted = "%09%20%22%27%3B%3Dasdf%21%40%23%24%25%5E%26%2A%28%29"
)

// baggageCases holds the examples of the W3C Baggage spec
// (w3c/baggage baggage/HTTP_HEADER_FORMAT.md) and every parsing case of its
// test suite (test/test_baggage.py, named after the test function), then
// cases of our own. The suite's LimitsTest cases are in TestBaggageLimits.
var baggageCases = []struct {
	name    string
	in      []string
	members []bm
	defects []reason.Code
}{
	{"spec/limits_example", []string{"key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue"},
		[]bm{{0, "key1", "value1", "property1;property2", ""}, {0, "key2", "value2", "", ""}, {0, "key3", "value3", "propertyKey=propertyValue", ""}}, nil},
	{"spec/single_header", []string{"userId=alice,serverNode=DF%2028,isProduction=false"},
		[]bm{{0, "userId", "alice", "", ""}, {0, "serverNode", "DF%2028", "", ""}, {0, "isProduction", "false", "", ""}}, nil},
	{"spec/percent_encoded", []string{"userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false"},
		[]bm{{0, "userId", "Am%C3%A9lie", "", ""}, {0, "serverNode", "DF%2028", "", ""}, {0, "isProduction", "false", "", ""}}, nil},
	{"spec/multiple_headers", []string{"userId=alice", "serverNode=DF%2028,isProduction=false"},
		[]bm{{0, "userId", "alice", "", ""}, {1, "serverNode", "DF%2028", "", ""}, {1, "isProduction", "false", "", ""}}, nil},
	{"spec/spaces", []string{"userId =   alice", "serverNode = DF%2028, isProduction = false"},
		[]bm{{0, "userId", "alice", "", ""}, {1, "serverNode", "DF%2028", "", ""}, {1, "isProduction", "false", "", ""}}, nil},
	{"spec/use_cases", []string{"serverNode=DF%2028", "userId=alice", "isProduction=false"},
		[]bm{{0, "serverNode", "DF%2028", "", ""}, {1, "userId", "alice", "", ""}, {2, "isProduction", "false", "", ""}}, nil},

	// BaggageTest
	{"BaggageTest.test_ctor_default", nil, nil, nil},
	{"BaggageTest.test_parse_simple", []string{"SomeKey=SomeValue"}, []bm{{0, "SomeKey", "SomeValue", "", ""}}, nil},
	{"BaggageTest.test_parse_multiple", []string{"SomeKey=SomeValue;SomeProp,SomeKey2=SomeValue2;ValueProp=PropVal"},
		[]bm{{0, "SomeKey", "SomeValue", "SomeProp", ""}, {0, "SomeKey2", "SomeValue2", "ValueProp=PropVal", ""}}, nil},
	{"BaggageTest.test_parse_multiple_ows", []string{"SomeKey \t = \t SomeValue \t ; \t SomeProp \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t ValueProp \t = \t PropVal"},
		[]bm{{0, "SomeKey", "SomeValue", "SomeProp", ""}, {0, "SomeKey2", "SomeValue2", "ValueProp \t = \t PropVal", ""}}, nil},
	{"BaggageTest.test_parse_multiple_kv_property", []string{"SomeKey=SomeValue;SomePropKey=SomePropValue,SomeKey2=SomeValue2;SomePropKey2=SomePropValue2"},
		[]bm{{0, "SomeKey", "SomeValue", "SomePropKey=SomePropValue", ""}, {0, "SomeKey2", "SomeValue2", "SomePropKey2=SomePropValue2", ""}}, nil},
	{"BaggageTest.test_parse_multiple_kv_property_ows", []string{"SomeKey \t = \t SomeValue \t ; \t SomePropKey=SomePropValue \t , \t SomeKey2 \t = \t SomeValue2 \t ; \t SomePropKey2 \t = \t SomePropValue2"},
		[]bm{{0, "SomeKey", "SomeValue", "SomePropKey=SomePropValue", ""}, {0, "SomeKey2", "SomeValue2", "SomePropKey2 \t = \t SomePropValue2", ""}}, nil},

	// BaggageEntryTest
	{"BaggageEntryTest.test_parse_simple", []string{"SomeKey=SomeValue"}, []bm{{0, "SomeKey", "SomeValue", "", ""}}, nil},
	{"BaggageEntryTest.test_parse_multiple_equals", []string{"SomeKey=SomeValue=equals"}, []bm{{0, "SomeKey", "SomeValue=equals", "", ""}}, nil},
	{"BaggageEntryTest.test_parse_percent_encoded", []string{"SomeKey=" + percentValueQuoted}, []bm{{0, "SomeKey", percentValueQuoted, "", ""}}, nil},
	{"BaggageEntryTest.test_parse_property", []string{"SomeKey=SomeValue;SomeProp"}, []bm{{0, "SomeKey", "SomeValue", "SomeProp", ""}}, nil},
	{"BaggageEntryTest.test_parse_multi_property", []string{"SomeKey=SomeValue;SomeProp;SecondProp=PropValue"},
		[]bm{{0, "SomeKey", "SomeValue", "SomeProp;SecondProp=PropValue", ""}}, nil},
	{"BaggageEntryTest.test_parse_multiple_properties_same_name", []string{"SomeKey=SomeValue;SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue"},
		[]bm{{0, "SomeKey", "SomeValue", "SomeProp;SomeProp=PropValue;SomeProp=AnotherPropValue", ""}}, nil},
	{"BaggageEntryTest.test_parse_kv_property", []string{"SomeKey=SomeValue;SomePropKey=SomePropValue"},
		[]bm{{0, "SomeKey", "SomeValue", "SomePropKey=SomePropValue", ""}}, nil},
	{"BaggageEntryTest.test_parse_simple_ows", []string{"SomeKey \t = \t SomeValue \t "}, []bm{{0, "SomeKey", "SomeValue", "", ""}}, nil},
	{"BaggageEntryTest.test_parse_percent_encoded_ows", []string{"SomeKey \t = \t " + percentValueQuoted + " \t "}, []bm{{0, "SomeKey", percentValueQuoted, "", ""}}, nil},
	{"BaggageEntryTest.test_parse_property_ows", []string{"SomeKey \t = \t SomeValue \t ; \t SomeProp"}, []bm{{0, "SomeKey", "SomeValue", "SomeProp", ""}}, nil},
	{"BaggageEntryTest.test_parse_multi_property_ows", []string{"SomeKey \t = \t SomeValue \t ; \t SomeProp \t ; \t SecondProp \t = \t PropValue"},
		[]bm{{0, "SomeKey", "SomeValue", "SomeProp \t ; \t SecondProp \t = \t PropValue", ""}}, nil},
	{"BaggageEntryTest.test_parse_kv_property_ows", []string{"SomeKey \t = \t SomeValue \t ; \t SomePropKey \t = \t SomePropValue"},
		[]bm{{0, "SomeKey", "SomeValue", "SomePropKey \t = \t SomePropValue", ""}}, nil},
	{"BaggageEntryTest.test_parse_percent_encoded_property", []string{"SomeKey=SomeValue;SomePropKey=" + percentValueQuoted},
		[]bm{{0, "SomeKey", "SomeValue", "SomePropKey=" + percentValueQuoted, ""}}, nil},
	{"BaggageEntryTest.test_parse_property_without_value_no_percent_decoding", []string{"SomeKey=SomeValue;ValueProp%20%09%20%3D%20%09%20PropVal"},
		[]bm{{0, "SomeKey", "SomeValue", "ValueProp%20%09%20%3D%20%09%20PropVal", ""}}, nil},

	// Our own.
	{"empty_value", []string{"k="}, []bm{{0, "k", "", "", ""}}, nil},
	{"empty_value_with_property", []string{"k= ;p"}, []bm{{0, "k", "", "p", ""}}, nil},
	{"raw_at_sign", []string{"email=a@b.example"}, []bm{{0, "email", "a@b.example", "", ""}}, nil},
	{"token_key_with_percent", []string{"k%41=v"}, []bm{{0, "k%41", "v", "", ""}}, nil},
	{"empty_property_value", []string{"k=v;p="}, []bm{{0, "k", "v", "p=", ""}}, nil},
	{"property_value_with_equals", []string{"k=v;p=a=b"}, []bm{{0, "k", "v", "p=a=b", ""}}, nil},
	{"lowercase_escape", []string{"k=%c3%a9"}, []bm{{0, "k", "%c3%a9", "", ""}}, nil},
	{"empty_header", []string{""}, []bm{{0, "", "", "", BaggageEmptyMember}}, []reason.Code{BaggageEmptyMember}},
	{"ows_header", []string{" \t "}, []bm{{0, "", "", "", BaggageEmptyMember}}, []reason.Code{BaggageEmptyMember}},
	{"double_comma", []string{"a=1,,b=2"}, []bm{{0, "a", "1", "", ""}, {0, "", "", "", BaggageEmptyMember}, {0, "b", "2", "", ""}}, []reason.Code{BaggageEmptyMember}},
	{"leading_comma", []string{" , a=1"}, []bm{{0, "", "", "", BaggageEmptyMember}, {0, "a", "1", "", ""}}, []reason.Code{BaggageEmptyMember}},
	{"trailing_comma", []string{"a=1,"}, []bm{{0, "a", "1", "", ""}, {0, "", "", "", BaggageEmptyMember}}, []reason.Code{BaggageEmptyMember}},
	{"empty_second_header", []string{"a=1", ""}, []bm{{0, "a", "1", "", ""}, {1, "", "", "", BaggageEmptyMember}}, []reason.Code{BaggageEmptyMember}},
	{"no_equals", []string{"user alice"}, []bm{{0, "user alice", "", "", BaggageMissingEquals}}, []reason.Code{BaggageMissingEquals}},
	{"equals_after_semicolon", []string{"k;p=1"}, []bm{{0, "k", "", "p=1", BaggageMissingEquals}}, []reason.Code{BaggageMissingEquals}},
	{"empty_key", []string{"=v"}, []bm{{0, "", "v", "", BaggageInvalidKey}}, []reason.Code{BaggageInvalidKey}},
	{"key_with_at", []string{"a@b=v"}, []bm{{0, "a@b", "v", "", BaggageInvalidKey}}, []reason.Code{BaggageInvalidKey}},
	{"key_with_space", []string{"a b=v"}, []bm{{0, "a b", "v", "", BaggageInvalidKey}}, []reason.Code{BaggageInvalidKey}},
	{"key_non_ascii", []string{"\xc3\xa9=v"}, []bm{{0, "\xc3\xa9", "v", "", BaggageInvalidKey}}, []reason.Code{BaggageInvalidKey}},
	{"value_space", []string{"k=a b"}, []bm{{0, "k", "a b", "", BaggageInvalidValue}}, []reason.Code{BaggageInvalidValue}},
	{"value_dquote", []string{`k="v"`}, []bm{{0, "k", `"v"`, "", BaggageInvalidValue}}, []reason.Code{BaggageInvalidValue}},
	{"value_backslash", []string{`k=a\b`}, []bm{{0, "k", `a\b`, "", BaggageInvalidValue}}, []reason.Code{BaggageInvalidValue}},
	{"value_raw_utf8", []string{"k=Am\xc3\xa9lie"}, []bm{{0, "k", "Am\xc3\xa9lie", "", BaggageInvalidValue}}, []reason.Code{BaggageInvalidValue}},
	{"value_ctl", []string{"k=a\x00b"}, []bm{{0, "k", "a\x00b", "", BaggageInvalidValue}}, []reason.Code{BaggageInvalidValue}},
	{"value_bad_escape", []string{"k=100%"}, []bm{{0, "k", "100%", "", BaggageBadPercentEncoding}}, []reason.Code{BaggageBadPercentEncoding}},
	{"value_short_escape", []string{"k=%4"}, []bm{{0, "k", "%4", "", BaggageBadPercentEncoding}}, []reason.Code{BaggageBadPercentEncoding}},
	{"value_non_hex_escape", []string{"k=%zz"}, []bm{{0, "k", "%zz", "", BaggageBadPercentEncoding}}, []reason.Code{BaggageBadPercentEncoding}},
	{"empty_property", []string{"k=v;"}, []bm{{0, "k", "v", "", BaggageInvalidProperty}}, []reason.Code{BaggageInvalidProperty}},
	{"empty_middle_property", []string{"k=v;a;;b"}, []bm{{0, "k", "v", "a;;b", BaggageInvalidProperty}}, []reason.Code{BaggageInvalidProperty}},
	{"property_empty_key", []string{"k=v;=x"}, []bm{{0, "k", "v", "=x", BaggageInvalidProperty}}, []reason.Code{BaggageInvalidProperty}},
	{"property_value_space", []string{"k=v;p=a b"}, []bm{{0, "k", "v", "p=a b", BaggageInvalidProperty}}, []reason.Code{BaggageInvalidProperty}},
	{"property_key_space", []string{"k=v;a b"}, []bm{{0, "k", "v", "a b", BaggageInvalidProperty}}, []reason.Code{BaggageInvalidProperty}},
	{"property_bad_escape", []string{"k=v;p=%G1"}, []bm{{0, "k", "v", "p=%G1", BaggageBadPercentEncoding}}, []reason.Code{BaggageBadPercentEncoding}},
	{"first_defect_wins", []string{"=a b;;"}, []bm{{0, "", "a b", ";", BaggageInvalidKey}}, []reason.Code{BaggageInvalidKey}},
	{"defects_first_found_order", []string{"k=%,x,k=v;,k=%,=1"},
		[]bm{{0, "k", "%", "", BaggageBadPercentEncoding}, {0, "x", "", "", BaggageMissingEquals}, {0, "k", "v", "", BaggageInvalidProperty}, {0, "k", "%", "", BaggageBadPercentEncoding}, {0, "", "1", "", BaggageInvalidKey}},
		[]reason.Code{BaggageBadPercentEncoding, BaggageMissingEquals, BaggageInvalidProperty, BaggageInvalidKey}},
	{"duplicate_keys_allowed", []string{"k=1,k=2", "k=3"}, []bm{{0, "k", "1", "", ""}, {0, "k", "2", "", ""}, {1, "k", "3", "", ""}}, nil},
}

func collect(t *testing.T, b *Baggage) []BaggageMember {
	t.Helper()
	var out []BaggageMember
	for {
		m, ok := b.Next()
		if !ok {
			break
		}
		out = append(out, m)
	}
	if _, ok := b.Next(); ok {
		t.Fatal("Next yielded a member after returning false")
	}
	return out
}

func TestBaggage(t *testing.T) {
	for _, tc := range baggageCases {
		t.Run(tc.name, func(t *testing.T) {
			var b Baggage
			b.Reset(toValues(tc.in), DefaultBaggageLimits())
			got := collect(t, &b)
			if len(got) != len(tc.members) {
				t.Fatalf("%d members, want %d", len(got), len(tc.members))
			}
			for i, m := range got {
				w := tc.members[i]
				if m.Index != i || m.Header != w.header || string(m.Key) != w.key || string(m.Value) != w.value ||
					string(m.Properties) != w.props || m.Defect != w.defect || m.Valid != (w.defect == "") {
					t.Errorf("member %d = {H:%d I:%d K:%q V:%q P:%q valid:%v %q}, want %+v",
						i, m.Header, m.Index, m.Key, m.Value, m.Properties, m.Valid, m.Defect, w)
				}
			}
			if d := b.Defects(nil); !slices.Equal(d, reason.List(tc.defects)) {
				t.Errorf("defects = %q, want %q", d, tc.defects)
			}
			wantBytes := 0
			for i, v := range tc.in {
				wantBytes += len(strings.Trim(v, " \t"))
				if i > 0 {
					wantBytes++
				}
			}
			want := BaggageStats{Headers: len(tc.in), Members: len(tc.members), Bytes: wantBytes}
			if st := b.Stats(); st != want {
				t.Errorf("stats = %+v, want %+v", st, want)
			}
		})
	}
}

func TestBaggageSpecByteCount(t *testing.T) {
	// HTTP_HEADER_FORMAT.md: "The baggage-string contained in the header
	// contains 86 bytes."
	var b Baggage
	b.Reset([][]byte{[]byte("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue")}, BaggageLimits{})
	collect(t, &b)
	if st := b.Stats(); st.Bytes != 86 || st.Members != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestBaggageDecodedValues(t *testing.T) {
	cases := []struct{ header, key, want string }{
		{"userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false", "userId", "Amélie"},
		{"userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false", "serverNode", "DF 28"},
		{"SomeKey=" + percentValueQuoted, "SomeKey", percentValueRaw},
	}
	for _, tc := range cases {
		var b Baggage
		b.Reset([][]byte{[]byte(tc.header)}, DefaultBaggageLimits())
		found := false
		for m, ok := b.Next(); ok; m, ok = b.Next() {
			if string(m.Key) != tc.key {
				continue
			}
			found = true
			got, good := PercentDecode(nil, m.Value)
			if !good || string(got) != tc.want {
				t.Errorf("%s: decoded %q (%v), want %q", tc.key, got, good, tc.want)
			}
		}
		if !found {
			t.Errorf("%s: not found", tc.key)
		}
	}
	// The suite builds its encoded value with Python's quote; Go's
	// PathEscape differs in which characters it leaves alone, but every
	// escape round-trips.
	if q := url.PathEscape(percentValueRaw); true {
		got, ok := PercentDecode(nil, []byte(q))
		if !ok || string(got) != percentValueRaw {
			t.Errorf("PathEscape round trip: %q %v", got, ok)
		}
	}
}

// TestBaggageLimits covers the W3C suite's LimitsTest and the at-risk mark.
func TestBaggageLimits(t *testing.T) {
	members := func(n int) string {
		var p []string
		for i := 0; i < n; i++ {
			p = append(p, fmt.Sprintf("key%d=value", i))
		}
		return strings.Join(p, ",")
	}
	many := func() string {
		// test_serialize_many_entries: 512 entries of 15 bytes, commas, and
		// one more byte: 8192 bytes.
		var p []string
		for i := 0; i < 512; i++ {
			p = append(p, fmt.Sprintf("%03d=0123456789a", i))
		}
		return strings.Join(p, ",") + "b"
	}()
	cases := []struct {
		name      string
		in        []string
		lim       BaggageLimits
		members   int
		bytes     int
		oversized bool
		atRisk    bool
		defects   []reason.Code
	}{
		{"test_serialize_at_least_64", []string{members(64)}, DefaultBaggageLimits(), 64, len(members(64)), false, false, nil},
		{"65_members", []string{members(65)}, DefaultBaggageLimits(), 65, len(members(65)), true, false, []reason.Code{BaggageOversizedMembers}},
		{"test_serialize_long_entry", []string{"a=" + strings.Repeat("0123456789", 819)}, DefaultBaggageLimits(), 1, 8192, false, true, nil},
		{"8193_bytes", []string{"a=" + strings.Repeat("0123456789", 819) + "x"}, DefaultBaggageLimits(), 1, 8193, true, true, []reason.Code{BaggageOversizedBytes}},
		{"test_serialize_many_entries", []string{many}, DefaultBaggageLimits(), 512, 8192, true, true, []reason.Code{BaggageOversizedMembers}},
		{"4096_bytes", []string{"a=" + strings.Repeat("x", 4094)}, DefaultBaggageLimits(), 1, 4096, false, false, nil},
		{"4097_bytes", []string{"a=" + strings.Repeat("x", 4095)}, DefaultBaggageLimits(), 1, 4097, false, true, nil},
		{"limits_across_headers", []string{"a=" + strings.Repeat("x", 4094), " b=" + strings.Repeat("x", 4094) + " "}, DefaultBaggageLimits(), 2, 8193, true, true, []reason.Code{BaggageOversizedBytes}},
		{"zero_limits_mean_default", []string{members(64)}, BaggageLimits{}, 64, len(members(64)), false, false, nil},
		{"custom_limits", []string{"a=1,b=2,c=3"}, BaggageLimits{MaxBytes: 10, MaxMembers: 2, AtRiskBytes: 5}, 3, 11, true, true,
			[]reason.Code{BaggageOversizedBytes, BaggageOversizedMembers}},
		{"malformed_count_too", []string{strings.Repeat(",", 64)}, DefaultBaggageLimits(), 65, 64, true, false,
			[]reason.Code{BaggageEmptyMember, BaggageOversizedMembers}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b Baggage
			b.Reset(toValues(tc.in), tc.lim)
			n := len(collect(t, &b))
			st := b.Stats()
			want := BaggageStats{Headers: len(tc.in), Members: tc.members, Bytes: tc.bytes, Oversized: tc.oversized, AtRisk: tc.atRisk}
			if st != want || n != tc.members {
				t.Fatalf("stats = %+v (%d yielded), want %+v", st, n, want)
			}
			if d := b.Defects(nil); !slices.Equal(d, reason.List(tc.defects)) {
				t.Fatalf("defects = %q, want %q", d, tc.defects)
			}
		})
	}
}

func TestBaggageReuse(t *testing.T) {
	var b Baggage
	b.Reset([][]byte{[]byte("=,,")}, DefaultBaggageLimits())
	collect(t, &b)
	b.Reset([][]byte{[]byte("a=1")}, DefaultBaggageLimits())
	if got := collect(t, &b); len(got) != 1 || !got[0].Valid || got[0].Index != 0 {
		t.Fatalf("after Reset: %+v", got)
	}
	if d := b.Defects(nil); len(d) != 0 {
		t.Fatalf("defects leaked across Reset: %q", d)
	}
}

func TestBaggageZeroValue(t *testing.T) {
	var b Baggage
	if _, ok := b.Next(); ok {
		t.Fatal("zero Baggage yielded a member")
	}
	if st := b.Stats(); st != (BaggageStats{}) {
		t.Fatalf("stats = %+v", st)
	}
}
