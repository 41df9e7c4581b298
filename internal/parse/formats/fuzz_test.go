package formats

import (
	"testing"
)

// asciiLower lowercases A-Z only, as HTTP header names fold.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

func FuzzLookup(f *testing.F) {
	for _, n := range benchNames() {
		f.Add(n)
	}
	for fl := FieldB3; fl < NumFields; fl++ {
		f.Add([]byte(fl.String()))
	}
	f.Add([]byte("UBERCTX-X"))
	f.Add([]byte("ot-baggage-"))
	f.Add([]byte("x\x0db3-flags"))
	f.Fuzz(func(t *testing.T, name []byte) {
		got := Lookup(name)
		if got >= NumFields {
			t.Fatalf("Lookup returned %d", got)
		}
		if lower := Lookup(asciiLower(name)); lower != got {
			t.Fatalf("Lookup(%q) = %v but Lookup(lower) = %v", name, got, lower)
		}
		if got != FieldNone {
			// Every match is its canonical name, or the prefix plus a key.
			canon := got.String()
			l := asciiLower(name)
			if canon[len(canon)-1] == '*' {
				p := canon[:len(canon)-1]
				if len(l) <= len(p) || string(l[:len(p)]) != p {
					t.Fatalf("Lookup(%q) = %v", name, got)
				}
			} else if string(l) != canon {
				t.Fatalf("Lookup(%q) = %v", name, got)
			}
		}
	})
}

// FuzzEvaluate feeds a request of up to four known fields. sel picks each
// field (sel byte mod NumFields) and data is split on 0xFF into values.
func FuzzEvaluate(f *testing.F) {
	seed := func(fields []Field, values ...string) {
		sel := make([]byte, len(fields))
		for i, fl := range fields {
			sel[i] = byte(fl)
		}
		var data []byte
		for i, v := range values {
			if i > 0 {
				data = append(data, 0xFF)
			}
			data = append(data, v...)
		}
		f.Add(sel, data)
	}
	for _, x := range everyFormat() {
		seed([]Field{Lookup([]byte(x.name))}, x.value)
	}
	seed([]Field{FieldB3TraceID, FieldB3SpanID, FieldXRay}, tid128, sid, "Root=1-5759e988-bd862e3fe1be46a994272793")
	seed([]Field{FieldB3, FieldB3TraceID, FieldB3SpanID}, tid64+"-"+sid, tid128, sid)
	seed([]Field{FieldDDTraceID, FieldDDParentID, FieldDDOrigin, FieldDDTags}, "1", "0", "synthetics", "_dd.p.tid=0000000000000001")
	seed([]Field{FieldUberTraceID}, "a%3Ab%3a0:1")
	seed([]Field{FieldSW8, FieldSW8X}, "1-YQ-Yg-0-Yw-ZA-ZQ-Zg", "1-1")
	seed([]Field{FieldOTSampled, FieldOTBaggage}, "TRUE", "x")
	f.Fuzz(func(t *testing.T, sel, data []byte) {
		if len(sel) > 4 {
			sel = sel[:4]
		}
		var h Headers
		rest := data
		for _, s := range sel {
			var v []byte
			v, rest, _ = cut(rest, 0xFF)
			h.Add(Field(s%byte(NumFields)), v)
		}
		rs := h.Evaluate(nil)
		if len(rs) > 9 {
			t.Fatalf("%d results", len(rs))
		}
		var seen Format
		for _, r := range rs {
			checkInvariants(t, r)
			if seen&r.Format != 0 {
				t.Fatalf("format %v reported twice", r.Format)
			}
			seen |= r.Format
		}
		if seen != h.Formats() {
			t.Fatalf("results cover %v, Formats() = %v", seen.AppendNames(nil), h.Formats().AppendNames(nil))
		}
		h.Reset()
		if !isEmpty(&h) {
			t.Fatalf("Reset left state")
		}
	})
}
