package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/propwatch/propwatch/internal/audit"
	"github.com/propwatch/propwatch/internal/kube"
)

type auditFlags struct {
	json       bool
	html       string
	top        int
	timeout    time.Duration
	kube       bool // --kubeconfig was given
	kubeconfig string
	namespace  string
	selector   string
}

func newAuditCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "audit [--json] [--html FILE] FILE|URL... | --kubeconfig K [--namespace NS] [--selector SEL]",
		Short: "Merge the reports of several nodes into a fleet-wide audit",
		Long: "audit reads propwatch reports (propwatch.report/v1): files written by `run --report`,\n" +
			"or the live report of running agents at their metrics address (http://NODE:9464, which\n" +
			"reads /report, or the whole /report URL), merges them and prints the fleet's worst\n" +
			"pairs (missing context, broken chains, invalid context, oversized baggage, PII) with\n" +
			"the nodes that saw them, each node's coverage, and the inputs that did not answer.\n\n" +
			"--kubeconfig K finds the DaemonSet's pods through the cluster's API server (namespace\n" +
			"propwatch, label app.kubernetes.io/name=propwatch, unless told) and reads each one's\n" +
			"/report through the API server's pod proxy (RBAC: the manifest's opt-in Role\n" +
			"propwatch-audit), naming the nodes whose agent did not answer.\n\n" +
			"--json prints the merged report instead (host \"merged\", hosts listed); --html FILE\n" +
			"writes one self-contained HTML page (service map, sortable pairs, coverage) that opens\n" +
			"offline.\n\n" +
			"Exit status: 0 every input answered, 1 some did not (the audit of the others is still\n" +
			"written), 2 usage error or no input answered.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && !cmd.Flags().Changed("kubeconfig") {
				return fmt.Errorf("give report files or URLs, or --kubeconfig")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f.kube = cmd.Flags().Changed("kubeconfig")
			return runAudit(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), args, f)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.json, "json", false, "print the merged report (propwatch.report/v1) instead of the table")
	fl.StringVar(&f.html, "html", "", "write the audit as one self-contained HTML page to FILE")
	fl.IntVar(&f.top, "top", 20, "pairs with defects shown in the table, worst first (0: all)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "how long each URL may take to answer")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "collect the reports of the agents of the cluster of this kubeconfig file through its API server (\"\" with the flag given: KUBECONFIG or ~/.kube/config)")
	fl.StringVar(&f.namespace, "namespace", kube.AgentNamespace, "with --kubeconfig: the agents' namespace")
	fl.StringVar(&f.selector, "selector", kube.AgentSelector, "with --kubeconfig: the label selector of the agents' pods")
	return cmd
}

func runAudit(ctx context.Context, stdout, stderr io.Writer, sources []string, f auditFlags) error {
	if f.timeout <= 0 || f.top < 0 {
		return &exitError{code: exitUsage, msg: "--timeout must be positive and --top not negative"}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	client := &http.Client{Timeout: f.timeout}
	targets := make([]audit.Target, 0, len(sources))
	for _, src := range sources {
		targets = append(targets, audit.Target{Location: src})
	}
	inputs := audit.CollectTargets(ctx, client, targets)
	if f.kube {
		agents, err := collectAgents(ctx, f)
		if err != nil {
			return &exitError{code: exitUsage, msg: "audit: " + err.Error()}
		}
		inputs = append(inputs, agents...)
	}
	for _, in := range inputs {
		if in.Err != nil {
			fmt.Fprintf(stderr, "propwatch: audit: %s did not answer: %v\n", in.Source, in.Err)
		}
	}
	a, err := audit.Build(inputs)
	if err != nil {
		return &exitError{code: exitUsage, msg: "audit: " + err.Error()}
	}
	for _, h := range a.Duplicates {
		fmt.Fprintf(stderr, "propwatch: audit: more than one input is the report of %s: its counts are summed as often\n", h)
	}
	if f.html != "" {
		if err := writeHTML(f.html, a); err != nil {
			return &exitError{code: exitUsage, msg: err.Error()}
		}
	}
	if f.json {
		err = a.Merged.WriteJSON(stdout)
	} else {
		err = a.WriteText(stdout, f.top)
	}
	if err != nil {
		return &exitError{code: exitUsage, msg: "write output: " + err.Error()}
	}
	if len(a.Missing) > 0 {
		return &exitError{code: exitProblem, msg: fmt.Sprintf("audit: %d of %d inputs did not answer", len(a.Missing), len(inputs))}
	}
	return nil
}

// writeHTML writes the page through a temporary file, as writeReport
// does.
func writeHTML(path string, a *audit.Audit) error {
	tmp := path + ".tmp"
	file, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	if err := a.WriteHTML(file); err != nil {
		file.Close()
		os.Remove(tmp)
		return fmt.Errorf("write html: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

// collectAgents reads the report of every agent the API server lists,
// through its pod proxy. A pod not running is an input that did not
// answer, named by its node.
func collectAgents(ctx context.Context, f auditFlags) ([]audit.Input, error) {
	agents, client, err := kube.Agents(ctx, f.kubeconfig, f.namespace, f.selector)
	if err != nil {
		return nil, err
	}
	if len(agents) == 0 {
		return nil, fmt.Errorf("no propwatch pod in namespace %s matches %s", f.namespace, f.selector)
	}
	client.Timeout = f.timeout
	targets := make([]audit.Target, len(agents))
	for i, a := range agents {
		targets[i] = audit.Target{Location: a.ReportURL, Label: a.Label()}
		if a.NotReady != "" {
			targets[i].Err = errors.New(a.NotReady)
		}
	}
	return audit.CollectTargets(ctx, client, targets), nil
}
