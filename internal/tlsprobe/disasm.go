package tlsprobe

import (
	"debug/elf"
	"errors"
	"fmt"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"
)

// ErrUnsupportedArch is wrapped when a binary's machine is neither amd64
// nor arm64, the two architectures whose returns this package can find.
var ErrUnsupportedArch = errors.New("unsupported architecture")

// x86Mode64 is the decoding mode for amd64 code.
const x86Mode64 = 64

// arm64InstLen is the length of every arm64 instruction.
const arm64InstLen = 4

// returns lists the offsets, relative to the start of code, of every return
// instruction in code, decoding it linearly as machine m. Go puts no data
// between the instructions of a function, so a linear sweep meets every
// instruction boundary; on amd64 an undecodable byte stops the sweep with an
// error, since every later boundary would be a guess. On arm64 instructions
// have a fixed length and an undecodable word (the padding after a
// function's last instruction is zeros) is skipped.
func returns(m elf.Machine, code []byte) ([]uint64, error) {
	var rets []uint64
	switch m {
	case elf.EM_X86_64:
		for pc := 0; pc < len(code); {
			inst, err := x86asm.Decode(code[pc:], x86Mode64)
			if err != nil {
				return nil, fmt.Errorf("decode amd64 at +%#x: %w", pc, err)
			}
			if inst.Op == x86asm.RET {
				rets = append(rets, uint64(pc))
			}
			pc += inst.Len
		}
	case elf.EM_AARCH64:
		for pc := 0; pc+arm64InstLen <= len(code); pc += arm64InstLen {
			inst, err := arm64asm.Decode(code[pc : pc+arm64InstLen])
			if err == nil && inst.Op == arm64asm.RET {
				rets = append(rets, uint64(pc))
			}
		}
	default:
		return nil, fmt.Errorf("%v: %w", m, ErrUnsupportedArch)
	}
	return rets, nil
}

// prologueInsts bounds the instructions searched for a Go function's stack
// check: it opens the function (amd64: CMP SP or a LEA, CMP, then JLS;
// arm64: MOVD, CMP, then B.LS, a SUB before the CMP for large frames).
const prologueInsts = 6

// bodyStart returns the offset, relative to the start of code, of the first
// instruction after a Go function's stack check: the conditional branch to
// runtime.morestack in its first instructions, which returns to the
// function's first instruction once the stack has grown. A probe there fires
// once a call, where a probe on the first instruction fires again after
// each stack growth; the arguments are still in their registers (the check
// uses none of them). A function without a stack check (NOSPLIT) starts its
// body at 0.
func bodyStart(m elf.Machine, code []byte) uint64 {
	switch m {
	case elf.EM_X86_64:
		for pc, i := 0, 0; pc < len(code) && i < prologueInsts; i++ {
			inst, err := x86asm.Decode(code[pc:], x86Mode64)
			if err != nil {
				return 0
			}
			pc += inst.Len
			if inst.Op == x86asm.JBE {
				return uint64(pc)
			}
		}
	case elf.EM_AARCH64:
		for pc, i := 0, 0; pc+arm64InstLen <= len(code) && i < prologueInsts; pc, i = pc+arm64InstLen, i+1 {
			inst, err := arm64asm.Decode(code[pc : pc+arm64InstLen])
			if err != nil {
				return 0
			}
			if c, ok := inst.Args[0].(arm64asm.Cond); inst.Op == arm64asm.B && ok && c.Value == arm64CondLS {
				return uint64(pc + arm64InstLen)
			}
		}
	}
	return 0
}

// arm64CondLS is the condition code LS (unsigned lower or same), 9 in the
// architecture's encoding, which Go's stack check branches on.
const arm64CondLS = 9

// IsReturn reports whether code starts with a return instruction of machine
// m: RET on amd64 (C3, or C2 with an immediate) and on arm64.
func IsReturn(m elf.Machine, code []byte) bool {
	switch m {
	case elf.EM_X86_64:
		inst, err := x86asm.Decode(code, x86Mode64)
		return err == nil && inst.Op == x86asm.RET
	case elf.EM_AARCH64:
		if len(code) < arm64InstLen {
			return false
		}
		inst, err := arm64asm.Decode(code[:arm64InstLen])
		return err == nil && inst.Op == arm64asm.RET
	}
	return false
}
