package audit

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromium finds a headless browser (Debian's chromium); the tests that
// need one skip when there is none. .ci/run installs it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium (apt-get install -y chromium)")
	return ""
}

// headless runs the browser headless with args and returns its stdout.
func headless(t *testing.T, bin string, args ...string) string {
	t.Helper()
	profile, err := os.MkdirTemp("", "propwatch-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + profile}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// fleetAudit is the audit of nodeReports, with a fourth node down.
func fleetAudit(t *testing.T) *Audit {
	t.Helper()
	var in []Input
	for _, r := range nodeReports() {
		in = append(in, Input{Source: r.Host + ".json", Report: r})
	}
	in = append(in, Input{Source: "node-d:9464", Err: errors.New("connection refused")})
	a, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func writePage(t *testing.T, a *Audit) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.html")
	var b bytes.Buffer
	if err := a.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	edgeTag = regexp.MustCompile(`<path class="edge"[^>]*>`)
	rowTag  = regexp.MustCompile(`<tr class="pair"[^>]*>`)
	attr    = regexp.MustCompile(`([a-z-]+)="([^"]*)"`)
	// What a page fetches by: src, href and the like, CSS url() and
	// @import, pointing anywhere but the page itself.
	fetching = regexp.MustCompile(`(?i)(\b(src|href|srcset|action|formaction|poster|xlink:href)\s*=\s*["']?\s*(https?:|//|ftp:|ws:|wss:))|url\(\s*["']?\s*(https?:|//)|@import`)
)

func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, kv := range attr.FindAllStringSubmatch(tag, -1) {
		m[kv[1]] = kv[2]
	}
	return m
}

// TestPageInChromium opens the page from a file in headless Chromium:
// every pair is an edge and a row, the worst pairs' edges have the
// colour of their rate, every node's coverage and the node that did not
// answer are shown, the script sorts the table, and a screenshot shows
// the colours. The page names no external asset.
func TestPageInChromium(t *testing.T) {
	bin := chromium(t)
	a := fleetAudit(t)
	path := writePage(t, a)
	src, _ := os.ReadFile(path)
	if m := fetching.Find(src); m != nil {
		t.Errorf("the page fetches %q", m)
	}

	dom := headless(t, bin, "--dump-dom", "file://"+path)
	if !strings.Contains(dom, `data-ready="true"`) {
		t.Fatalf("the page's script did not run:\n%.2000s", dom)
	}
	if m := fetching.FindString(dom); m != "" {
		t.Errorf("the DOM fetches %q", m)
	}
	edges := map[string]string{}
	for _, tag := range edgeTag.FindAllString(dom, -1) {
		m := attrs(tag)
		edges[m["data-source"]+" -> "+m["data-destination"]+" "+m["data-protocol"]] = m["stroke"]
	}
	rows := map[string]bool{}
	for _, tag := range rowTag.FindAllString(dom, -1) {
		m := attrs(tag)
		rows[m["data-source"]+" -> "+m["data-destination"]+" "+m["data-protocol"]] = true
	}
	// By hand: payments -> fraud 40 of 80 oversized, checkout ->
	// inventory 100 of 500 missing: bad; checkout -> orders 2 of 300
	// missing, web -> checkout 1 of 1750 oversized: low; fraud ->
	// payments nothing.
	want := map[string]string{
		"payments -> fraud http":     "#e03131",
		"checkout -> inventory http": "#e03131",
		"checkout -> orders kafka":   "#d4a000",
		"web -> checkout http":       "#d4a000",
		"fraud -> payments http":     "#2f9e44",
	}
	if len(edges) != len(want) || len(rows) != len(want) {
		t.Errorf("%d edges and %d rows, want %d of each: %v", len(edges), len(rows), len(want), edges)
	}
	for k, color := range want {
		if edges[k] != color {
			t.Errorf("edge %s: stroke %q, want %s", k, edges[k], color)
		}
		if !rows[k] {
			t.Errorf("no table row for %s", k)
		}
	}
	for _, w := range []string{`data-node="node-a"`, `data-node="node-b"`, `data-node="node-c"`,
		`data-input="node-d:9464"`, "connection refused", "1 input did not answer"} {
		if !strings.Contains(dom, w) {
			t.Errorf("DOM lacks %q", w)
		}
	}
	for _, svc := range []string{"web", "checkout", "inventory", "orders", "payments", "fraud"} {
		if !strings.Contains(dom, `<g class="service" data-service="`+svc+`">`) {
			t.Errorf("map lacks service %s", svc)
		}
	}

	// The script sorts: by requests, ascending.
	sorted := headless(t, bin, "--dump-dom", "file://"+path+"#sort=requests-asc")
	var order []string
	for _, tag := range rowTag.FindAllString(sorted, -1) {
		m := attrs(tag)
		order = append(order, m["data-source"]+" -> "+m["data-destination"])
	}
	wantOrder := "fraud -> payments,payments -> fraud,checkout -> orders,checkout -> inventory,web -> checkout"
	if strings.Join(order, ",") != wantOrder {
		t.Errorf("sorted by requests: %v, want %s", order, wantOrder)
	}

	shot := filepath.Join(t.TempDir(), "audit.png")
	headless(t, bin, "--screenshot="+shot, "--window-size=1280,720", "--hide-scrollbars", "file://"+path)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
		t.Errorf("screenshot %v", b)
	}
	if n := pixels(img, 0xe0, 0x31, 0x31); n < 200 {
		t.Errorf("screenshot: %d pixels of the bad colour", n)
	}
	if n := pixels(img, 0x2f, 0x9e, 0x44); n < 50 {
		t.Errorf("screenshot: %d pixels of the ok colour", n)
	}
	if keep := os.Getenv("PROPWATCH_AUDIT_SCREENSHOT"); keep != "" {
		raw, _ := os.ReadFile(shot)
		if err := os.WriteFile(keep, raw, 0o644); err != nil {
			t.Error(err)
		}
	}
}

// pixels counts the pixels of img near the colour r, g, b.
func pixels(img image.Image, r, g, b int) int {
	near := func(a uint32, c int) bool { d := int(a>>8) - c; return d > -24 && d < 24 }
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr, r) && near(pg, g) && near(pb, b) {
				n++
			}
		}
	}
	return n
}

// TestPageFetchesNothing serves the page over HTTP to headless Chromium:
// the page is the only request it makes (no favicon, no asset).
func TestPageFetchesNothing(t *testing.T) {
	bin := chromium(t)
	var page bytes.Buffer
	if err := fleetAudit(t).WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if r.URL.Path != "/audit.html" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page.Bytes())
	}))
	defer srv.Close()
	dom := headless(t, bin, "--dump-dom", srv.URL+"/audit.html")
	if !strings.Contains(dom, `data-ready="true"`) {
		t.Fatalf("page not rendered:\n%.2000s", dom)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(requests, ",") != "GET /audit.html" {
		t.Errorf("requests: %v, want only the page", requests)
	}
}
