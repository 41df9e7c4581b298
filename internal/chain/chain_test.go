package chain

import (
	"testing"
	"time"
)

// at is the UnixNano of second s of a test.
func at(s float64) int64 {
	return time.Unix(1_800_000_000, 0).Add(time.Duration(s * float64(time.Second))).UnixNano()
}

func tid(n uint64) (id [16]byte) {
	id[0] = 0xab // a high half that 64-bit formats lack
	for i := 15; i >= 8; i-- {
		id[i] = byte(n)
		n >>= 8
	}
	return id
}

func TestClassify(t *testing.T) {
	m := New(Config{Window: time.Minute})
	const b, entry = 10, 20
	// A process that received nothing starts traces legitimately.
	fresh := tid(99)
	if got := m.Sent(entry, &fresh, at(0)); got != None {
		t.Errorf("entry point, traced: %v", got)
	}
	if got := m.Sent(entry, nil, at(0)); got != None {
		t.Errorf("entry point, no context: %v", got)
	}
	m.Receive(b, tid(1), at(1))
	same := tid(1)
	if got := m.Sent(b, &same, at(1.001)); got != Continued {
		t.Errorf("same trace: %v", got)
	}
	// The 64-bit form of the same trace (B3, Datadog) continues it too.
	short := tid(1)
	clear(short[:8])
	if got := m.Sent(b, &short, at(2)); got != Continued {
		t.Errorf("same trace, 64-bit: %v", got)
	}
	if got := m.Sent(b, &fresh, at(2)); got != NewRoot {
		t.Errorf("fresh trace: %v", got)
	}
	if got := m.Sent(b, nil, at(2)); got != Dropped {
		t.Errorf("no context: %v", got)
	}
	// Another process's receipt is not this one's.
	if got := m.Sent(entry, &same, at(2)); got != None {
		t.Errorf("other process: %v", got)
	}
	// A receipt up to a grace after the send still continues it (events
	// reordered across CPUs); the caller delays classifying for that.
	m.Receive(b, tid(2), at(3))
	late := tid(2)
	if got := m.Sent(b, &late, at(2.9)); got != Continued {
		t.Errorf("receipt processed after the send: %v", got)
	}
	// Past the window the process is an entry point again.
	if got := m.Sent(b, &same, at(3+61)); got != None {
		t.Errorf("after the window: %v", got)
	}
	m.Expire(at(3 + 62))
	if m.Len() != 0 || m.Processes() != 0 || m.Evictions() != 0 {
		t.Errorf("after expiry: %d ids, %d processes, %d evictions", m.Len(), m.Processes(), m.Evictions())
	}
}

// TestWindowPerID: an id received long ago makes a new root even while
// the process goes on receiving others.
func TestWindowPerID(t *testing.T) {
	m := New(Config{Window: 10 * time.Second})
	m.Receive(1, tid(1), at(0))
	m.Receive(1, tid(2), at(15))
	old := tid(1)
	if got := m.Sent(1, &old, at(16)); got != NewRoot {
		t.Errorf("id past its window: %v", got)
	}
	// Receiving it again renews it.
	m.Receive(1, tid(1), at(17))
	if got := m.Sent(1, &old, at(18)); got != Continued {
		t.Errorf("renewed id: %v", got)
	}
}

func TestCapsEvict(t *testing.T) {
	m := New(Config{Window: time.Minute, MaxPerProcess: 4, MaxIDs: 6})
	for i := range uint64(6) {
		m.Receive(1, tid(i+1), at(0))
	}
	// Process 1 holds its cap, 4: ids 1 and 2 went, counted.
	if m.Len() != 4 || m.Evictions() != 2 {
		t.Fatalf("per process: %d ids, %d evictions", m.Len(), m.Evictions())
	}
	first, last := tid(1), tid(6)
	if m.Sent(1, &first, at(1)) != NewRoot || m.Sent(1, &last, at(1)) != Continued {
		t.Error("the least recent ids were not the ones evicted")
	}
	// Receiving id 3 again makes it the most recent: 4 goes next.
	m.Receive(1, tid(3), at(1))
	m.Receive(1, tid(7), at(1))
	three, four := tid(3), tid(4)
	if m.Sent(1, &three, at(1)) != Continued || m.Sent(1, &four, at(1)) != NewRoot {
		t.Error("recency is by last receipt")
	}
	// The total cap evicts the least recent of all processes.
	for i := range uint64(3) {
		m.Receive(2, tid(100+i), at(2))
	}
	if m.Len() != 6 || m.Evictions() != 4 {
		t.Errorf("total: %d ids, %d evictions", m.Len(), m.Evictions())
	}
	// Ids past their window go without counting as evictions.
	m.Receive(3, tid(500), at(100))
	if m.Evictions() != 4 {
		t.Errorf("an expired id counted as evicted: %d", m.Evictions())
	}
}

func TestMaxProcesses(t *testing.T) {
	m := New(Config{Window: time.Minute, MaxProcesses: 2})
	m.Receive(1, tid(1), at(0))
	m.Receive(2, tid(2), at(1))
	m.Receive(3, tid(3), at(2))
	if m.Processes() != 2 || m.Evictions() != 1 {
		t.Errorf("%d processes, %d evictions", m.Processes(), m.Evictions())
	}
	if m.Sent(1, nil, at(2)) != None || m.Sent(2, nil, at(2)) != Dropped {
		t.Error("the process that received longest ago was not the one forgotten")
	}
}

// TestZeroID: an id of zero (no comparable id) is never remembered.
func TestZeroID(t *testing.T) {
	m := New(Config{})
	m.Receive(1, [16]byte{}, at(0))
	if m.Len() != 0 || m.Processes() != 0 {
		t.Errorf("zero id remembered: %d ids, %d processes", m.Len(), m.Processes())
	}
}

// TestHashRuns: ids that share a home slot, removed from the middle of
// their run, leave every other one findable (backward-shift deletion).
func TestHashRuns(t *testing.T) {
	m := New(Config{Window: time.Hour, MaxPerProcess: 1 << 20, MaxIDs: 1 << 20})
	m.seed = 0
	const n = 5000
	for i := range uint64(n) {
		m.Receive(uint32(i%7), tid(i+1), at(0))
	}
	for i := uint64(0); i < n; i += 3 {
		_, e := m.find(m.byPID[uint32(i%7)], i+1)
		if e == nilIdx {
			t.Fatalf("id %d lost", i+1)
		}
		m.remove(e)
	}
	for i := range uint64(n) {
		_, e := m.find(m.byPID[uint32(i%7)], i+1)
		if (e != nilIdx) != (i%3 != 0) {
			t.Fatalf("id %d: found %v", i+1, e != nilIdx)
		}
	}
}
