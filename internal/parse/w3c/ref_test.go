package w3c

// Slow, obviously-correct reference judges written straight from the specs'
// ABNF with regexp. They are test oracles only: the package itself must
// not use regexp.

import (
	"bytes"
	"regexp"
	"unicode/utf8"
)

var refTraceParentFields = regexp.MustCompile(`^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$`)

// refTraceParentValid follows spec/20-http_request_header_format.md's
// version-format and "Versioning of traceparent".
func refTraceParentValid(v []byte) bool {
	s := bytes.Trim(v, " \t")
	if len(s) < traceParentLen {
		return false
	}
	m := refTraceParentFields.FindSubmatch(s[:traceParentLen])
	if m == nil {
		return false
	}
	ver := string(m[1])
	if ver == "ff" {
		return false
	}
	if len(s) > traceParentLen && (ver == "00" || s[traceParentLen] != '-') {
		return false
	}
	return string(m[2]) != "00000000000000000000000000000000" && string(m[3]) != "0000000000000000"
}

var (
	refTSKey   = regexp.MustCompile(`^[a-z0-9][a-z0-9_\-*/@]{0,255}$`)
	refTSValue = regexp.MustCompile(`^[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$`)
)

// refTraceState judges the combined list: valid, and the number of
// non-empty members.
func refTraceState(values [][]byte) (valid bool, members int) {
	combined := bytes.Join(values, []byte(","))
	valid = true
	keys := map[string]bool{}
	for _, m := range bytes.Split(combined, []byte(",")) {
		m = bytes.Trim(m, " \t")
		if len(m) == 0 {
			continue
		}
		members++
		k, v, ok := bytes.Cut(m, []byte("="))
		if !ok || !refTSKey.Match(k) || !refTSValue.Match(v) || keys[string(k)] {
			valid = false
		}
		keys[string(k)] = true
	}
	return valid && members <= 32, members
}

const (
	refToken = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
	refValue = `[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*`
)

var (
	refBaggageKV   = regexp.MustCompile(`^` + refToken + `[ \t]*=[ \t]*(` + refValue + `)$`)
	refBaggageProp = regexp.MustCompile(`^[ \t]*` + refToken + `[ \t]*(?:=[ \t]*(` + refValue + `)[ \t]*)?$`)
	refEscapes     = regexp.MustCompile(`^(?:[^%]|%[0-9A-Fa-f]{2})*$`)
)

// refBaggageMemberValid follows baggage/HTTP_HEADER_FORMAT.md's list-member
// for one OWS-trimmed member.
func refBaggageMemberValid(m []byte) bool {
	parts := bytes.Split(m, []byte(";"))
	kv := refBaggageKV.FindSubmatch(bytes.TrimRight(parts[0], " \t"))
	if kv == nil || !refEscapes.Match(kv[1]) {
		return false
	}
	for _, p := range parts[1:] {
		pm := refBaggageProp.FindSubmatch(p)
		if pm == nil || !refEscapes.Match(pm[1]) {
			return false
		}
	}
	return true
}

// refPercentDecode decodes the escapes to octets, keeps a malformed '%'
// literally, then replaces each octet that is not part of valid UTF-8 with
// U+FFFD, the way utf8.DecodeRune counts them.
func refPercentDecode(src []byte) ([]byte, bool) {
	var raw []byte
	ok := true
	for i := 0; i < len(src); i++ {
		if src[i] == '%' {
			if i+2 < len(src) && refIsHex(src[i+1]) && refIsHex(src[i+2]) {
				raw = append(raw, refUnhex(src[i+1])<<4|refUnhex(src[i+2]))
				i += 2
				continue
			}
			ok = false
		}
		raw = append(raw, src[i])
	}
	var out []byte
	for len(raw) > 0 {
		r, n := utf8.DecodeRune(raw)
		if r == utf8.RuneError && n == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, raw[:n]...)
		}
		raw = raw[n:]
	}
	return out, ok
}

func refIsHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func refUnhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
