package chain

import "time"

// model is Memory written the obvious way, slow and unbounded in cost: the
// oracle of FuzzMemory. Recency is a sequence number per receipt.
type model struct {
	window                 int64
	maxIDs, maxPer, maxPro int
	base                   int64
	seq                    uint64
	ids                    []modelEntry
	procs                  map[uint32]uint32 // pid → lastRecv
	evictions              uint64
}

type modelEntry struct {
	pid  uint32
	id   uint64
	seen uint32
	seq  uint64
}

func newModel(cfg Config) *model {
	return &model{
		window: int64((cfg.Window + time.Second - 1) / time.Second),
		maxIDs: cfg.MaxIDs, maxPer: cfg.MaxPerProcess, maxPro: cfg.MaxProcesses,
		procs: map[uint32]uint32{},
	}
}

func (m *model) clock(now int64) uint32 {
	if m.base == 0 {
		m.base = now - (m.window+1)*int64(time.Second)
	}
	d := (now - m.base) / int64(time.Second)
	if d < 0 {
		return 0
	}
	return uint32(min(d, 1<<32-1))
}

// oldest returns the index of the least recent entry, of pid only when
// one is true.
func (m *model) oldest(pid uint32, one bool) int {
	best := -1
	for i, e := range m.ids {
		if one && e.pid != pid {
			continue
		}
		if best < 0 || e.seq < m.ids[best].seq {
			best = i
		}
	}
	return best
}

func (m *model) count(pid uint32) int {
	n := 0
	for _, e := range m.ids {
		if e.pid == pid {
			n++
		}
	}
	return n
}

func (m *model) evict(i int, t uint32) {
	if int64(m.ids[i].seen) >= int64(t)-m.window {
		m.evictions++
	}
	m.ids = append(m.ids[:i], m.ids[i+1:]...)
}

func (m *model) receive(pid uint32, id [16]byte, now int64) {
	key := low64(id)
	if key == 0 {
		return
	}
	t := m.clock(now)
	if _, ok := m.procs[pid]; !ok {
		if len(m.procs) >= m.maxPro {
			var victim uint32
			first := true
			for q, last := range m.procs {
				if first || last < m.procs[victim] || (last == m.procs[victim] && q < victim) {
					victim, first = q, false
				}
			}
			for m.count(victim) > 0 {
				m.evict(m.oldest(victim, true), t)
			}
			delete(m.procs, victim)
		}
		m.procs[pid] = 0
	}
	m.procs[pid] = max(m.procs[pid], t)
	m.seq++
	for i := range m.ids {
		if e := &m.ids[i]; e.pid == pid && e.id == key {
			e.seen, e.seq = max(e.seen, t), m.seq
			return
		}
	}
	if m.count(pid) >= m.maxPer {
		m.evict(m.oldest(pid, true), t)
	}
	if len(m.ids) >= m.maxIDs {
		m.evict(m.oldest(0, false), t)
	}
	m.ids = append(m.ids, modelEntry{pid, key, t, m.seq})
}

func (m *model) sent(pid uint32, id *[16]byte, now int64) Outcome {
	last, ok := m.procs[pid]
	if !ok {
		return None
	}
	t := int64(m.clock(now))
	if int64(last) < t-m.window {
		return None
	}
	if id == nil {
		return Dropped
	}
	for _, e := range m.ids {
		if e.pid == pid && e.id == low64(*id) && int64(e.seen) >= t-m.window {
			return Continued
		}
	}
	return NewRoot
}

func (m *model) expire(now int64) {
	cutoff := int64(m.clock(now)) - m.window
	for {
		i := m.oldest(0, false)
		if i < 0 || int64(m.ids[i].seen) >= cutoff {
			break
		}
		m.ids = append(m.ids[:i], m.ids[i+1:]...)
	}
	for pid, last := range m.procs {
		if m.count(pid) == 0 && int64(last) < cutoff {
			delete(m.procs, pid)
		}
	}
}
