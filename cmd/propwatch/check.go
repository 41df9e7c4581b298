package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/propwatch/propwatch/internal/parse"
	"github.com/propwatch/propwatch/internal/parse/http1"
	"github.com/propwatch/propwatch/internal/parse/pii"
	"github.com/propwatch/propwatch/internal/parse/w3c"
	"github.com/propwatch/propwatch/internal/report"
)

// maxCheckInput bounds what `check` reads. A request head is at most tens of
// KiB on any real server; what lies beyond this is judged as a cut head.
const maxCheckInput = 64 << 20

type checkFlags struct {
	json         bool
	fingerprints bool
	limits       w3c.BaggageLimits
}

func newCheckCmd() *cobra.Command {
	f := checkFlags{limits: w3c.DefaultBaggageLimits()}
	cmd := &cobra.Command{
		Use:   "check [--json] [FILE|-]",
		Short: "Judge the trace context of one raw HTTP/1.x request head",
		Long: "check reads one raw HTTP/1.x request head (from FILE, or standard input when FILE is\n" +
			"absent or -) and says whether it carries trace context, whether that context is valid,\n" +
			"how large its baggage is and whether any propagated value looks like PII or a secret.\n" +
			"It never prints a header value.\n\n" +
			"Exit status: 0 nothing wrong, 1 a problem found, 2 usage error or input that is not\n" +
			"an HTTP/1.x request head.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "-"
			if len(args) == 1 {
				path = args[0]
			}
			return runCheck(cmd.OutOrStdout(), cmd.InOrStdin(), path, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print one JSON object instead of a summary")
	fl.BoolVar(&f.fingerprints, "fingerprints", false, "add a keyed fingerprint (HMAC, per-run key) to each PII finding")
	baggageFlags(fl, &f.limits)
	return cmd
}

func runCheck(stdout io.Writer, stdin io.Reader, path string, f checkFlags) error {
	if f.limits.MaxBytes <= 0 || f.limits.MaxMembers <= 0 || f.limits.AtRiskBytes <= 0 {
		return &exitError{code: exitUsage, msg: "baggage limits must be positive"}
	}
	in := stdin
	if path != "-" {
		file, err := os.Open(path)
		if err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
		defer file.Close()
		in = file
	}
	raw, err := io.ReadAll(io.LimitReader(in, maxCheckInput))
	if err != nil {
		return &exitError{code: exitUsage, msg: "read input: " + err.Error()}
	}

	var head http1.Head
	if head.Parse(raw) == http1.StatusNotHTTP {
		// Say nothing of what the input held: it may be anything.
		return &exitError{code: exitUsage, msg: fmt.Sprintf("input (%d bytes) is not an HTTP/1.x request head", len(raw))}
	}
	opts := parse.Options{Baggage: f.limits}
	if f.fingerprints {
		fp, err := pii.NewFingerprinter()
		if err != nil {
			return &exitError{code: exitUsage, msg: "fingerprint key: " + err.Error()}
		}
		opts.Fingerprints = fp
	}
	result := report.NewCheck(parse.NewAnalyzer(opts).Head(&head), head.Seen)

	if f.json {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(result); err != nil {
			return &exitError{code: exitUsage, msg: "write output: " + err.Error()}
		}
	} else if err := result.WriteText(stdout); err != nil {
		return &exitError{code: exitUsage, msg: "write output: " + err.Error()}
	}
	if result.Problem {
		return &exitError{code: exitProblem}
	}
	return nil
}
