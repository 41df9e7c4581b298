package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// TLS peers of the end-to-end tests of e2e_tls_linux_test.go: a Go HTTPS
// server and client (crypto/tls under net/http), HTTP/1.1 forced or HTTP/2
// negotiated by ALPN, and a Kafka broker (kfake) listening with TLS. The
// certificates are files the test wrote: PEER_TLS_CERT and PEER_TLS_KEY
// for a server, PEER_TLS_CA for a client (kafkaClient reads it too).

// The mix every TLS client sends (tlsMix), and what propwatch must count
// for it: one request per entry, on one connection.
const (
	tlsValid    = 5 // traceparent and baggage without PII
	tlsMissing  = 4 // no trace context
	tlsInvalid  = 3 // traceparent in upper-case hex
	tlsPII      = 2 // traceparent and baggage carrying the planted email
	tlsPost     = 1 // valid, with a body that reads like a request head
	tlsRequests = tlsValid + tlsMissing + tlsInvalid + tlsPII + tlsPost
)

// tlsPIIBaggage carries the planted email, percent-encoded as a W3C
// baggage value is.
var tlsPIIBaggage = "user.id=42,contact=" + strings.Replace(plantedEmail, "@", "%40", 1)

// tlsRequest is one request of the mix. The JSON form is what the Node.js
// client reads.
type tlsRequest struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body,omitempty"`
}

// tlsMix is the mix, in the order it is sent.
func tlsMix() []tlsRequest {
	tp := func(s string) string { return strings.TrimSpace(strings.TrimPrefix(s, "traceparent:")) }
	var mix []tlsRequest
	add := func(n int, kind string, headers map[string]string) {
		for i := range n {
			mix = append(mix, tlsRequest{Method: "GET", Path: fmt.Sprintf("/%s/%d", kind, i), Headers: headers})
		}
	}
	add(tlsValid, "valid", map[string]string{"traceparent": tp(validTP), "baggage": "tenant=acme,region=eu"})
	add(tlsMissing, "missing", map[string]string{})
	add(tlsInvalid, "invalid", map[string]string{"traceparent": tp(invalidTP)})
	add(tlsPII, "pii", map[string]string{"traceparent": tp(validTP), "baggage": tlsPIIBaggage})
	// The body is plaintext through the same probes as the head: it must
	// not count as a request of its own.
	body := "GET /not/a/request HTTP/1.1\r\nHost: inventory\r\n\r\n"
	for i := range tlsPost {
		mix = append(mix, tlsRequest{Method: "POST", Path: fmt.Sprintf("/post/%d", i),
			Headers: map[string]string{"traceparent": tp(validTP), "content-type": "text/plain"}, Body: body})
	}
	return mix
}

// runTLSPeer runs the TLS roles; ok is false for other roles.
func runTLSPeer(role string) (ok bool, err error) {
	switch role {
	case "tls-server":
		return true, peerTLSServer()
	case "tls-client":
		return true, peerTLSClient()
	case "tls-kafka-broker":
		return true, tlsKafkaBroker()
	}
	return false, nil
}

// tlsServerConfig is the server side's configuration, from PEER_TLS_CERT
// and PEER_TLS_KEY.
func tlsServerConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(os.Getenv("PEER_TLS_CERT"), os.Getenv("PEER_TLS_KEY"))
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// tlsClientConfig trusts the test's CA, PEER_TLS_CA, and nothing else.
func tlsClientConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(os.Getenv("PEER_TLS_CA"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("PEER_TLS_CA holds no certificate")
	}
	return &tls.Config{RootCAs: pool}, nil
}

// peerTLSServer serves HTTPS on loopback until its stdin closes: HTTP/1.1
// only, or HTTP/2 by ALPN as well when TLS_H2=1. It prints its address
// first.
func peerTLSServer() error {
	cfg, err := tlsServerConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ok\n"))
	})}
	if os.Getenv("TLS_H2") != "1" {
		// A non-nil, empty map: no h2 in ALPN, HTTP/1.1 only.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go srv.ServeTLS(ln, "", "")
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return srv.Close()
}

// peerTLSClient sends the mix to https://PEER_ADDR on one connection each
// time a line "go" comes on stdin, and prints "done" after the last
// response; it prints "ready" first, and exits when stdin closes. With
// TLS_H2=1 it offers h2 by ALPN and wants it, else it speaks HTTP/1.1
// only; a response over the other protocol is an error.
func peerTLSClient() error {
	cfg, err := tlsClientConfig()
	if err != nil {
		return err
	}
	tr := &http.Transport{TLSClientConfig: cfg, MaxConnsPerHost: 1}
	wantMajor := 1
	if os.Getenv("TLS_H2") == "1" {
		tr.ForceAttemptHTTP2 = true // a TLSClientConfig of its own turns h2 off otherwise
		wantMajor = 2
	} else {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	cl := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	send := func(r tlsRequest) error {
		req, err := http.NewRequest(r.Method, "https://"+os.Getenv("PEER_ADDR")+r.Path, strings.NewReader(r.Body))
		if err != nil {
			return err
		}
		if r.Body == "" {
			req.Body, req.ContentLength = nil, 0
		}
		for k, v := range r.Headers {
			req.Header.Set(k, v)
		}
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != wantMajor {
			return fmt.Errorf("%s %s: status %d over %s, want 200 over HTTP/%d", r.Method, r.Path, resp.StatusCode, resp.Proto, wantMajor)
		}
		return nil
	}
	fmt.Println("ready")
	for {
		line, err := readLine(os.Stdin)
		if err != nil {
			return nil // stdin closed: the test is done
		}
		if line != "go" {
			return fmt.Errorf("unexpected line %q", line)
		}
		for _, r := range tlsMix() {
			if err := send(r); err != nil {
				return err
			}
		}
		fmt.Println("done")
	}
}

// tlsKafkaBroker is kafkaBroker listening with TLS: it serves the topics
// on loopback until stdin closes, and prints its address first.
func tlsKafkaBroker() error {
	cfg, err := tlsServerConfig()
	if err != nil {
		return err
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, kafkaTopics...), kfake.TLS(cfg))
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])
	io.Copy(io.Discard, os.Stdin)
	return nil
}
