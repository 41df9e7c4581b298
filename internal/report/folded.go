package report

import (
	"hash/maphash"
	"math"
	"math/bits"
)

// foldedSet counts the distinct keys folded into overflow pairs in bounded
// memory: exactly, in a set of hashes, up to exactFolded keys; beyond,
// with a HyperLogLog sketch of 2^hllBits one-byte registers (16 KiB, about
// 0.8% standard error) that is fed from the first key on. Keeping every
// folded key would let the traffic that overflowed the pair table grow a
// second, unbounded one.
type foldedSet struct {
	seed  maphash.Seed
	exact map[uint64]struct{}
	full  bool // exact overflowed and was dropped
	regs  *[1 << hllBits]uint8
	last  uint64 // the count is reported monotone: a counter must not go down
}

const (
	exactFolded = 1024
	hllBits     = 14
)

func (f *foldedSet) add(k PairKey) {
	if f.regs == nil {
		f.seed = maphash.MakeSeed()
		f.regs = new([1 << hllBits]uint8)
		f.exact = make(map[uint64]struct{})
	}
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(k.Source)
	h.WriteByte(0)
	h.WriteString(k.Destination)
	h.WriteByte(0)
	h.WriteString(k.Protocol)
	h.WriteByte(0)
	h.WriteString(k.SourceNamespace)
	h.WriteByte(0)
	h.WriteString(k.DestinationNamespace)
	if k.TLS {
		// After a sanitized name, which holds no control byte.
		h.WriteByte(1)
	}
	x := h.Sum64()

	idx := x >> (64 - hllBits)
	rho := uint8(bits.LeadingZeros64(x<<hllBits|1<<(hllBits-1))) + 1
	if rho > f.regs[idx] {
		f.regs[idx] = rho
	}
	if !f.full {
		f.exact[x] = struct{}{}
		if len(f.exact) > exactFolded {
			f.exact, f.full = nil, true
		}
	}
}

func (f *foldedSet) count() uint64 {
	var n uint64
	if !f.full {
		n = uint64(len(f.exact))
	} else {
		n = uint64(math.Round(f.estimate()))
	}
	f.last = max(f.last, n)
	return f.last
}

// estimate is the HyperLogLog estimate, with linear counting for the small
// range where it is more accurate. 64-bit hashes need no large-range fix.
func (f *foldedSet) estimate() float64 {
	const m = 1 << hllBits
	sum, zeros := 0.0, 0
	for _, r := range f.regs {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(float64(m)/float64(zeros))
	}
	return e
}
