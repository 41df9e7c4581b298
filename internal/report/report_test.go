package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/formats"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/reason"
	"github.com/propwatch/propwatch/internal/parse/w3c"
)

var (
	t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(90 * time.Minute)
)

func sampleSnapshot() Snapshot {
	a := NewAggregator(AggregatorConfig{})
	bag := parse.Verdict{Context: parse.Valid, Formats: formats.W3C,
		Baggage: w3c.BaggageStats{Headers: 1, Members: 2, Bytes: 200}}
	bag.PII[pii.PaymentCard] = 1
	inv := parse.Verdict{Context: parse.Invalid, Formats: formats.W3C, Reasons: reason.List{"traceparent.bad_hex"}}
	record(a, PairKey{Source: "web", Destination: "api", Protocol: "http"}, &bag, "")
	record(a, PairKey{Source: "web", Destination: "api", Protocol: "http"}, &inv, "traceparent.bad_hex")
	record(a, PairKey{Source: "api", Destination: "db", Protocol: "http"}, &parse.Verdict{}, "")
	a.ParseFailure("http.not_http")
	return a.Snapshot()
}

func TestReportJSON(t *testing.T) {
	r := NewReport("node-1", t0.In(time.FixedZone("x", 3600)), t1, sampleSnapshot(),
		map[string]uint64{"ringbuf_full": 2, "map_full": 1})
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// Pairs sorted, histogram buckets in bound order, indented, RFC 3339.
	for _, want := range []string{
		`"schema": "propwatch.report/v1"`,
		`"started": "2026-03-01T10:00:00Z"`,
		`"ended": "2026-03-01T11:30:00Z"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %s:\n%s", want, out)
		}
	}
	compact := strings.Join(strings.Fields(out), "")
	if want := `"buckets":{"128":0,"256":1,"512":1,"1024":1,"2048":1,"4096":1,"8192":1,"16384":1,"32768":1,"+Inf":1}`; !strings.Contains(compact, want) {
		t.Errorf("buckets not in bound order:\n%s", out)
	}
	if strings.Index(out, `"source": "api"`) > strings.Index(out, `"source": "web"`) {
		t.Error("pairs not sorted by source")
	}

	// Generic decode: the field names are the contract.
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["host"] != "node-1" || m["lost_events"] != 3.0 || m["folded_pairs"] != 0.0 {
		t.Errorf("header fields: %v", m)
	}
	if lost := m["lost_by_reason"].(map[string]any); lost["ringbuf_full"] != 2.0 || lost["map_full"] != 1.0 {
		t.Errorf("lost_by_reason %v", lost)
	}
	if pf := m["parse_failures"].(map[string]any); pf["http.not_http"] != 1.0 {
		t.Errorf("parse_failures %v", pf)
	}
	pairs := m["pairs"].([]any)
	if len(pairs) != 2 {
		t.Fatalf("%d pairs", len(pairs))
	}
	db := pairs[0].(map[string]any)
	for _, key := range []string{"invalid_reasons", "defects", "formats", "pii_by_kind"} {
		if _, ok := db[key].(map[string]any); !ok {
			t.Errorf("pair api→db: %s is %v, want an object", key, db[key])
		}
	}
	web := pairs[1].(map[string]any)
	wantWeb := map[string]any{
		"source": "web", "destination": "api", "protocol": "http", "requests": 2.0,
		"missing_context": 0.0, "invalid_context": 1.0, "oversized_baggage": 0.0, "at_risk_baggage": 0.0,
		"max_baggage_bytes": 200.0, "suspect_keys": 0.0, "truncated": 0.0,
	}
	for k, v := range wantWeb {
		if web[k] != v {
			t.Errorf("pair web→api %s = %v, want %v", k, web[k], v)
		}
	}
	if web["invalid_reasons"].(map[string]any)["traceparent.bad_hex"] != 1.0 ||
		web["formats"].(map[string]any)["w3c"] != 2.0 ||
		web["pii_by_kind"].(map[string]any)["payment_card"] != 1.0 ||
		len(web["pii_by_kind"].(map[string]any)) != len(pii.AllKinds()) {
		t.Errorf("pair web→api maps: %v", web)
	}
	h := web["baggage_bytes"].(map[string]any)
	if h["sum"] != 200.0 || h["count"] != 1.0 || h["buckets"].(map[string]any)["+Inf"] != 1.0 {
		t.Errorf("baggage_bytes %v", h)
	}

	// Round trip.
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if back.Pairs[1].BaggageBytes.Buckets != r.Pairs[1].BaggageBytes.Buckets || !back.Started.Equal(t0) {
		t.Errorf("round trip changed the report: %+v", back)
	}
}

func TestReportEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := (Report{Schema: ReportSchema, Host: "h"}).WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "null") {
		t.Errorf("empty report has nulls:\n%s", buf.String())
	}
}

func TestReadJSONErrors(t *testing.T) {
	secret := "alice@example.com"
	for _, in := range []string{
		`{"schema":"other/v9"}`,
		`{"schema": ` + secret,
		`{"schema":"propwatch.report/v1","pairs":[{"baggage_bytes":{"buckets":{"` + secret + `":1}}}]}`,
		`{"schema":"propwatch.report/v1","pairs":[{"requests":"` + secret + `"}]}`,
		`[` + secret + `]`,
	} {
		_, err := ReadJSON(strings.NewReader(in))
		if err == nil {
			t.Errorf("ReadJSON(%q) accepted it", in)
			continue
		}
		if strings.Contains(err.Error(), "alice") {
			t.Errorf("error quotes the input: %v", err)
		}
	}
}

func TestMerge(t *testing.T) {
	s := sampleSnapshot()
	r1 := NewReport("node-1", t0, t1, s, map[string]uint64{"ringbuf_full": 2})
	r2 := NewReport("node-2", t0.Add(-time.Hour), t1.Add(-time.Hour), s, nil)
	r2.Pairs[1].MaxBaggageBytes = 5000
	r2.FoldedPairs, r2.FoldedRequests = 3, 10
	r2.KernelErrors = map[string]uint64{"owner": 5}
	r3 := NewReport("node-3", t0, t1.Add(time.Hour), Snapshot{Pairs: []PairStats{{
		Source: "new", Destination: "pair", Protocol: "kafka", Requests: 7,
		Defects: map[string]uint64{"kafka.x": 1}, PIIByKind: map[string]uint64{}, Formats: map[string]uint64{},
		InvalidReasons: map[string]uint64{},
	}}}, nil)

	m, err := Merge(r1, r2)
	if err != nil {
		t.Fatal(err)
	}
	m, err = Merge(m, r3, r1) // merged reports merge again; a host twice is listed once
	if err != nil {
		t.Fatal(err)
	}
	if m.Host != MergedHost || strings.Join(m.Hosts, ",") != "node-1,node-2,node-3" {
		t.Errorf("hosts %q %v", m.Host, m.Hosts)
	}
	if !m.Started.Equal(t0.Add(-time.Hour)) || !m.Ended.Equal(t1.Add(time.Hour)) {
		t.Errorf("span %v – %v", m.Started, m.Ended)
	}
	if m.LostEvents != 4 || m.LostByReason["ringbuf_full"] != 4 || m.ParseFailures["http.not_http"] != 3 {
		t.Errorf("lost %d %v, failures %v", m.LostEvents, m.LostByReason, m.ParseFailures)
	}
	if len(m.KernelErrors) != 1 || m.KernelErrors["owner"] != 5 {
		t.Errorf("kernel errors %v", m.KernelErrors)
	}
	if m.FoldedPairs != 3 || m.FoldedRequests != 10 {
		t.Errorf("folded %d/%d", m.FoldedPairs, m.FoldedRequests)
	}
	if len(m.Pairs) != 3 || m.Pairs[0].Source != "api" || m.Pairs[1].Source != "new" || m.Pairs[2].Source != "web" {
		t.Fatalf("pairs %+v", m.Pairs)
	}
	web := m.Pairs[2]
	if web.Requests != 6 || web.InvalidContext != 3 || web.InvalidReasons["traceparent.bad_hex"] != 3 ||
		web.Formats["w3c"] != 6 || web.PIIByKind["payment_card"] != 3 || web.PIIByKind["email"] != 0 ||
		web.MaxBaggageBytes != 5000 || web.BaggageBytes.Count != 3 || web.BaggageBytes.Sum != 600 ||
		web.BaggageBytes.Buckets[1] != 3 || web.BaggageBytes.Buckets[0] != 0 {
		t.Errorf("merged web→api %+v", web)
	}
	if m.Pairs[1].Requests != 7 || m.Pairs[1].Defects["kafka.x"] != 1 {
		t.Errorf("merged new→pair %+v", m.Pairs[1])
	}
	if _, err := Merge(r1, Report{Schema: "propwatch.report/v0"}); err == nil {
		t.Error("Merge accepted a report of another schema")
	}
	// The inputs are untouched.
	if r1.Pairs[1].Requests != 2 || r1.LostByReason["ringbuf_full"] != 2 {
		t.Error("Merge modified an input")
	}
}
