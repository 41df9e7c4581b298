package w3c

import (
	"bytes"
	"net/url"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Fuzz inputs holding several header values separate them with '\n', which
// no header value can contain.

func splitValues(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	return bytes.Split(data, []byte("\n"))
}

func declared(c reason.Code) bool {
	for _, d := range codes {
		if d == c {
			return true
		}
	}
	return false
}

// within reports whether sub's bytes lie inside buf's (an empty sub always
// does: callers may not read through it).
func within(sub, buf []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(buf) == 0 {
		return false
	}
	s, b := uintptr(unsafe.Pointer(unsafe.SliceData(sub))), uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	return s >= b && s+uintptr(len(sub)) <= b+uintptr(len(buf))
}

func FuzzTraceParent(f *testing.F) {
	for _, tc := range traceParentCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		tp, c := ParseTraceParent(v)
		if c != "" && !declared(c) {
			t.Fatalf("undeclared code %q", c)
		}
		if c == TraceParentDuplicate || c == TraceParentReservedFlags {
			t.Fatalf("ParseTraceParent returned caller-only code %q", c)
		}
		if want := refTraceParentValid(v); (c == "") != want {
			t.Fatalf("valid=%v (%q), reference says %v", c == "", c, want)
		}
		if c != "" {
			if tp != (TraceParent{}) {
				t.Fatal("invalid value with non-zero TraceParent")
			}
			return
		}
		s := bytes.Trim(v, " \t")
		enc := tp.Append(nil)
		if !bytes.Equal(enc, s[:traceParentLen]) {
			t.Fatalf("re-encoding differs from input prefix")
		}
		if tp.Version == 0 && len(s) != traceParentLen {
			t.Fatal("valid v00 with length != 55")
		}
		again, c2 := ParseTraceParent(enc)
		if tp.Version != 0 && tp.Version != 0xff && (again != tp || c2 != "") {
			t.Fatal("re-encoded value does not parse back")
		}
	})
}

func FuzzTraceState(f *testing.F) {
	for _, tc := range traceStateCases {
		var joined []byte
		for i, v := range tc.in {
			if i > 0 {
				joined = append(joined, '\n')
			}
			joined = append(joined, v...)
		}
		f.Add(joined)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		values := splitValues(data)
		st, got := CheckTraceState(values, nil)
		seen := map[reason.Code]bool{}
		for _, c := range got {
			if !declared(c) || c.Field() != "tracestate" {
				t.Fatalf("unexpected code %q", c)
			}
			if seen[c] {
				t.Fatalf("code %q reported twice", c)
			}
			seen[c] = true
		}
		valid, members := refTraceState(values)
		if (len(got) == 0) != valid {
			t.Fatalf("defects %q, reference valid=%v", got, valid)
		}
		wantBytes := 0
		for i, v := range values {
			wantBytes += len(bytes.Trim(v, " \t"))
			if i > 0 {
				wantBytes++
			}
		}
		if st.Headers != len(values) || st.Members != members || st.Bytes != wantBytes {
			t.Fatalf("stats %+v, want headers=%d members=%d bytes=%d", st, len(values), members, wantBytes)
		}
		if (st.Members > traceStateMaxMembers) != seen[TraceStateTooManyMembers] {
			t.Fatal("too_many_members disagrees with Members")
		}
		if st.Bytes > len(data) {
			t.Fatal("Bytes exceeds input length")
		}
	})
}

func FuzzBaggage(f *testing.F) {
	for _, tc := range baggageCases {
		var joined []byte
		for i, v := range tc.in {
			if i > 0 {
				joined = append(joined, '\n')
			}
			joined = append(joined, v...)
		}
		f.Add(joined)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		values := splitValues(data)
		lim := BaggageLimits{MaxBytes: 64, MaxMembers: 4, AtRiskBytes: 32}
		var b Baggage
		b.Reset(values, lim)
		wantMembers := 0
		wantBytes := 0
		for i, v := range values {
			tv := bytes.Trim(v, " \t")
			wantMembers += bytes.Count(tv, []byte(",")) + 1
			wantBytes += len(tv)
			if i > 0 {
				wantBytes++
			}
		}
		var memberDefectsSeen []reason.Code
		n, lastHeader := 0, 0
		for {
			m, ok := b.Next()
			if !ok {
				break
			}
			if m.Index != n {
				t.Fatalf("Index %d, want %d", m.Index, n)
			}
			n++
			if m.Header < lastHeader || m.Header >= len(values) {
				t.Fatalf("Header %d out of order or range", m.Header)
			}
			lastHeader = m.Header
			src := values[m.Header]
			if !within(m.Key, src) || !within(m.Value, src) || !within(m.Properties, src) {
				t.Fatal("member slice outside its header value")
			}
			if m.Valid != (m.Defect == "") {
				t.Fatalf("Valid=%v with defect %q", m.Valid, m.Defect)
			}
			if m.Defect != "" {
				if !declared(m.Defect) || m.Defect == BaggageOversizedBytes || m.Defect == BaggageOversizedMembers || m.Defect.Field() != "baggage" {
					t.Fatalf("unexpected member defect %q", m.Defect)
				}
				memberDefectsSeen = append(memberDefectsSeen, m.Defect)
			}
			if m.Valid && !utf8.Valid(m.Key) {
				t.Fatal("valid member with non-ASCII key")
			}
			if n > wantMembers {
				t.Fatal("more members than commas allow")
			}
		}
		st := b.Stats()
		want := BaggageStats{
			Headers: len(values), Members: wantMembers, Bytes: wantBytes,
			Oversized: wantBytes > lim.MaxBytes || wantMembers > lim.MaxMembers,
			AtRisk:    wantBytes > lim.AtRiskBytes,
		}
		if st != want || n != wantMembers {
			t.Fatalf("stats %+v (%d yielded), want %+v", st, n, want)
		}
		defects := b.Defects(nil)
		for i, c := range defects {
			for _, d := range defects[:i] {
				if c == d {
					t.Fatalf("defect %q listed twice", c)
				}
			}
		}
		for _, c := range memberDefectsSeen {
			if !defects.Has(c) {
				t.Fatalf("member defect %q missing from Defects", c)
			}
		}
		if defects.Has(BaggageOversizedBytes) != (wantBytes > lim.MaxBytes) || defects.Has(BaggageOversizedMembers) != (wantMembers > lim.MaxMembers) {
			t.Fatalf("limit defects %q disagree with stats %+v", defects, st)
		}
		if want := len(defects) - btoi(defects.Has(BaggageOversizedBytes)) - btoi(defects.Has(BaggageOversizedMembers)); want > len(memberDefectsSeen) {
			t.Fatal("Defects lists a member defect no member had")
		}

		// Member validity against the reference grammar, on the raw split.
		b.Reset(values, lim)
		for _, v := range values {
			for _, raw := range bytes.Split(bytes.Trim(v, " \t"), []byte(",")) {
				m, _ := b.Next()
				tm := bytes.Trim(raw, " \t")
				if ref := refBaggageMemberValid(tm); ref != m.Valid {
					t.Fatalf("member valid=%v (%q), reference says %v", m.Valid, m.Defect, ref)
				}
				// The one-pass scanner must agree with the diagnosing splitter.
				slow := BaggageMember{Header: m.Header, Index: m.Index}
				diagnoseBaggageMember(&slow, tm)
				if !bytes.Equal(slow.Key, m.Key) || !bytes.Equal(slow.Value, m.Value) ||
					!bytes.Equal(slow.Properties, m.Properties) || slow.Valid != m.Valid || slow.Defect != m.Defect {
					t.Fatalf("fast path %+v, diagnose %+v", m, slow)
				}
			}
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func FuzzPercentDecode(f *testing.F) {
	for _, s := range []string{"", "DF%2028", "Am%C3%A9lie", "%E2%82", "%zz", "100%", "%C3%zz", "\xff%80", percentValueQuoted} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		prefix := []byte("prefix")
		out, ok := PercentDecode(append([]byte(nil), prefix...), src)
		if !bytes.HasPrefix(out, prefix) {
			t.Fatal("dst prefix clobbered")
		}
		got := out[len(prefix):]
		if len(got) > 3*len(src) {
			t.Fatalf("%d output bytes for %d input bytes", len(got), len(src))
		}
		if !utf8.Valid(got) {
			t.Fatal("output is not valid UTF-8")
		}
		want, wantOK := refPercentDecode(src)
		if !bytes.Equal(got, want) || ok != wantOK {
			t.Fatalf("got %q %v, reference %q %v", got, ok, want, wantOK)
		}
		if _, err := url.PathUnescape(string(src)); (err == nil) != ok {
			t.Fatalf("ok=%v but url.PathUnescape err=%v", ok, err)
		}
		if ok != validEscapes(src) {
			t.Fatal("PercentDecode and validEscapes disagree")
		}
	})
}
