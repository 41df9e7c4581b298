package loader

// The stack analysis behind TestStackBudget: from a program's instructions
// as cilium/ebpf links them (the entry function, then every function it
// reaches, each beginning with an instruction that carries its symbol), it
// works out each function's stack frame and the chain of bpf-to-bpf calls
// whose frames add up to the most. The verifier holds that sum to 512
// bytes (MAX_BPF_STACK) unless the kernel gives subprograms private stacks.

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/asm"
)

const (
	// stackSlot is the verifier's unit of stack: it tracks the stack in
	// 8-byte slots, and newer kernels count a frame in whole slots, so a
	// 4-byte key at r10-4 costs 8.
	stackSlot = 8

	// oldFrameGranule is how kernels before 6.9 (and newer ones that
	// interpret rather than JIT) count a frame in the combined stack:
	// round_up(max(depth, 1), 32), the interpreter's stack granule. A
	// frame that touches no stack still costs 32.
	oldFrameGranule = 32
)

// stackFunc is one BPF function of a linked program.
type stackFunc struct {
	name string
	// depth is how far below R10 the function reaches, in bytes, rounded
	// up to a whole slot: its own frame, before the per-kernel rounding.
	depth int
	// calls are the functions it calls or takes the address of (a
	// callback runs on top of its caller's frame too), each once, in the
	// order they first appear.
	calls []string
}

// stackChain is the deepest chain of calls from one program's entry.
type stackChain struct {
	// bytes is the sum of the chain's frames under oldFrame.
	bytes int
	// funcs are the functions of the chain, entry first.
	funcs []stackFunc
}

// String lists the chain's function names, comma-separated, the way the
// stack-chain log lines print it.
func (c stackChain) String() string {
	names := make([]string, len(c.funcs))
	for i, f := range c.funcs {
		names[i] = f.name
	}
	return strings.Join(names, ",")
}

// frames spells the chain out frame by frame, for a failure message:
// "a 64 (depth 56) + b 32 (depth 0)".
func (c stackChain) frames() string {
	parts := make([]string, len(c.funcs))
	for i, f := range c.funcs {
		parts[i] = fmt.Sprintf("%s %d (depth %d)", f.name, oldFrame(f.depth), f.depth)
	}
	return strings.Join(parts, " + ")
}

// oldFrame is what a frame of depth bytes adds to the combined stack on a
// kernel before 6.9: round_up(max(depth, 1), 32). Newer kernels round a
// JIT-ed frame to 16 instead, so this is the larger of the two.
func oldFrame(depth int) int {
	return roundUp(max(depth, 1), oldFrameGranule)
}

func roundUp(n, to int) int { return (n + to - 1) / to * to }

// splitFuncs cuts a linked program into its functions. Each function
// begins at an instruction that carries a symbol (cilium/ebpf marks the
// entry with the program's name and every linked callee with its own).
func splitFuncs(insns asm.Instructions) ([]stackFunc, error) {
	if len(insns) == 0 || insns[0].Symbol() == "" {
		return nil, fmt.Errorf("program does not begin with a function symbol")
	}
	var funcs []stackFunc
	start := 0
	for i := 1; i <= len(insns); i++ {
		if i < len(insns) && insns[i].Symbol() == "" {
			continue
		}
		body := insns[start:i]
		funcs = append(funcs, stackFunc{name: body[0].Symbol(), depth: frameDepth(body), calls: callees(body)})
		start = i
	}
	return funcs, nil
}

// callees lists the functions body calls or loads the address of.
func callees(body asm.Instructions) []string {
	var out []string
	seen := map[string]bool{}
	for _, ins := range body {
		if !ins.IsFunctionReference() || seen[ins.Reference()] {
			continue
		}
		seen[ins.Reference()] = true
		out = append(out, ins.Reference())
	}
	return out
}

// frameDepth is how far below R10 (the read-only frame pointer) body
// reaches, rounded up to a slot. It counts the two forms clang emits:
// loads and stores with R10 as their base (*(u64 *)(r10 - 16) = r1), and
// a register that holds R10 plus a constant (r2 = r10; r2 += -8), which is
// how a stack address reaches a helper or a callee; the address itself
// counts, because whoever receives it reads or writes the bytes from
// there up. Accesses through such a register count at their own offset.
//
// The scan follows the text, not the control flow: a register that holds
// a stack address stops being tracked at the next instruction that writes
// it. Clang builds each such address right before its use, so the scan
// sees every one of them.
func frameDepth(body asm.Instructions) int {
	deepest := int64(0)
	reach := func(off int64) {
		if -off > deepest {
			deepest = -off
		}
	}
	// fp[r] is R10 plus what, for a register known to hold a stack address.
	fp := map[asm.Register]int64{asm.R10: 0}

	for _, ins := range body {
		op := ins.OpCode
		cls := op.Class()

		// A memory access: loads name their base in Src, stores and
		// atomics in Dst.
		if cls == asm.LdXClass || cls.IsStore() {
			base := ins.Dst
			if cls == asm.LdXClass {
				base = ins.Src
			}
			if off, ok := fp[base]; ok {
				reach(off + int64(ins.Offset))
			}
		}

		// What the instruction does to the registers that hold stack
		// addresses.
		switch {
		case cls == asm.ALU64Class && op.ALUOp() == asm.Mov && op.Source() == asm.RegSource:
			if off, ok := fp[ins.Src]; ok {
				fp[ins.Dst] = off
				reach(off)
				continue
			}
			delete(fp, ins.Dst)
		case cls == asm.ALU64Class && op.Source() == asm.ImmSource && (op.ALUOp() == asm.Add || op.ALUOp() == asm.Sub):
			off, ok := fp[ins.Dst]
			if !ok {
				continue
			}
			if op.ALUOp() == asm.Add {
				off += ins.Constant
			} else {
				off -= ins.Constant
			}
			fp[ins.Dst] = off
			reach(off)
		case cls.IsALU() || cls == asm.LdClass || cls == asm.LdXClass:
			delete(fp, ins.Dst)
		case cls == asm.StXClass && op.Mode() == asm.AtomicMode:
			// A fetching atomic writes its Src, a compare-and-exchange R0.
			delete(fp, ins.Src)
			delete(fp, asm.R0)
		case cls.IsJump() && op.JumpOp() == asm.Call:
			// Calls clobber the argument registers and return in R0.
			for r := asm.R0; r <= asm.R5; r++ {
				delete(fp, r)
			}
		}
	}
	return roundUp(int(deepest), stackSlot)
}

// worstChain finds, among the chains of calls that start at entry, the one
// whose frames add up to the most under oldFrame. It fails on a call to a
// function funcs lacks and on recursion, which the verifier rejects too.
func worstChain(funcs []stackFunc, entry string) (stackChain, error) {
	byName := make(map[string]stackFunc, len(funcs))
	for _, f := range funcs {
		if _, dup := byName[f.name]; dup {
			return stackChain{}, fmt.Errorf("function %s appears twice", f.name)
		}
		byName[f.name] = f
	}
	memo := map[string]stackChain{}
	onPath := map[string]bool{}

	var walk func(name string) (stackChain, error)
	walk = func(name string) (stackChain, error) {
		if c, ok := memo[name]; ok {
			return c, nil
		}
		f, ok := byName[name]
		if !ok {
			return stackChain{}, fmt.Errorf("call to %s, which the program does not contain", name)
		}
		if onPath[name] {
			return stackChain{}, fmt.Errorf("%s calls itself, directly or not", name)
		}
		onPath[name] = true
		defer delete(onPath, name)

		var deepest stackChain
		for _, callee := range f.calls {
			c, err := walk(callee)
			if err != nil {
				return stackChain{}, err
			}
			if c.bytes > deepest.bytes {
				deepest = c
			}
		}
		c := stackChain{
			bytes: oldFrame(f.depth) + deepest.bytes,
			funcs: append([]stackFunc{f}, deepest.funcs...),
		}
		memo[name] = c
		return c, nil
	}
	return walk(entry)
}

// programChain is worstChain of a linked program, from its first function.
func programChain(insns asm.Instructions) (stackChain, []stackFunc, error) {
	funcs, err := splitFuncs(insns)
	if err != nil {
		return stackChain{}, nil, err
	}
	c, err := worstChain(funcs, funcs[0].name)
	return c, funcs, err
}
