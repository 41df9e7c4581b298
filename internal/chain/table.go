package chain

// The tables behind Memory: the entries, in a slice that grows by doubling
// up to MaxIDs and then reuses its slots; an open-addressing hash table of
// entry indexes with linear probing, kept at most half full, whose
// deletions shift the run back rather than leave tombstones (so a table
// under churn never degrades); and two intrusive recency lists.

// minEntries is the first size of the entries slice.
const minEntries = 1024

// hash mixes a process index and an id with the seed (the finaliser of
// splitmix64).
func (m *Memory) hash(pi int32, id uint64) uint64 {
	h := id ^ m.seed ^ uint64(uint32(pi))*0x9e3779b97f4a7c15
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	return h ^ h>>31
}

// find returns the table position and index of process pi's entry for id,
// or nilIdx for the index when there is none.
func (m *Memory) find(pi int32, id uint64) (uint64, int32) {
	if m.table == nil {
		return 0, nilIdx
	}
	for i := m.hash(pi, id) & m.mask; ; i = (i + 1) & m.mask {
		slot := m.table[i]
		if slot == 0 {
			return i, nilIdx
		}
		if e := &m.entries[slot-1]; e.id == id && e.proc == pi {
			return i, slot - 1
		}
	}
}

// insert adds entry e, which is not in the table, to it.
func (m *Memory) insert(e int32) {
	en := &m.entries[e]
	for i := m.hash(en.proc, en.id) & m.mask; ; i = (i + 1) & m.mask {
		if m.table[i] == 0 {
			m.table[i] = e + 1
			return
		}
	}
}

// erase takes entry e out of the table, shifting back the entries of the
// run after it that would otherwise become unreachable.
func (m *Memory) erase(e int32) {
	en := &m.entries[e]
	i, found := m.find(en.proc, en.id)
	if found != e {
		return
	}
	for j := (i + 1) & m.mask; ; j = (j + 1) & m.mask {
		slot := m.table[j]
		if slot == 0 {
			break
		}
		o := &m.entries[slot-1]
		home := m.hash(o.proc, o.id) & m.mask
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			m.table[i] = slot
			i = j
		}
	}
	m.table[i] = 0
}

// alloc returns a free entry, growing the tables when none is left. The
// caller has made room under MaxIDs.
func (m *Memory) alloc() int32 {
	if m.free == nilIdx {
		m.grow()
	}
	e := m.free
	m.free = m.entries[e].gnext
	m.used++
	return e
}

// grow doubles the entries (up to MaxIDs) and rebuilds the table at twice
// their number of slots or more.
func (m *Memory) grow() {
	n := len(m.entries)
	size := min(max(2*n, minEntries), m.maxIDs)
	grown := make([]entry, size)
	copy(grown, m.entries)
	m.entries = grown
	for e := size - 1; e >= n; e-- {
		m.entries[e].gnext = m.free
		m.free = int32(e)
	}
	slots := 1
	for slots < 2*size {
		slots <<= 1
	}
	if slots != len(m.table) {
		m.table = make([]int32, slots)
		m.mask = uint64(slots - 1)
		// Every entry in use is on the global list.
		for e := m.ghead; e != nilIdx; e = m.entries[e].gnext {
			m.insert(e)
		}
	}
}

// pushFront makes entry e the most recent of both its lists.
func (m *Memory) pushFront(e int32) {
	en := &m.entries[e]
	p := &m.procs[en.proc]
	en.gprev, en.gnext = nilIdx, m.ghead
	if m.ghead != nilIdx {
		m.entries[m.ghead].gprev = e
	} else {
		m.gtail = e
	}
	m.ghead = e
	en.pprev, en.pnext = nilIdx, p.head
	if p.head != nilIdx {
		m.entries[p.head].pprev = e
	} else {
		p.tail = e
	}
	p.head = e
}

// unlink takes entry e out of both its lists.
func (m *Memory) unlink(e int32) {
	en := &m.entries[e]
	p := &m.procs[en.proc]
	if en.gprev != nilIdx {
		m.entries[en.gprev].gnext = en.gnext
	} else {
		m.ghead = en.gnext
	}
	if en.gnext != nilIdx {
		m.entries[en.gnext].gprev = en.gprev
	} else {
		m.gtail = en.gprev
	}
	if en.pprev != nilIdx {
		m.entries[en.pprev].pnext = en.pnext
	} else {
		p.head = en.pnext
	}
	if en.pnext != nilIdx {
		m.entries[en.pnext].pprev = en.pprev
	} else {
		p.tail = en.pprev
	}
}
