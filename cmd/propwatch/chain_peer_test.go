package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"
)

// Peers of the continuity end-to-end test: an entry client (chain-a) calls
// a service (chain-b) that calls another (a "server" peer) for each
// request, in one of three ways the path names:
//
//	/same      inside the request, with the request's trace (a new span)
//	/detached  from a detached job (a goroutine without the request's
//	           context), whose SDK starts a fresh trace
//	/none      without any context
const (
	chainSame     = 4
	chainDetached = 3
	chainNone     = 2
	chainRequests = chainSame + chainDetached + chainNone
)

// runChainPeer runs the continuity roles; ok is false for other roles.
func runChainPeer(role string) (ok bool, err error) {
	switch role {
	case "chain-a":
		return true, chainEntry(os.Getenv("PEER_ADDR"))
	case "chain-b":
		return true, chainService(os.Getenv("PEER_ADDR"))
	}
	return false, nil
}

// freshTraceparent is the traceparent of a new trace, as an SDK starts one.
func freshTraceparent() string {
	return fmt.Sprintf("00-%016x%016x-%016x-01", rand.Uint64()|1, rand.Uint64()|1, rand.Uint64()|1)
}

// chainEntry sends chain-b chainRequests requests, each with a traceparent
// of a trace of its own, over one keep-alive connection, and prints "done".
func chainEntry(addr string) error {
	c, err := dialPeer(addr)
	if err != nil {
		return err
	}
	defer c.c.Close()
	i := 0
	for _, step := range []struct {
		path string
		n    int
	}{{"/same", chainSame}, {"/detached", chainDetached}, {"/none", chainNone}} {
		for range step.n {
			i++
			tp := fmt.Sprintf("traceparent: 00-%s%08x-%016x-01\r\n", chainTracePrefix, i, rand.Uint64()|1)
			if err := c.request(get(step.path, tp)); err != nil {
				return err
			}
		}
	}
	fmt.Println("done")
	return nil
}

// chainService serves on loopback, printing its address first, and calls
// the server at next for every request it gets, as the path says; it
// answers once that call has been answered. With CHAIN_PRINT_FRESH=1 it
// prints "fresh " and the traceparent of each fresh trace it starts,
// before the call, so that a test knows the ids of the new roots.
func chainService(next string) error {
	printFresh := os.Getenv("CHAIN_PRINT_FRESH") == "1"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(traceparent string) error {
		req, err := http.NewRequest("GET", "http://"+next+"/downstream", nil)
		if err != nil {
			return err
		}
		if traceparent != "" {
			req.Header.Set("traceparent", traceparent)
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := r.Header.Get("traceparent")
		var err error
		switch r.URL.Path {
		case "/same":
			// The request's trace, a span of this service's own.
			if len(in) != 55 {
				err = errors.New("no traceparent to continue")
				break
			}
			err = call(in[:36] + fmt.Sprintf("%016x", rand.Uint64()|1) + in[52:])
		case "/detached":
			tp := freshTraceparent()
			if printFresh {
				fmt.Println("fresh " + tp)
			}
			done := make(chan error, 1)
			go func() { done <- call(tp) }()
			err = <-done
		case "/none":
			err = call("")
		default:
			err = errors.New("unknown path")
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Write([]byte("ok"))
	})}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

// chainTracePrefix starts the trace ids of chain-a's requests (the rest
// is a counter), so that the test can assert none ever comes out.
const chainTracePrefix = "c4a1ded0c4a1ded0c4a1ded0"
