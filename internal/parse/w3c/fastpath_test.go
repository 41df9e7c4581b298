package w3c

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// refNext is Next as it was before simpleMember: every member is cut at
// the next ',' first and then judged by parseBaggageMember. It is the
// oracle of FuzzBaggageFastPath.
func (b *Baggage) refNext() (BaggageMember, bool) {
	for !b.more {
		if b.hdr+1 >= len(b.values) {
			b.hdr = len(b.values)
			return BaggageMember{}, false
		}
		b.hdr++
		b.rest = trimOWS(b.values[b.hdr])
		b.more = true
	}
	var raw []byte
	if i := bytes.IndexByte(b.rest, ','); i >= 0 {
		raw, b.rest = b.rest[:i], b.rest[i+1:]
	} else {
		raw, b.rest, b.more = b.rest, nil, false
	}
	m := BaggageMember{Header: b.hdr, Index: b.stats.Members}
	parseBaggageMember(&m, trimOWS(raw))
	b.stats.Members++
	if b.stats.Members > b.lim.MaxMembers {
		b.stats.Oversized = true
		b.tooMany = true
	}
	if !m.Valid {
		b.note(m.Defect)
	}
	return m, true
}

// sameSlice reports whether a and b are the same sub-slice of one buffer:
// equal bytes are not enough, the engine relies on where a member's parts
// lie in their header value.
func sameSlice(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 {
		return true
	}
	return &a[0] == &b[0]
}

func sameMember(a, b BaggageMember) bool {
	return a.Header == b.Header && a.Index == b.Index && a.Valid == b.Valid && a.Defect == b.Defect &&
		sameSlice(a.Key, b.Key) && sameSlice(a.Value, b.Value) && sameSlice(a.Properties, b.Properties)
}

// checkBaggageFastPath runs Next and refNext side by side over values and
// fails at the first member, statistic or defect on which they differ.
func checkBaggageFastPath(t *testing.T, values [][]byte, lim BaggageLimits) {
	t.Helper()
	var fast, ref Baggage
	fast.Reset(values, lim)
	ref.Reset(values, lim)
	for {
		m, ok := fast.Next()
		rm, rok := ref.refNext()
		if ok != rok || !sameMember(m, rm) {
			t.Fatalf("values %q: Next = %+v, %v; reference %+v, %v", values, m, ok, rm, rok)
		}
		if !ok {
			break
		}
	}
	if fast.Stats() != ref.Stats() {
		t.Fatalf("values %q: stats %+v, reference %+v", values, fast.Stats(), ref.Stats())
	}
	if got, want := fast.Defects(nil), ref.Defects(nil); !equalCodes(got, want) {
		t.Fatalf("values %q: defects %q, reference %q", values, got, want)
	}
}

func equalCodes(a, b reason.List) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var baggageFastPathSeeds = []string{
	"", " ", ",", "k=v", " k = v ", "k=v,", "k=v ,j=w", "k=v\t,\tj=w", "k=%41,j=%4", "k=%4 ,j=w",
	"k=%4", "k=%", "k=v;p", "k=v ;p=1", "k=a b", "k", "=v", "k==v", "k=v=w", "k=\"v\"", "%=%25",
	"tenant=acme,region=eu-west-1,plan=enterprise,feature.canary=true,deployment=canary-7",
	"feature.flags=new-checkout%3Bdark-mode,request.priority=high",
	"a=1\nb=2, c=3\n\n,", "k=v\x00", "k=\xffv", "k=v,,j=w",
}

func TestBaggageFastPath(t *testing.T) {
	for _, s := range baggageFastPathSeeds {
		checkBaggageFastPath(t, splitValues([]byte(s)), DefaultBaggageLimits())
		checkBaggageFastPath(t, splitValues([]byte(s)), BaggageLimits{MaxBytes: 4, MaxMembers: 1, AtRiskBytes: 2})
	}
}

// FuzzBaggageFastPath checks that Next, with its one-pass path for simple
// members, yields exactly what cutting at ',' and parsing each member did.
func FuzzBaggageFastPath(f *testing.F) {
	for _, s := range baggageFastPathSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkBaggageFastPath(t, splitValues(data), BaggageLimits{MaxBytes: 64, MaxMembers: 4, AtRiskBytes: 32})
	})
}

// refCheckTraceState is CheckTraceState as it was before
// simpleTraceStateMember: every member is cut at the next ',' and trimmed
// first, then judged. It is the oracle of FuzzTraceStateFastPath.
func refCheckTraceState(values [][]byte, dst reason.List) (TraceStateStats, reason.List) {
	st := TraceStateStats{Headers: len(values)}
	var keys [traceStateMaxMembers][]byte
	nkeys := 0
	for h, v := range values {
		v = trimOWS(v)
		st.Bytes += len(v)
		if h > 0 {
			st.Bytes++
		}
		for len(v) > 0 {
			var m []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				m, v = v[:i], v[i+1:]
			} else {
				m, v = v, nil
			}
			m = trimOWS(m)
			if len(m) == 0 {
				continue
			}
			st.Members++
			if st.Members == traceStateMaxMembers+1 {
				dst = dst.Add(TraceStateTooManyMembers)
			}
			eq := bytes.IndexByte(m, '=')
			if eq < 0 {
				dst = dst.Add(TraceStateInvalidMember)
				continue
			}
			key, val := m[:eq], m[eq+1:]
			keyOK := true
			if c := checkTraceStateKey(key); c != "" {
				dst = dst.Add(c)
				keyOK = false
			}
			if c := checkTraceStateValue(val); c != "" {
				dst = dst.Add(c)
			}
			if !keyOK {
				continue
			}
			for _, k := range keys[:nkeys] {
				if bytes.Equal(k, key) {
					dst = dst.Add(TraceStateDuplicateKey)
					break
				}
			}
			if nkeys < len(keys) {
				keys[nkeys] = key
				nkeys++
			}
		}
	}
	return st, dst
}

// refDecodeHex is the hex decoding of trace and parent ids as it was
// before decodeHex16: one table lookup per digit.
func refDecodeHex(dst, src []byte) bool {
	var bad uint8
	for i := range dst {
		hi, lo := hexVal[src[2*i]], hexVal[src[2*i+1]]
		bad |= hi | lo
		dst[i] = hi<<4 | lo
	}
	return bad <= 0x0f
}

func checkTraceStateFastPath(t *testing.T, values [][]byte) {
	t.Helper()
	st, got := CheckTraceState(values, nil)
	rst, want := refCheckTraceState(values, nil)
	if st != rst || !equalCodes(got, want) {
		t.Fatalf("values %q: %+v %q; reference %+v %q", values, st, got, rst, want)
	}
}

var traceStateFastPathSeeds = []string{
	"", " ", ",", "a=1", " a = 1 ", "a=1 ,b=2", "a=1\t,\tb=2", "a=b c", "a=b c ,d=e", "a=b\t c",
	"a=1,a=2", "a=", "=1", "a", "A=1", "a==1", "a=1=2", "1a@b_-*/=x", "a=\x7f", "a=b,,c=d",
	"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7", "a=1\na=2", "k=" + strings.Repeat("v", 256),
	"k=" + strings.Repeat("v", 257), strings.Repeat("k", 256) + "=v", strings.Repeat("k", 257) + "=v",
	strings.Repeat("a=1,", 33), "a=1 \t ,b=2",
}

func TestTraceStateFastPath(t *testing.T) {
	for _, s := range traceStateFastPathSeeds {
		checkTraceStateFastPath(t, splitValues([]byte(s)))
	}
}

// FuzzTraceStateFastPath checks that CheckTraceState, with its one-pass
// path for valid members, judges exactly as cutting at ',' first did.
func FuzzTraceStateFastPath(f *testing.F) {
	for _, s := range traceStateFastPathSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkTraceStateFastPath(t, splitValues(data))
	})
}

func checkDecodeHex(t *testing.T, src []byte) {
	t.Helper()
	v, ok := decodeHex16(src)
	var got, want [8]byte
	binary.LittleEndian.PutUint64(got[:], v)
	wantOK := refDecodeHex(want[:], src)
	if ok != wantOK || ok && got != want {
		t.Fatalf("decodeHex16(%q) = %x, %v; reference %x, %v", src, got, ok, want, wantOK)
	}
}

// TestDecodeHex16 tries every byte value in every position of a valid id,
// which covers each bound hexLetters8 compares with from both sides.
func TestDecodeHex16(t *testing.T) {
	base := []byte("4bf92f3577b34da6")
	for pos := range base {
		for c := 0; c < 256; c++ {
			src := bytes.Clone(base)
			src[pos], src[len(src)-1-pos] = byte(c), byte(255-c)
			checkDecodeHex(t, src)
		}
	}
	checkDecodeHex(t, []byte("0123456789abcdef"))
	checkDecodeHex(t, []byte("ABCDEF0000000000"))
	checkDecodeHex(t, []byte("ffffffffffffffff"))
	checkDecodeHex(t, []byte("0000000000000000"))
}

// FuzzDecodeHex compares decodeHex16 with one table lookup per digit.
func FuzzDecodeHex(f *testing.F) {
	f.Add([]byte("4bf92f3577b34da6"))
	f.Add([]byte("00f067aa0ba902b7"))
	f.Add([]byte("4BF92F35/:`g@GG\x80\xff"))
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) < 16 {
			return
		}
		checkDecodeHex(t, src[:16])
	})
}
