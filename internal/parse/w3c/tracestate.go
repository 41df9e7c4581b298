package w3c

import (
	"bytes"

	"github.com/propwatch/propwatch/internal/parse/reason"
)

// Trace Context Level 2 tracestate limits.
const (
	traceStateMaxMembers = 32
	traceStateMaxKey     = 256
	traceStateMaxValue   = 256
)

// TraceStateStats describes the combined tracestate list of one request.
type TraceStateStats struct {
	// Headers is the number of tracestate header values.
	Headers int
	// Members counts the non-empty list members, valid or not. Empty and
	// OWS-only members are allowed by the spec and not counted.
	Members int
	// Bytes is the length of the combined value: the OWS-trimmed header
	// values plus one joining comma between each two of them.
	Bytes int
}

// CheckTraceState judges all tracestate header values of one request,
// combined as RFC 9110 §5.3 requires (several headers are one comma-joined
// list). It appends each defect found to dst once and returns the list.
// An empty header, empty members and OWS around members are all valid.
//
// Keys follow the Level 2 grammar, (lcalpha / DIGIT) 0*255 keychar with '@'
// allowed anywhere after the first character; Level 1's tenant@system
// length split is gone. Duplicate keys are found by comparing each key with
// those of the first 32 members, which keeps the check allocation-free and
// linear: past 32 members the list is already invalid.
func CheckTraceState(values [][]byte, dst reason.List) (TraceStateStats, reason.List) {
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
			key, rest, ok := simpleTraceStateMember(v)
			if !ok {
				var m []byte
				if i := bytes.IndexByte(v, ','); i >= 0 {
					m, rest = v[:i], v[i+1:]
				} else {
					m, rest = v, nil
				}
				key, ok = checkTraceStateMember(trimOWS(m), &st, &dst)
			} else {
				st.Members++
				if st.Members == traceStateMaxMembers+1 {
					dst = dst.Add(TraceStateTooManyMembers)
				}
			}
			v = rest
			if !ok {
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

// simpleTraceStateMember reads the member at the start of list when it is a
// valid one, up to the next ',' or the end, and returns its key and the list
// after it; ok is false for any other member. One pass validates the member
// and finds its end.
func simpleTraceStateMember(list []byte) (key, rest []byte, ok bool) {
	i, n := 0, len(list)
	for i < n && isOWS(list[i]) {
		i++
	}
	k := i
	if i == n || class[list[i]]&clsTSKeyStart == 0 {
		return nil, nil, false
	}
	i++
	for i < n && class[list[i]]&clsTSKeyChar != 0 {
		i++
	}
	if i == n || list[i] != '=' || i-k > traceStateMaxKey {
		return nil, nil, false
	}
	key = list[k:i]
	i++
	s := i
	i = span(list, i, clsTSValueChar)
	// Value characters include the space, so the trailing OWS that
	// trimming would drop may have been read as value.
	e := i
	for e > s && list[e-1] == ' ' {
		e--
	}
	for i < n && isOWS(list[i]) {
		i++
	}
	if e == s || e-s > traceStateMaxValue || i < n && list[i] != ',' {
		return nil, nil, false
	}
	if i < n {
		return key, list[i+1:], true
	}
	return key, nil, true
}

// checkTraceStateMember judges one OWS-trimmed member, counting it in st
// and adding its defects to dst. It returns the member's key and whether
// that key is valid, which makes it one to check for duplicates.
func checkTraceStateMember(m []byte, st *TraceStateStats, dst *reason.List) ([]byte, bool) {
	if len(m) == 0 {
		return nil, false
	}
	st.Members++
	if st.Members == traceStateMaxMembers+1 {
		*dst = dst.Add(TraceStateTooManyMembers)
	}
	eq := bytes.IndexByte(m, '=')
	if eq < 0 {
		*dst = dst.Add(TraceStateInvalidMember)
		return nil, false
	}
	key, val := m[:eq], m[eq+1:]
	keyOK := true
	if c := checkTraceStateKey(key); c != "" {
		*dst = dst.Add(c)
		keyOK = false
	}
	if c := checkTraceStateValue(val); c != "" {
		*dst = dst.Add(c)
	}
	return key, keyOK
}

func checkTraceStateKey(k []byte) reason.Code {
	if len(k) == 0 || class[k[0]]&clsTSKeyStart == 0 || !allIn(k[1:], clsTSKeyChar) {
		return TraceStateInvalidKey
	}
	if len(k) > traceStateMaxKey {
		return TraceStateKeyTooLong
	}
	return ""
}

// checkTraceStateValue judges a value whose member was already OWS-trimmed,
// so a trailing space cannot remain: "value = 0*255(chr) nblk-chr" reduces
// to one to 256 chr characters.
func checkTraceStateValue(v []byte) reason.Code {
	if len(v) == 0 || !allIn(v, clsTSValueChar) {
		return TraceStateInvalidValue
	}
	if len(v) > traceStateMaxValue {
		return TraceStateValueTooLong
	}
	return ""
}
