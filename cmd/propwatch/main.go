// Command propwatch finds where distributed-trace context breaks: missing or
// malformed traceparent, oversized baggage, and PII carried in baggage.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/propwatch/propwatch/internal/parse/w3c"
)

// Exit codes shared by every subcommand, so scripts can tell "propwatch found
// a problem" from "propwatch could not do its job".
const (
	exitOK      = 0
	exitProblem = 1
	exitUsage   = 2
)

// exitError carries a chosen exit code out of a cobra command. Its message,
// when not empty, has already been vetted to hold no input bytes.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "propwatch:", ee.msg)
		}
		return ee.code
	}
	// Cobra's own errors: unknown commands and flags.
	fmt.Fprintln(stderr, "propwatch:", err)
	return exitUsage
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "propwatch",
		Short: "Find where distributed-trace context breaks",
		Long: "propwatch tells where trace context (W3C traceparent, baggage, B3, Jaeger, X-Ray, ...)\n" +
			"goes missing, breaks, bloats or carries PII, by reading the requests on the wire.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newCheckCmd(), newRunCmd(), newAuditCmd())
	return root
}

// baggageFlags adds the baggage limit flags that check and run share, with
// lim's current values as defaults.
func baggageFlags(fl *pflag.FlagSet, lim *w3c.BaggageLimits) {
	fl.IntVar(&lim.MaxBytes, "baggage-limit", lim.MaxBytes, "baggage bytes (all headers combined) above which baggage is oversized")
	fl.IntVar(&lim.MaxMembers, "baggage-members", lim.MaxMembers, "baggage members above which baggage is oversized")
	fl.IntVar(&lim.AtRiskBytes, "baggage-at-risk", lim.AtRiskBytes, "baggage bytes above which baggage is reported at risk")
}
