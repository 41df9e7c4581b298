package loader

import (
	"bytes"
	_ "embed"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// stackBudget is the most the deepest chain of frames of any program may
// add up to under oldFrame. The verifier rejects a chain above 512 bytes
// (MAX_BPF_STACK) on every kernel that does not give subprograms private
// stacks, and kernels before 6.9 count each frame rounded up to 32 bytes;
// 448 leaves two such granules (64 bytes) of margin, so the next feature
// does not push the capture over the limit on the kernels users run.
const stackBudget = 448

// The committed capture objects, embedded so that a test binary built with
// go test -c checks them wherever it runs (the kernel matrix runs it in a
// guest without the source tree).
var (
	//go:embed capture_x86_bpfel.o
	x86Object []byte
	//go:embed capture_arm64_bpfel.o
	arm64Object []byte
)

// committedObjects are the committed capture objects, by the architecture
// they are built for; TestStackBudget checks both, whatever machine runs
// it, since the arm64 one is loaded nowhere else.
var committedObjects = []struct {
	arch   string
	object []byte
}{
	{"x86", x86Object},
	{"arm64", arm64Object},
}

// TestStackBudget works out, from each committed capture object, the
// deepest chain of bpf-to-bpf calls of every program, logs it as
//
//	stack-chain prog=<program> bytes=<n> chain=<f1>,<f2>,...
//
// (the kernel-matrix script parses these lines) and fails when it exceeds
// stackBudget. It reads the objects only: no root, any OS.
func TestStackBudget(t *testing.T) {
	for _, obj := range committedObjects {
		t.Run(obj.arch, func(t *testing.T) {
			spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj.object))
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range slices.Sorted(maps.Keys(spec.Programs)) {
				c, _, err := programChain(spec.Programs[name].Instructions)
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				t.Logf("stack-chain prog=%s bytes=%d chain=%s", name, c.bytes, c)
				if err := checkBudget(c); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		})
	}
}

// checkBudget says whether a chain fits stackBudget, and if not, which
// frames it adds up.
func checkBudget(c stackChain) error {
	if c.bytes <= stackBudget {
		return nil
	}
	return fmt.Errorf("deepest call chain takes %d bytes of stack, over the budget of %d (the verifier's limit is 512): %s",
		c.bytes, stackBudget, c.frames())
}

// TestOldFrame checks the frame rounding of kernels before 6.9.
func TestOldFrame(t *testing.T) {
	for depth, want := range map[int]int{0: 32, 1: 32, 8: 32, 32: 32, 33: 64, 64: 64, 200: 224, 512: 512} {
		if got := oldFrame(depth); got != want {
			t.Errorf("oldFrame(%d) = %d, want %d", depth, got, want)
		}
	}
}

// TestFrameDepth checks which accesses frameDepth counts, one function
// at a time.
func TestFrameDepth(t *testing.T) {
	for _, tc := range []struct {
		name string
		body asm.Instructions
		want int
	}{
		{"no stack", asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		}, 0},
		{"store below r10", asm.Instructions{
			asm.StoreMem(asm.RFP, -40, asm.R1, asm.DWord),
			asm.Return(),
		}, 40},
		{"load, rounded to a slot", asm.Instructions{
			asm.LoadMem(asm.R0, asm.RFP, -4, asm.Word),
			asm.Return(),
		}, 8},
		{"store of an immediate", asm.Instructions{
			asm.StoreImm(asm.RFP, -24, 0, asm.Word),
			asm.Return(),
		}, 24},
		{"address for a helper", asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0),
			asm.Mov.Reg(asm.R2, asm.RFP),
			asm.Add.Imm(asm.R2, -96),
			asm.FnMapLookupElem.Call(),
			asm.Return(),
		}, 96},
		{"access below a stack address", asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.RFP),
			asm.Add.Imm(asm.R6, -16),
			asm.StoreMem(asm.R6, -8, asm.R1, asm.DWord),
			asm.Return(),
		}, 24},
		{"copied stack address", asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.RFP),
			asm.Mov.Reg(asm.R7, asm.R6),
			asm.Sub.Imm(asm.R7, 48),
			asm.Return(),
		}, 48},
		{"register reused for something else", asm.Instructions{
			asm.Mov.Reg(asm.R6, asm.RFP),
			asm.Mov.Imm(asm.R6, 4096),
			asm.StoreMem(asm.R6, -200, asm.R1, asm.DWord),
			asm.Return(),
		}, 0},
		{"address clobbered by a call", asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.FnKtimeGetNs.Call(),
			asm.Add.Imm(asm.R1, -300),
			asm.Return(),
		}, 0},
	} {
		tc.body[0] = tc.body[0].WithSymbol("f")
		if got := frameDepth(tc.body); got != tc.want {
			t.Errorf("%s: frameDepth = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// fn is a synthetic function for the chain tests: it touches depth bytes
// of stack and calls callees, in order.
func fn(name string, depth int16, callees ...string) asm.Instructions {
	insns := asm.Instructions{asm.Mov.Imm(asm.R0, 0).WithSymbol(name)}
	if depth > 0 {
		insns = append(insns, asm.StoreMem(asm.RFP, -depth, asm.R0, asm.Byte))
	}
	for _, c := range callees {
		insns = append(insns, asm.Call.Label(c))
	}
	return append(insns, asm.Return())
}

// TestStackChain checks the chain analysis and the budget on synthetic
// programs: the exact sum, the chain it names, and that the budget check
// passes at 448 and fails above.
func TestStackChain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prog      []asm.Instructions
		wantBytes int
		wantChain string
		wantOK    bool
	}{
		{
			name:      "one function",
			prog:      []asm.Instructions{fn("main", 100)},
			wantBytes: 128, wantChain: "main", wantOK: true,
		},
		{
			// 128 + 160 + 32 + 128 = 448: exactly the budget.
			name: "at the budget",
			prog: []asm.Instructions{
				fn("main", 128, "shallow", "deep"),
				fn("shallow", 8),
				fn("deep", 129, "empty"),
				fn("empty", 0, "leaf"),
				fn("leaf", 104),
			},
			wantBytes: 448, wantChain: "main,deep,empty,leaf", wantOK: true,
		},
		{
			// The frames of a chain like the capture's before the
			// fix: 96 + 224 + 160 + 96 + 224 + 32 = 832.
			name: "over the budget",
			prog: []asm.Instructions{
				fn("pw_entry", 72, "capture"),
				fn("capture", 200, "judge", "track"),
				fn("track", 24),
				fn("judge", 136, "emit", "track"),
				fn("emit", 96, "ship"),
				fn("ship", 208, "fill"),
				fn("fill", 0),
			},
			wantBytes: 96 + 224 + 160 + 96 + 224 + 32, wantChain: "pw_entry,capture,judge,emit,ship,fill", wantOK: false,
		},
		{
			// One byte deeper in the leaf adds a granule: 480.
			name: "a byte over the budget",
			prog: []asm.Instructions{
				fn("main", 128, "deep"),
				fn("deep", 160, "empty"),
				fn("empty", 0, "leaf"),
				fn("leaf", 129),
			},
			wantBytes: 480, wantChain: "main,deep,empty,leaf", wantOK: false,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := programChain(slices.Concat(tc.prog...))
			if err != nil {
				t.Fatal(err)
			}
			if c.bytes != tc.wantBytes || c.String() != tc.wantChain {
				t.Errorf("chain %s of %d bytes, want %s of %d (%s)", c, c.bytes, tc.wantChain, tc.wantBytes, c.frames())
			}
			if err := checkBudget(c); (err == nil) != tc.wantOK {
				t.Errorf("checkBudget = %v, want ok=%v", err, tc.wantOK)
			}
		})
	}
}

// TestStackChainErrors: calls the analysis cannot follow are errors, not
// chains that stop short.
func TestStackChainErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		prog []asm.Instructions
		want string
	}{
		{"missing callee", []asm.Instructions{fn("main", 8, "gone")}, "gone"},
		{"recursion", []asm.Instructions{fn("main", 8, "a"), fn("a", 8, "b"), fn("b", 8, "a")}, "calls itself"},
	} {
		_, _, err := programChain(slices.Concat(tc.prog...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one that mentions %q", tc.name, err, tc.want)
		}
	}
}
