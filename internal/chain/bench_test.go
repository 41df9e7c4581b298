package chain

import (
	"testing"
	"time"
)

// BenchmarkRequest is what continuity adds to one request in the
// steady state of a busy service: the receipt of a traced request and the
// classification of the request it sends onward, against a memory of
// about 100,000 live ids over 64 processes (100,000 requests a second in
// a window of one second, expired as the observer's Tick does).
func BenchmarkRequest(b *testing.B) {
	m := New(Config{Window: time.Second})
	const procs, live = 64, 100_000
	now := at(0)
	for i := range uint64(live) {
		now += 10_000
		m.Receive(uint32(i%procs), tid(i*0x9e3779b97f4a7c15|1), now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range uint64(b.N) {
		// One receipt replaces the oldest id of a process; its send
		// continues it.
		id := tid((live+i)*0x9e3779b97f4a7c15 | 1)
		pid := uint32(i % procs)
		now += 10_000 // 10 µs a request
		m.Receive(pid, id, now)
		if m.Sent(pid, &id, now) != Continued {
			b.Fatal("not continued")
		}
		if i%10_000 == 0 { // the observer's Tick, every 100 ms
			m.Expire(now)
		}
	}
}

// BenchmarkChurn feeds 1M distinct trace ids, from 256 processes, into a
// memory with the default caps, all within one window, and checks that
// it stays within them: at most DefaultMaxIDs ids, DefaultMaxIDs*EntryBytes
// bytes of tables, every id past the caps evicted and counted.
func BenchmarkChurn(b *testing.B) {
	const distinct = 1_000_000
	b.ReportAllocs()
	for b.Loop() {
		m := New(Config{})
		now := at(0)
		for i := range uint64(distinct) {
			now += int64(10 * time.Microsecond)
			m.Receive(uint32(i%256), tid(i+1), now)
		}
		if m.Len() > DefaultMaxIDs || m.Bytes() > DefaultMaxIDs*EntryBytes+DefaultMaxProcesses*64 {
			b.Fatalf("%d ids, %d bytes: over the caps", m.Len(), m.Bytes())
		}
		if m.Evictions() != distinct-uint64(m.Len()) {
			b.Fatalf("%d evictions, want %d", m.Evictions(), distinct-m.Len())
		}
		b.ReportMetric(float64(m.Bytes())/(1<<20), "MiB")
		b.ReportMetric(float64(m.Len()), "ids")
	}
}
