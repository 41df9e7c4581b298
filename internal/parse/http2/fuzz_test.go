package http2

import (
	"bytes"
	"slices"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// FuzzConn feeds arbitrary bytes, cut into chunks at the places the input
// names, with and without the preface: no panic, and every block within
// the bounds.
func FuzzConn(f *testing.F) {
	cl := newClient(20)
	cl.preface()
	for i := range 5 {
		cl.request(i*7, ":method", "POST", ":path", "/a", "traceparent", traceparent(i), "baggage", "user=x%40y.com")
	}
	f.Add(cl.buf.Bytes(), []byte{30, 7, 200, 1})
	f.Add(cl.buf.Bytes()[len(Preface):], []byte{9, 9, 9})
	f.Add([]byte{0, 0, 1, 9, 4, 0, 0, 0, 1, 0x82}, []byte{})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		c := NewConn(Config{MaxBlock: 512, MaxTable: 1024})
		var h collector
		for i, p := 0, data; len(p) > 0; i++ {
			n := len(p)
			start, cut := i == 0, false
			if i < len(cuts) {
				n = min(n, int(cuts[i]&0x7f)+1)
				start = start || cuts[i]&0x80 != 0
				cut = i > 0 && cuts[i-1]&0x40 != 0
			}
			c.Feed(p[:n], start, cut, &h)
			p = p[n:]
		}
		for _, b := range h.blocks {
			if len(b.fields) > 512 {
				t.Fatalf("%d fields from a 512-byte block", len(b.fields))
			}
		}
		if c.dec.TableBytes() > 1024 {
			t.Fatalf("table %d bytes past its 1024 limit", c.dec.TableBytes())
		}
	})
}

// FuzzDecoder decodes arbitrary blocks in sequence, from a known table
// and from an unknown one. From a known table it must agree with x/net's
// decoder wherever that one succeeds; from an unknown one every field it
// decodes must be one x/net decoded, in the same order.
func FuzzDecoder(f *testing.F) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	var blocks [][]byte
	for i := range 4 {
		buf.Reset()
		for _, hf := range []hpack.HeaderField{{Name: ":path", Value: "/x"}, {Name: "traceparent", Value: traceparent(i)},
			{Name: "baggage", Value: "a=b"}, {Name: "secret", Value: "x", Sensitive: true}} {
			_ = enc.WriteField(hf)
		}
		blocks = append(blocks, slices.Clone(buf.Bytes()))
	}
	f.Add(bytes.Join(blocks, nil), []byte{byte(len(blocks[0])), byte(len(blocks[1])), byte(len(blocks[2]))}, uint8(1))
	f.Add([]byte{0x3f, 0xe1, 0x1f, 0x82}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, data, lens []byte, skip uint8) {
		var parts [][]byte
		for i, p := 0, data; len(p) > 0; i++ {
			n := len(p)
			if i < len(lens) {
				n = min(n, int(lens[i]))
			}
			parts = append(parts, p[:n])
			p = p[n:]
		}
		ref := hpack.NewDecoder(DefaultTableSize, nil)
		ref.SetAllowedMaxDynamicTableSize(DefaultMaxTable)
		var exact, joined Decoder
		exact.Reset(true, 0)
		joined.Reset(false, 0)
		refOK := true
		for i, p := range parts {
			want, err := ref.DecodeFull(p)
			refOK = refOK && err == nil
			r := exact.Decode(p, true)
			if refOK && r.Err == nil {
				if r.Hidden != 0 || r.Inferred != 0 || len(r.Fields) != len(want) {
					t.Fatalf("block %d: %d fields, %d hidden, want %d", i, len(r.Fields), r.Hidden, len(want))
				}
				for k, hf := range want {
					if string(r.Fields[k].Name) != hf.Name || string(r.Fields[k].Value) != hf.Value {
						t.Fatalf("block %d field %d: %q: %q, want %q: %q", i, k, r.Fields[k].Name, r.Fields[k].Value, hf.Name, hf.Value)
					}
				}
			}
			if i < int(skip) {
				continue // the joined decoder has not seen these
			}
			j := joined.Decode(p, true)
			if !refOK || j.Err != nil {
				continue
			}
			k := 0
			for _, fl := range j.Fields {
				for k < len(want) && (want[k].Name != string(fl.Name) || want[k].Value != string(fl.Value)) {
					if string(fl.Name) == "traceparent" && want[k].Value == string(fl.Value) {
						break // inferred by shape: the value is right
					}
					k++
				}
				if k == len(want) {
					t.Fatalf("block %d: joined decoder made up %q: %q", i, fl.Name, fl.Value)
				}
				k++
			}
		}
	})
}
