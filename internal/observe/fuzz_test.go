package observe

import (
	"testing"

	"github.com/propwatch/propwatch/internal/loader"
)

// FuzzHandle feeds arbitrary chunk sequences through the observer: chunks
// of any bytes, on a few sockets and both directions, flagged as starts or
// continuations, some cut short by the capture. Nothing may panic, every
// table stays within its cap, and every request recorded is one the
// observer counted.
func FuzzHandle(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), []byte{0x01, 0x10, 0x22})
	f.Add([]byte("POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n\r\n"), []byte{0x01, 0x80})
	f.Add([]byte("GET /half HTTP/1.1\r\nHost: "), []byte{0x05, 0x07, 0x03})
	f.Add([]byte("\x16\x03\x01garbage"), []byte{0x01})
	f.Fuzz(func(t *testing.T, data []byte, plan []byte) {
		fx := newFixture(t, func(c *Config) { c.MaxStreams = 4; c.MaxQueued = 8; c.MaxHead = 256 })
		for i, p := range plan {
			if len(data) == 0 {
				break
			}
			n := int(p>>4) * 16
			if n == 0 || n > len(data) {
				n = len(data)
			}
			chunk := data[:n]
			data = data[n:]
			ev := &loader.Event{
				TGID: clientPID, Sock: uint64(p & 3), Local: clientAddr, Remote: serverAddr,
				Direction: loader.Direction((p >> 2) & 1), Start: p&0x08 != 0 || i == 0, Len: len(chunk), Data: chunk,
			}
			if ev.Direction == loader.Ingress {
				ev.TGID, ev.Local, ev.Remote = serverPID, serverAddr, clientAddr
			}
			if p&0x80 != 0 && len(chunk) > 1 {
				ev.Data = chunk[:len(chunk)/2] // captured only in part
			}
			fx.event(ev)
			if fx.obs.streams.Len() > 4 {
				t.Fatalf("%d streams", fx.obs.streams.Len())
			}
		}
		fx.obs.Flush()
		s := fx.agg.Snapshot()
		var classified, sent uint64
		for _, p := range s.Pairs {
			if p.MissingContext+p.InvalidContext > p.Requests || p.Truncated > p.Requests {
				t.Fatalf("pair %+v", p)
			}
			// Each request is classified once at most, a dropped one only
			// when it carried no context.
			if p.Continued+p.BrokenChain() > p.Requests || p.Dropped > p.MissingContext {
				t.Fatalf("pair %+v", p)
			}
			classified += p.Continued + p.BrokenChain()
		}
		for _, sv := range s.Services {
			sent += sv.Continued + sv.NewRoot + sv.Dropped
		}
		if sent != classified {
			t.Fatalf("services sent %d, pairs classified %d", sent, classified)
		}
	})
}
