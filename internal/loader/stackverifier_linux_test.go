//go:build linux && (amd64 || arm64)

package loader

import (
	"errors"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/propwatch/propwatch/internal/privtest"
)

// TestStackBudgetVerifier holds the object analysis of TestStackBudget to
// the verifier's own count: it loads each program of this machine's
// capture object with the verifier's statistics on and checks that the
// stack depth the verifier reports for each subprogram is at most the
// frame the analysis gives that function. So the chains TestStackBudget
// sums are an upper bound of what the verifier sums, on this kernel.
func TestStackBudgetVerifier(t *testing.T) {
	privtest.RequireBPF(t)
	spec, err := loadCapture()
	if err != nil {
		t.Fatal(err)
	}
	// TLS on: the socket hooks' tls_window, which the verifier drops as
	// dead code when TLS capture is off, is checked too.
	cfg, err := Config{TLS: true}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if err := configure(spec, cfg); err != nil {
		t.Fatal(err)
	}
	// A program whose hook this kernel lacks cannot be loaded at all; the
	// probes that Open runs say which.
	missing := map[string]error{}
	for set, probe := range map[loadable]func() error{&sockObjects{}: probeSock, &rawObjects{}: probeRaw} {
		if err := probe(); err != nil {
			for name := range programsByName(set) {
				missing[name] = err
			}
		}
	}

	for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
		t.Run(name, func(t *testing.T) {
			if err := missing[name]; err != nil {
				t.Skipf("not on this kernel: %v", err)
			}
			_, funcs, err := programChain(spec.Programs[name].Instructions)
			if err != nil {
				t.Fatal(err)
			}
			log, loadErr := loadWithStats(spec, name)
			if loadErr != nil {
				// Say so, but compare the depths all the same: the
				// verifier counts them before it sums the chain.
				t.Error(loadError(loadErr, true))
			}
			depths, ok := stackDepths(log)
			if !ok {
				t.Fatalf("the verifier log of %s has no stack depth line:\n%s", name, log)
			}
			// The verifier numbers subprograms in the order they begin,
			// which is the order cilium/ebpf links the functions in.
			if len(depths) != len(funcs) {
				t.Fatalf("the verifier reports %d subprograms (%v), the object has %d functions", len(depths), depths, len(funcs))
			}
			for i, f := range funcs {
				t.Logf("stack-depth prog=%s func=%s verifier=%d object=%d", name, f.name, depths[i], f.depth)
				if depths[i] > f.depth {
					t.Errorf("%s: the verifier counts %d bytes of stack, the object analysis only %d", f.name, depths[i], f.depth)
				}
			}
		})
	}
}

// loadWithStats loads the program name of spec alone, with its maps, and
// returns the verifier's log at LogLevelStats, also when the load fails.
func loadWithStats(spec *ebpf.CollectionSpec, name string) (string, error) {
	one := spec.Copy()
	for n := range one.Programs {
		if n != name {
			delete(one.Programs, n)
		}
	}
	coll, err := ebpf.NewCollectionWithOptions(one, ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats},
	})
	if err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return strings.Join(ve.Log, "\n"), err
		}
		return "", err
	}
	defer coll.Close()
	return coll.Programs[name].VerifierLog, nil
}

// stackDepthLine is the line of the verifier's statistics that gives the
// stack depth of each subprogram, in the order they begin in the program:
// "stack depth 112+176+272+152+32+120".
var stackDepthLine = regexp.MustCompile(`(?m)^stack depth ([0-9+]+)$`)

// stackDepths reads the per-subprogram stack depths from a verifier log.
func stackDepths(log string) ([]int, bool) {
	m := stackDepthLine.FindStringSubmatch(log)
	if m == nil {
		return nil, false
	}
	var out []int
	for _, s := range strings.Split(m[1], "+") {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

func TestStackDepths(t *testing.T) {
	log := "combined stack size of 3 calls is 560. Too large\nverification time 121567 usec\nstack depth 112+64+0+120\nprocessed 113849 insns"
	if got, ok := stackDepths(log); !ok || !slices.Equal(got, []int{112, 64, 0, 120}) {
		t.Errorf("stackDepths = %v, %v; want [112 64 0 120]", got, ok)
	}
	if got, ok := stackDepths("processed 10 insns"); ok {
		t.Errorf("stackDepths of a log without stack depths = %v, want none", got)
	}
}
