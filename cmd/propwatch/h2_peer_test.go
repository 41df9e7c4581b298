package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
)

// The HTTP/2 client's mix (h2c with prior knowledge, one connection), and
// what propwatch must count for it.
const (
	h2Valid      = 6
	h2Missing    = 4
	h2Invalid    = 3
	h2PII        = 2
	h2Oversized  = 1  // 9000 bytes of baggage: one HEADERS frame
	h2Split      = 1  // a 40 KB header (30 KB Huffman-coded), no context: CONTINUATION frames, past the capture
	h2Literal    = 1  // valid, with baggage the encoder sends as a raw (not Huffman-coded) literal
	h2Concurrent = 20 // at once, on the same connection
	h2Requests   = h2Valid + h2Missing + h2Invalid + h2PII + h2Oversized + h2Split + h2Literal + h2Concurrent
)

// h2LiteralBaggage is a baggage header whose value HPACK sends as a raw
// literal: its symbols' Huffman codes are 11 to 14 bits long, so the
// encoder finds the raw octets shorter.
const h2LiteralBaggage = "sym=~|^~|^~|^~|^~|^"

func runH2Peer(role string) (bool, error) {
	switch role {
	case "h2-server":
		return true, peerH2Server()
	case "h2-client":
		return true, peerH2Client(os.Getenv("PEER_ADDR"))
	}
	return false, nil
}

// h2c is HTTP/2 without TLS, with prior knowledge: net/http's (x/net's
// http2, bundled), which golang.org/x/net/http2's Server and Transport now
// defer to.
func h2c() *http.Protocols {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &p
}

// peerH2Server serves h2c with prior knowledge. It prints its address
// first.
func peerH2Server() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Protocols: h2c(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok"))
	})}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

// peerH2Client sends the mix on one connection and prints "done".
func peerH2Client(addr string) error {
	cl := &http.Client{Transport: &http.Transport{Protocols: h2c()}}
	send := func(headers ...string) error {
		req, _ := http.NewRequest("POST", "http://"+addr+"/h2", strings.NewReader("body"))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	tp := func(s string) string { return strings.TrimSpace(strings.TrimPrefix(s, "traceparent:")) }
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	for i := range h2Valid {
		add(send("traceparent", fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)))
	}
	for range h2Missing {
		add(send())
	}
	for range h2Invalid {
		add(send("traceparent", tp(invalidTP)))
	}
	for range h2PII {
		add(send("traceparent", tp(validTP), "baggage", "user="+plantedEmail+",card="+plantedCard))
	}
	add(send("traceparent", tp(validTP), "baggage", "big="+strings.Repeat("x", 9000)))
	add(send("traceparent", tp(validTP), "baggage", h2LiteralBaggage))
	// No traceparent: Go writes header fields in map order, so one would
	// land before or after the cut at random (after it, the request is
	// judged on what was read, as for a cut HTTP/1.x head: missing).
	add(send("x-pad", strings.Repeat("p", 40000)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range h2Concurrent {
		wg.Go(func() {
			err := send("traceparent", fmt.Sprintf("00-%032x-%016x-01", 100+i, 100+i))
			mu.Lock()
			add(err)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	fmt.Println("done")
	return nil
}
