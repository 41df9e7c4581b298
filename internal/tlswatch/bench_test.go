package tlswatch

import (
	"runtime"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/loader"
)

// BenchmarkPIDChurn starts and ends processes that map TLS files, 1000
// alive at a time, with a sweep every 1000: each op is one exec scan and
// one exit. heap-B is the live heap after the run: it stays flat whatever
// the number of processes that came and went (compare -benchtime=10000x
// with 1000000x); pids-peak is the pid table at its largest.
func BenchmarkPIDChurn(b *testing.B) {
	const window = 1000
	r := newRig(b, Config{Grace: time.Second, FullScanInterval: time.Hour})
	r.scan.set(1, libA) // a long-lived process keeps libA attached
	if err := r.w.Start(); err != nil {
		b.Fatal(err)
	}
	peak := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pid := uint32(1000 + i%(1<<22)) // pids wrap, as the kernel's do
		target := libA
		if i%2 == 1 {
			target = goExe
		}
		r.scan.set(int(pid), target)
		r.w.scanPID(pid)
		if i >= window {
			old := uint32(1000 + (i-window)%(1<<22))
			r.scan.exit(int(old))
			r.w.notice(loader.ProcEvent{TGID: old})
		}
		if i%window == 0 {
			r.w.mu.Lock()
			peak = max(peak, len(r.w.pids))
			r.w.mu.Unlock()
			r.clk.add(2 * time.Second)
			r.w.sweep()
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc), "heap-B")
	b.ReportMetric(float64(peak), "pids-peak")
	if s := r.w.Stats(); s.PIDs > window+1 || s.Attached > 2+uint64(b.N/window) {
		b.Errorf("stats %+v", s)
	}
}
