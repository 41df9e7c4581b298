package kafka

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/propwatch/propwatch/internal/parse/kafka/kafkatest"
)

func TestSniffRequest(t *testing.T) {
	cases := []struct {
		name             string
		key, version     int16
		clientID         string
		flexible         bool
		headerLenWithout int // header length without tags
	}{
		{"produce v7", APIProduce, 7, "kgo", false, 4 + 10 + 3},
		{"produce v9", APIProduce, 9, "producer-1", true, 4 + 10 + 10},
		{"produce v13", APIProduce, 13, "", true, 4 + 10},
		{"fetch v18", APIFetch, 18, "consumer-g-1", true, 4 + 10 + 12},
		{"apiversions v3", 18, 3, "sarama", true, 4 + 10 + 6},
		{"metadata v0", APIMetadata, 0, "x", false, 4 + 10 + 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			frame := kafkatest.RequestFrame(c.key, c.version, 0x01020304, c.clientID, []byte("body"))
			hd, st := SniffRequest(frame)
			wantLen := c.headerLenWithout
			if c.flexible {
				wantLen++
			}
			if st != Request || hd.APIKey != c.key || hd.APIVersion != c.version || hd.CorrelationID != 0x01020304 ||
				string(hd.ClientID) != c.clientID || hd.ClientIDLen != len(c.clientID) || hd.Flexible != c.flexible ||
				hd.HeaderLen != wantLen || hd.FrameLen() != len(frame) || hd.BodyLen() != 4 {
				t.Fatalf("%v %+v", st, hd)
			}
			if string(frame[hd.HeaderLen:]) != "body" {
				t.Fatal("body does not start at HeaderLen")
			}
			// Every prefix of the header is too short to tell.
			for i := 0; i < hd.HeaderLen; i++ {
				if _, st := SniffRequest(frame[:i]); st != NeedMore {
					t.Fatalf("prefix %d: %v", i, st)
				}
			}
		})
	}
}

func TestSniffRequestRejects(t *testing.T) {
	good := kafkatest.RequestFrame(APIProduce, 9, 1, "kgo", []byte("body"))
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	cases := map[string][]byte{
		"http":            []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"http2 preface":   []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
		"tls":             {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03},
		"tls first byte":  {0x16},
		"size too small":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, 9); return b }),
		"size too large":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, MaxRequestSize+1); return b }),
		"negative size":   mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b, 0xffffff00); return b }),
		"unknown key":     mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[4:], 999); return b }),
		"negative key":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[4:], 0xffff); return b }),
		"version too new": mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[6:], 14); return b }),
		"client id ctl":   mutate(func(b []byte) []byte { b[15] = '\n'; return b }),
		"client id -2":    mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[12:], 0xfffe); return b }),
		"client id long":  mutate(func(b []byte) []byte { binary.BigEndian.PutUint16(b[12:], MaxClientID+1); return b }),
		"client id past size": mutate(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b, 12)
			return b
		}),
		"too many tags": mutate(func(b []byte) []byte { b[17] = maxHeaderTags + 1; return b }),
		"tag past frame": mutate(func(b []byte) []byte {
			return append(b[:17], 1, 0, 100)
		}),
	}
	for name, b := range cases {
		if hd, st := SniffRequest(b); st != NotKafka {
			t.Errorf("%s: %v %+v", name, st, hd)
		}
	}
	// A null client id is fine, and a long one is kept bounded.
	null := kafkatest.RequestFrame(APIProduce, 7, 1, "", nil)
	binary.BigEndian.PutUint16(null[12:], 0xffff)
	if hd, st := SniffRequest(null); st != Request || hd.ClientIDLen != -1 || hd.ClientID != nil || hd.HeaderLen != 14 {
		t.Fatalf("null client id: %v %+v", st, hd)
	}
	long := kafkatest.RequestFrame(APIProduce, 7, 1, strings.Repeat("c", 600), nil)
	if hd, st := SniffRequest(long); st != Request || hd.ClientIDLen != 600 || len(hd.ClientID) != 255 {
		t.Fatalf("long client id: %v %d", st, len(hd.ClientID))
	}
}

func TestParseResponseHeader(t *testing.T) {
	frame := func(flex bool) []byte {
		b := binary.BigEndian.AppendUint32(nil, 0)
		b = binary.BigEndian.AppendUint32(b, 42)
		if flex {
			b = append(b, 1, 5, 2, 'h', 'i') // one tag, 2 bytes
		}
		b = append(b, "body"...)
		binary.BigEndian.PutUint32(b, uint32(len(b)-4))
		return b
	}
	cases := []struct {
		key, version int16
		flex         bool
	}{
		{APIFetch, 12, true}, {APIFetch, 11, false}, {APIProduce, 9, true}, {APIProduce, 8, false},
		// ApiVersions answers with header v0 even at flexible versions.
		{18, 3, false}, {18, 4, false}, {APIMetadata, 13, true},
	}
	for _, c := range cases {
		b := frame(c.flex)
		hd, st := ParseResponseHeader(b, c.key, c.version)
		if st != Response || hd.CorrelationID != 42 || string(b[hd.HeaderLen:]) != "body" || hd.FrameLen() != len(b) || hd.BodyLen() != 4 {
			t.Fatalf("key %d v%d: %v %+v", c.key, c.version, st, hd)
		}
		for i := 0; i < hd.HeaderLen; i++ {
			if _, st := ParseResponseHeader(b[:i], c.key, c.version); st != NeedMore {
				t.Fatalf("key %d v%d prefix %d: %v", c.key, c.version, i, st)
			}
		}
	}
	if _, st := ParseResponseHeader(frame(false), APIFetch, 99); st != NotKafka {
		t.Fatal("unknown version accepted")
	}
	if _, st := ParseResponseHeader([]byte("HTTP/1.1 200 OK\r\n"), APIFetch, 4); st != NotKafka {
		t.Fatal("HTTP accepted")
	}
}

func TestKnownVersion(t *testing.T) {
	if !KnownVersion(APIProduce, 13) || KnownVersion(APIProduce, 14) || !KnownVersion(APIFetch, 18) || KnownVersion(-1, 0) || KnownVersion(1000, 0) {
		t.Fatal("version table disagrees with kmsg")
	}
	for _, s := range []Status{NotKafka, NeedMore, Request, Response} {
		if s.String() == "" {
			t.Fatal("unnamed status")
		}
	}
}
