package audit

import (
	"time"

	"github.com/propwatch/propwatch/internal/report"
)

var t0 = time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC)

// pair builds a report pair of req requests, miss of them without
// context, broken of them splitting the chain, over of them oversized.
func pair(src, dst, proto string, req, miss, broken, over uint64, pii map[string]uint64) report.ReportPair {
	return report.ReportPair{Source: src, Destination: dst, Protocol: proto, Requests: req,
		MissingContext: miss, BrokenChain: broken, OversizedBaggage: over, PIIByKind: pii,
		BrokenChainReasons: map[string]uint64{report.ChainNewRoot: broken},
		BaggageBytes:       report.ReportHistogram{Sum: 100 * req, Count: req}}
}

// nodeReports are three nodes' reports: checkout -> inventory is seen
// on a and b, payments -> fraud on c only, web -> checkout everywhere.
func nodeReports() []report.Report {
	mk := func(host string, lost uint64, pairs ...report.ReportPair) report.Report {
		return report.Report{Schema: report.ReportSchema, Host: host, Started: t0, Ended: t0.Add(time.Hour),
			LostEvents: lost, LostByReason: map[string]uint64{"ringbuf_full": lost}, Pairs: pairs}
	}
	return []report.Report{
		mk("node-a", 0,
			pair("web", "checkout", "http", 1000, 0, 0, 0, nil),
			pair("checkout", "inventory", "http", 400, 100, 20, 0, nil)),
		mk("node-b", 7,
			pair("web", "checkout", "http", 500, 0, 0, 0, nil),
			pair("checkout", "inventory", "http", 100, 0, 5, 0, nil),
			pair("checkout", "orders", "kafka", 300, 2, 0, 0, nil)),
		mk("node-c", 0,
			pair("web", "checkout", "http", 250, 0, 0, 1, map[string]uint64{"email": 3}),
			pair("payments", "fraud", "http", 80, 0, 0, 40, map[string]uint64{"card_number": 2, "email": 1}),
			pair("fraud", "payments", "http", 50, 0, 0, 0, nil)),
	}
}
