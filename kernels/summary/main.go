// Command summary reads the result logs of the guests that kernels/run.sh
// boots (make test-kernels), prints one summary line per kernel and a
// kernel × hook set table, and exits 1 unless every kernel passed.
//
// A result log is what the guest's /init wrote on its second serial port
// (kernels/guest-init.sh), followed by the lines run.sh adds after QEMU
// exits:
//
//	PWK uname 6.12.107+deb12-cloud-amd64
//	PWK arch x86_64
//	PWK btf present
//	PWK sock-tracepoints present
//	PWK hooks sock rc=0 secs=3 attached=sock err=- | -
//	PWK test-begin internal_loader.test
//	... the test binary's -test.v output ...
//	PWK test-end internal_loader.test rc=0 secs=120
//	PWK done
//	PWK host label=6.12 qemu-rc=0 timeout=no wall=200
//
// A kernel passes only if its guest said "done", QEMU neither failed nor
// timed out, at least one test binary ran, every test binary that began
// ended with status 0 and no "--- FAIL", at least one test passed, and
// every hook set loaded, except sock on a kernel without its tracepoints
// (before 6.3; the guest says "PWK sock-tracepoints absent"), which is
// reported as not supported.
//
// Usage: summary RESULT_LOG...
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// hookSets are the hook sets of loader.HookSet, in the order of
// loader.HooksAuto, and auto itself last.
var hookSets = []string{"sock", "btf", "raw", "syscalls"}

type hook struct {
	rc       int
	attached string
	err      string
}

type binary struct {
	name   string
	rc     int
	secs   int
	ended  bool
	failed []string // tests that printed "--- FAIL"
}

// tailLines is how many of a failed test's last output lines the summary
// repeats at its end, where CI's excerpt of the output shows them.
const tailLines = 12

type counts struct{ pass, fail, skip int }

func (c counts) String() string { return fmt.Sprintf("%d/%d/%d", c.pass, c.fail, c.skip) }

func (c *counts) add(status string) {
	switch status {
	case "PASS":
		c.pass++
	case "FAIL":
		c.fail++
	case "SKIP":
		c.skip++
	}
}

// kernel is what one result log says.
type kernel struct {
	file     string
	label    string
	release  string
	object   string // the capture object the guest loads: x86 or arm64
	btf      string
	sockTP   string // "present" or "absent": the sock set's tracepoints in tracefs
	hooks    map[string]hook
	binaries []*binary
	top      counts            // top-level tests of all binaries
	all      counts            // tests and subtests
	perSet   map[string]counts // TestX/<set> subtests
	skipped  []string
	insns    map[string]map[string]int // set -> program -> verified instructions
	stack    map[string]int            // program -> worst stack chain, bytes
	progSet  map[string]string         // program -> hook set, from the two above
	done     bool
	qemuRC   int
	timeout  bool
	wall     int
	host     bool                // run.sh's line after QEMU is present
	output   map[string][]string // test -> its last tailLines lines
	failTail map[string][]string // failed test -> its last output lines
}

var (
	resultRE  = regexp.MustCompile(`--- (PASS|FAIL|SKIP): (\S+) \(`)
	runRE     = regexp.MustCompile(`^=== (?:RUN|CONT|NAME)\s+(\S+)`)
	insnsRE   = regexp.MustCompile(`\s(pw_[a-z0-9_]+)\s+(\d+) instructions verified`)
	stackRE   = regexp.MustCompile(`stack-chain prog=(\S+) bytes=(\d+)`)
	kvRE      = regexp.MustCompile(`(\S+?)=(\S*)`)
	hookErrRE = regexp.MustCompile(` err=(.*)$`)
)

func parse(file string, r io.Reader) (*kernel, error) {
	k := &kernel{file: file, hooks: map[string]hook{}, perSet: map[string]counts{},
		insns: map[string]map[string]int{}, stack: map[string]int{}, progSet: map[string]string{}, qemuRC: -1,
		output: map[string][]string{}, failTail: map[string][]string{}}
	var cur *binary
	running := "" // the test or subtest whose output this is
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if rest, ok := strings.CutPrefix(line, "PWK "); ok {
			word, args, _ := strings.Cut(rest, " ")
			kv := map[string]string{}
			for _, m := range kvRE.FindAllStringSubmatch(args, -1) {
				if _, seen := kv[m[1]]; !seen {
					kv[m[1]] = m[2]
				}
			}
			switch word {
			case "uname":
				k.release = args
			case "btf":
				k.btf = args
			case "sock-tracepoints":
				k.sockTP = args
			case "arch":
				k.object = map[string]string{"x86_64": "x86", "aarch64": "arm64"}[args]
			case "hooks":
				set, _, _ := strings.Cut(args, " ")
				h := hook{rc: atoi(kv["rc"], -1), attached: kv["attached"]}
				if m := hookErrRE.FindStringSubmatch(args); m != nil {
					h.err = m[1]
				}
				k.hooks[set] = h
			case "test-begin":
				cur = &binary{name: args, rc: -1}
				k.binaries = append(k.binaries, cur)
			case "test-end":
				name, _, _ := strings.Cut(args, " ")
				if cur == nil || cur.name != name {
					return nil, fmt.Errorf("%s: test-end %s without its test-begin", file, name)
				}
				cur.rc, cur.secs, cur.ended = atoi(kv["rc"], -1), atoi(kv["secs"], 0), true
				cur = nil
			case "done":
				k.done = true
			case "host":
				k.host = true
				k.label = kv["label"]
				k.qemuRC = atoi(kv["qemu-rc"], -1)
				k.timeout = kv["timeout"] != "no"
				k.wall = atoi(kv["wall"], 0)
			}
			continue
		}
		if m := runRE.FindStringSubmatch(line); m != nil {
			running = m[1]
		} else if running != "" && resultRE.FindStringSubmatch(line) == nil {
			out := append(k.output[running], line)
			if len(out) > tailLines {
				out = out[len(out)-tailLines:]
			}
			k.output[running] = out
		}
		if m := resultRE.FindStringSubmatch(line); m != nil {
			status, name := m[1], m[2]
			parts := strings.Split(name, "/")
			if len(parts) == 1 {
				k.top.add(status)
			}
			k.all.add(status)
			if len(parts) == 2 && slices.Contains(hookSets, parts[1]) {
				c := k.perSet[parts[1]]
				c.add(status)
				k.perSet[parts[1]] = c
			}
			if status == "SKIP" {
				k.skipped = append(k.skipped, name)
			}
			if status == "FAIL" && cur != nil {
				cur.failed = append(cur.failed, name)
				k.failTail[name] = k.output[name]
			}
		}
		if m := insnsRE.FindStringSubmatch(line); m != nil {
			set := setOf(running)
			if k.insns[set] == nil {
				k.insns[set] = map[string]int{}
			}
			k.insns[set][m[1]] = atoi(m[2], 0)
			k.progSet[m[1]] = set
		}
		if m := stackRE.FindStringSubmatch(line); m != nil && k.ofThisObject(running) {
			if n := atoi(m[2], 0); n > k.stack[m[1]] {
				k.stack[m[1]] = n
			}
			if set := setOf(running); set != "-" {
				k.progSet[m[1]] = set
			}
		}
	}
	if k.label == "" {
		k.label = k.release
	}
	return k, sc.Err()
}

// ofThisObject says whether a (sub)test is about the capture object the
// guest loads: TestStackBudget analyses both committed objects, as
// subtests named x86 and arm64, and only the guest's own counts here.
func (k *kernel) ofThisObject(test string) bool {
	for _, p := range strings.Split(test, "/")[1:] {
		if p == "x86" || p == "arm64" {
			return p == k.object
		}
	}
	return true
}

// setOf is the hook set a (sub)test name is about, from its path, or "-".
func setOf(test string) string {
	for _, p := range strings.Split(test, "/")[1:] {
		if slices.Contains(hookSets, p) {
			return p
		}
	}
	return "-"
}

func atoi(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

// hookState says whether set loaded on k: "loaded", "n/a" when the kernel
// lacks what it needs (sock before 6.3: the guest looks for its
// tracepoints in tracefs), "FAILED", or "unknown" when the guest never
// tried it.
func (k *kernel) hookState(set string) string {
	h, ok := k.hooks[set]
	switch {
	case !ok:
		return "unknown"
	case h.rc == 0 && h.attached != "" && h.attached != "-":
		return "loaded"
	case set == "sock" && k.sockTP == "absent":
		return "n/a"
	}
	return "FAILED"
}

// problems lists why k fails; none means it passed.
func (k *kernel) problems() []string {
	var p []string
	if !k.host {
		p = append(p, "run.sh did not record how QEMU ended")
	}
	if k.timeout {
		p = append(p, fmt.Sprintf("guest timed out after %ds", k.wall))
	} else if k.host && k.qemuRC != 0 {
		p = append(p, fmt.Sprintf("qemu exited %d", k.qemuRC))
	}
	if !k.done {
		p = append(p, "guest did not finish (no PWK done: crash, panic or timeout)")
	}
	if k.release == "" {
		p = append(p, "guest never reported its kernel")
	}
	if len(k.binaries) == 0 {
		p = append(p, "no test binary ran")
	}
	for _, b := range k.binaries {
		switch {
		case !b.ended:
			p = append(p, b.name+" did not end")
		case b.rc != 0:
			p = append(p, fmt.Sprintf("%s exited %d", b.name, b.rc))
		}
		if len(b.failed) > 0 {
			p = append(p, fmt.Sprintf("%s: FAIL %s", b.name, strings.Join(b.failed, " ")))
		}
	}
	if k.top.pass == 0 {
		p = append(p, "no test passed")
	}
	for _, set := range append(slices.Clone(hookSets), "auto") {
		switch s := k.hookState(set); s {
		case "loaded", "n/a":
		default:
			p = append(p, fmt.Sprintf("hook set %s %s: %s", set, s, k.hooks[set].err))
		}
	}
	return p
}

// maxProg is the program of m with the largest value.
func maxProg(m map[string]int) (string, int) {
	best, n := "", -1
	for p, v := range m {
		if v > n || v == n && p < best {
			best, n = p, v
		}
	}
	return best, n
}

func (k *kernel) stackOf(set string) map[string]int {
	out := map[string]int{}
	for p, n := range k.stack {
		if k.progSet[p] == set {
			out[p] = n
		}
	}
	return out
}

func (k *kernel) summary() string {
	verdict := "PASS"
	if len(k.problems()) > 0 {
		verdict = "FAIL"
	}
	var loaded, na []string
	for _, set := range hookSets {
		switch k.hookState(set) {
		case "loaded":
			loaded = append(loaded, set)
		case "n/a":
			na = append(na, set)
		}
	}
	hooks := "loaded: " + orNone(loaded)
	if len(na) > 0 {
		hooks += " (not supported: " + strings.Join(na, " ") + ")"
	}
	if h, ok := k.hooks["auto"]; ok && h.attached != "" && h.attached != "-" {
		hooks += ", auto=" + h.attached
	}
	var insns, stack []string
	for _, set := range hookSets {
		if p, n := maxProg(k.insns[set]); n >= 0 {
			insns = append(insns, fmt.Sprintf("%s %d (%s)", set, n, p))
		}
		if p, n := maxProg(k.stackOf(set)); n >= 0 {
			stack = append(stack, fmt.Sprintf("%s %dB (%s)", set, n, p))
		}
	}
	if p, n := maxProg(k.stackOf("-")); n >= 0 {
		stack = append(stack, fmt.Sprintf("%dB (%s)", n, p))
	}
	return fmt.Sprintf("KERNEL %s %s | hooks %s | tests %d passed %d failed %d skipped (with subtests %d/%d/%d) in %d binaries | max verified insns: %s | worst stack chain: %s | %ds",
		k.label, verdict, hooks, k.top.pass, k.top.fail, k.top.skip, k.all.pass, k.all.fail, k.all.skip, len(k.binaries),
		orNone(insns, ", "), orAbsent(stack), k.wall)
}

func orNone(s []string, sep ...string) string {
	if len(s) == 0 {
		return "none"
	}
	j := " "
	if len(sep) > 0 {
		j = sep[0]
	}
	return strings.Join(s, j)
}

func orAbsent(s []string) string {
	if len(s) == 0 {
		return "not logged"
	}
	return strings.Join(s, ", ")
}

func printTable(w io.Writer, ks []*kernel) {
	fmt.Fprintf(w, "%-28s %-9s %-8s %-14s %-34s %s\n", "kernel", "hook set", "loads", "subtests p/f/s", "verified insns (max, programs)", "worst stack chain")
	for _, k := range ks {
		for _, set := range hookSets {
			insns := "-"
			if p, n := maxProg(k.insns[set]); n >= 0 {
				insns = fmt.Sprintf("%d %s, %d progs", n, p, len(k.insns[set]))
			}
			stack := "-"
			if p, n := maxProg(k.stackOf(set)); n >= 0 {
				stack = fmt.Sprintf("%d B %s", n, p)
			}
			fmt.Fprintf(w, "%-28s %-9s %-8s %-14s %-34s %s\n", k.release, set, k.hookState(set), k.perSet[set], insns, stack)
		}
	}
}

func printDetails(w io.Writer, k *kernel) {
	fmt.Fprintf(w, "-- %s (%s), BTF %s, from %s\n", k.label, k.release, k.btf, k.file)
	for _, set := range append(slices.Clone(hookSets), "auto") {
		if h, ok := k.hooks[set]; ok {
			fmt.Fprintf(w, "   hooks %-8s %-7s rc=%d attached=%s", set, k.hookState(set), h.rc, h.attached)
			if h.rc != 0 {
				fmt.Fprintf(w, " err=%s", h.err)
			}
			fmt.Fprintln(w)
		}
	}
	for _, b := range k.binaries {
		fmt.Fprintf(w, "   binary %s rc=%d ended=%v %ds\n", b.name, b.rc, b.ended, b.secs)
	}
	for _, set := range hookSets {
		progs := make([]string, 0, len(k.insns[set]))
		for p := range k.insns[set] {
			progs = append(progs, p)
		}
		sort.Strings(progs)
		for _, p := range progs {
			fmt.Fprintf(w, "   insns %-8s %-20s %7d\n", set, p, k.insns[set][p])
		}
	}
	progs := make([]string, 0, len(k.stack))
	for p := range k.stack {
		progs = append(progs, p)
	}
	sort.Strings(progs)
	for _, p := range progs {
		fmt.Fprintf(w, "   stack %-8s %-20s %5d B\n", k.progSet[p], p, k.stack[p])
	}
	if len(k.skipped) > 0 {
		fmt.Fprintf(w, "   skipped: %s\n", strings.Join(k.skipped, " "))
	}
	for _, p := range k.problems() {
		fmt.Fprintf(w, "   PROBLEM: %s\n", p)
	}
}

// printFailures repeats, last in the output, why k failed and the last
// lines each failed test printed: a CI log excerpt shows its end.
func printFailures(w io.Writer, k *kernel) {
	p := k.problems()
	if len(p) == 0 {
		return
	}
	fmt.Fprintf(w, "-- %s FAILED: %s\n", k.label, strings.Join(p, "; "))
	names := make([]string, 0, len(k.failTail))
	for n := range k.failTail {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.Contains(n, "/") || !hasSubtestIn(n, names) {
			fmt.Fprintf(w, "   %s, last lines:\n", n)
			for _, l := range k.failTail[n] {
				fmt.Fprintf(w, "   | %s\n", l)
			}
		}
	}
}

// hasSubtestIn says whether a failed subtest of test is in names: its
// output says more than the parent's.
func hasSubtestIn(test string, names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, test+"/") {
			return true
		}
	}
	return false
}

func run(files []string, w io.Writer) (ok bool, err error) {
	if len(files) == 0 {
		return false, errors.New("usage: summary RESULT_LOG [RESULT_LOG]")
	}
	var ks []*kernel
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return false, err
		}
		k, err := parse(f, fh)
		fh.Close()
		if err != nil {
			return false, err
		}
		ks = append(ks, k)
	}
	ok = true
	for _, k := range ks {
		printDetails(w, k)
		ok = ok && len(k.problems()) == 0
	}
	fmt.Fprintln(w)
	printTable(w, ks)
	fmt.Fprintln(w)
	for _, k := range ks {
		fmt.Fprintln(w, k.summary())
	}
	for _, k := range ks {
		printFailures(w, k)
	}
	return ok, nil
}

func main() {
	ok, err := run(os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "summary:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}
