package audit

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/propwatch/propwatch/internal/report"
)

//go:embed page.html
var pageSource string

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct":   func(r float64) string { return pct(r) },
	"rate":  func(r float64) string { return fmt.Sprintf("%.6f", r) },
	"num":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"join":  strings.Join,
	"color": func(sev string) string { return Colors[sev] },
	"counts": func(m map[string]uint64) string {
		var out []string
		for k, n := range m {
			if n > 0 {
				out = append(out, fmt.Sprintf("%s:%d", k, n))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	},
	"sum":    sum,
	"plural": plural,
}).Parse(pageSource))

// pageData is what the page template reads.
type pageData struct {
	*Audit
	Map        serviceMap
	Severities []severityLegend
	Schema     string
}

type severityLegend struct {
	Name, Color, Meaning string
}

// WriteHTML writes the audit as one self-contained HTML page: a service
// map (services as boxes, pairs as arrows coloured by their worst rate and
// as wide as their volume, laid out in layers), a sortable table of every
// pair with its defects and PII kinds, and each node's coverage (lost
// events, gaps, inputs that did not answer). Its styles and script are
// inline and its Content-Security-Policy forbids every fetch: it opens
// from a file, offline. Like the report, it holds counts and names, never
// a header value.
func (a *Audit) WriteHTML(w io.Writer) error {
	d := pageData{Audit: a, Map: layout(a.Pairs), Schema: report.ReportSchema,
		Severities: []severityLegend{
			{SeverityOK, Colors[SeverityOK], "no defect"},
			{SeverityLow, Colors[SeverityLow], "worst rate under 1%"},
			{SeverityWarn, Colors[SeverityWarn], "under 10%"},
			{SeverityBad, Colors[SeverityBad], "10% or more"},
		}}
	var b strings.Builder
	if err := page.Execute(&b, d); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
