package chain

import (
	"testing"
	"time"
)

// FuzzMemory runs a program of receipts, sends and expiries, decoded from
// the input, through Memory and through the model, and wants the same
// outcome of every send and the same ids, processes and evictions after
// every step. Small caps and few pids and ids make every eviction path
// and every hash-table run length likely.
func FuzzMemory(f *testing.F) {
	f.Add([]byte{0, 1, 1, 1, 2, 1, 1, 0, 3, 0})
	f.Add([]byte{0, 1, 1, 0, 1, 2, 0, 1, 3, 0, 1, 4, 0, 1, 5, 1, 1, 1, 2, 200, 0})
	f.Add([]byte{0, 1, 9, 0, 2, 9, 0, 3, 9, 0, 4, 9, 1, 1, 9, 1, 4, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		cfg := Config{Window: 20 * time.Second, MaxIDs: 7, MaxPerProcess: 4, MaxProcesses: 3}
		m, ref := New(cfg), newModel(cfg)
		now := at(0)
		for i := 0; i+2 < len(prog); i += 3 {
			op, pid, id := prog[i]%4, uint32(prog[i+1]%5), tid(uint64(prog[i+2]%16))
			// The clock moves by the op byte's high bits, now and then
			// backwards a little, as events reordered across CPUs do.
			switch step := int64(prog[i] >> 2); {
			case step == 63:
				now -= int64(time.Second)
			default:
				now += step * step * int64(time.Second) / 8
			}
			switch op {
			case 0:
				m.Receive(pid, id, now)
				ref.receive(pid, id, now)
			case 1:
				if got, want := m.Sent(pid, &id, now), ref.sent(pid, &id, now); got != want {
					t.Fatalf("step %d: sent traced = %v, model %v", i/3, got, want)
				}
			case 2:
				if got, want := m.Sent(pid, nil, now), ref.sent(pid, nil, now); got != want {
					t.Fatalf("step %d: sent bare = %v, model %v", i/3, got, want)
				}
			case 3:
				m.Expire(now)
				ref.expire(now)
			}
			if m.Len() != len(ref.ids) || m.Processes() != len(ref.procs) || m.Evictions() != ref.evictions {
				t.Fatalf("step %d: %d ids, %d processes, %d evictions; model %d, %d, %d", i/3,
					m.Len(), m.Processes(), m.Evictions(), len(ref.ids), len(ref.procs), ref.evictions)
			}
			if m.Len() > cfg.MaxIDs || m.Processes() > cfg.MaxProcesses {
				t.Fatalf("step %d: over the caps", i/3)
			}
		}
	})
}
