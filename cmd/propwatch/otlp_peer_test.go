package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The traffic of TestObserveOTLP's client, by phase: "1" while the OTLP
// receiver runs, "2" after it stopped. Every traced request has its own
// trace and parent ids (otlpIDs), so that the test can match each span to
// its request.
const (
	otlpPII        = 4 // traced, an email in baggage: a "propwatch: pii" span each
	otlpSuspect    = 2 // traced, a suspect key: a "propwatch: suspect_keys" span each
	otlpClean      = 3 // traced, nothing found: no span
	otlpMissing    = 2 // an email in baggage, no context: no trace to join
	otlpUnsampled  = 2 // traced with flags 00, an email: counted not_sampled
	otlpAfterStop  = 5 // traced with an email, receiver stopped: counted export_failed
	otlpPhase1Base = 0
	otlpPhase2Base = 100
)

// otlpIDs are the trace and parent ids of the client's request n.
func otlpIDs(n int) (trace, parent string) {
	return fmt.Sprintf("0af7651916cd43dd8448eb21%08x", n+1), fmt.Sprintf("b7ad6b71%08x", n+1)
}

func otlpTraceparent(n int, flags string) string {
	trace, parent := otlpIDs(n)
	return "traceparent: 00-" + trace + "-" + parent + "-" + flags + "\r\n"
}

// runOTLPPeer runs the roles of TestObserveOTLP; ok is false for others.
func runOTLPPeer(role string) (ok bool, err error) {
	if role != "otlp-client" {
		return false, nil
	}
	return true, otlpClient(os.Getenv("PEER_ADDR"), os.Getenv("PEER_PHASE"))
}

// otlpClient sends one phase of the traffic over one keep-alive connection.
func otlpClient(addr, phase string) error {
	c, err := dialPeer(addr)
	if err != nil {
		return err
	}
	defer c.c.Close()
	email := "baggage: contact=" + strings.Replace(plantedEmail, "@", "%40", 1) + "\r\n"
	var reqs []string
	n := otlpPhase1Base
	traced := func(count int, flags string, extra string) {
		for range count {
			reqs = append(reqs, get("/otlp/"+strconv.Itoa(n), otlpTraceparent(n, flags), extra))
			n++
		}
	}
	switch phase {
	case "1":
		traced(otlpPII, "01", email)
		traced(otlpSuspect, "01", "baggage: password=1\r\n")
		traced(otlpClean, "01", "baggage: tenant=acme\r\n")
		for range otlpMissing {
			reqs = append(reqs, get("/otlp/missing", email))
		}
		traced(otlpUnsampled, "00", email)
	case "2":
		n = otlpPhase2Base
		traced(otlpAfterStop, "01", email)
	default:
		return fmt.Errorf("unknown phase %q", phase)
	}
	for _, r := range reqs {
		if err := c.request(r); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}
