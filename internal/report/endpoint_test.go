package report

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestReportEndpoint: GET /report serves the live report, in the schema
// of the final one, read back by ReadJSON as the audit reads it; other
// methods are refused, and Handler alone serves no /report.
func TestReportEndpoint(t *testing.T) {
	a := chainAggregator()
	started := time.Date(2026, 12, 6, 21, 0, 0, 0, time.UTC)
	calls := 0
	live := func() Report {
		calls++
		return NewReport("node-a", started, started.Add(time.Duration(calls)*time.Minute), a.Snapshot(), map[string]uint64{"ringbuf_full": 3})
	}
	srv := httptest.NewServer(HandlerWithReport(live, NewCollector(a, KernelCounters{})))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/report")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /report: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	got, err := ReadJSON(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := NewReport("node-a", started, started.Add(time.Minute), a.Snapshot(), map[string]uint64{"ringbuf_full": 3})
	var wantJSON, gotJSON bytes.Buffer
	if err := want.WriteJSON(&wantJSON); err != nil {
		t.Fatal(err)
	}
	if err := got.WriteJSON(&gotJSON); err != nil {
		t.Fatal(err)
	}
	if gotJSON.String() != wantJSON.String() {
		t.Errorf("GET /report:\n%s\nwant\n%s", gotJSON.String(), wantJSON.String())
	}
	if len(got.Pairs) != 3 || got.LostEvents != 3 || !reflect.DeepEqual(got.Hosts, []string(nil)) {
		t.Errorf("report: %d pairs, %d lost, hosts %v", len(got.Pairs), got.LostEvents, got.Hosts)
	}

	// Each request is a fresh report.
	resp2, err := http.Get(srv.URL + "/report")
	if err != nil {
		t.Fatal(err)
	}
	second, err := ReadJSON(resp2.Body)
	resp2.Body.Close()
	if err != nil || !second.Ended.After(got.Ended) {
		t.Errorf("second GET /report: ended %v after %v, err %v", second.Ended, got.Ended, err)
	}

	post, err := http.Post(srv.URL+"/report", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /report: %d, want 405", post.StatusCode)
	}

	plain := httptest.NewServer(Handler(NewCollector(a, KernelCounters{})))
	defer plain.Close()
	r404, err := http.Get(plain.URL + "/report")
	if err != nil {
		t.Fatal(err)
	}
	r404.Body.Close()
	if r404.StatusCode != http.StatusNotFound {
		t.Errorf("Handler: GET /report %d, want 404", r404.StatusCode)
	}
}
