package kube

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// BenchmarkAddress is the per-request lookup of a peer address.
func BenchmarkAddress(b *testing.B) {
	c, _ := newTestCluster(b, 0)
	for i := range 1000 {
		c.setPod(testPod("ns", fmt.Sprint("p", i), "node-2", fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), map[string]string{LabelApp: "web"}, nil))
	}
	ip := netip.MustParseAddr("10.0.1.7")
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Address(ip); !ok {
			b.Fatal("not found")
		}
	}
}

// BenchmarkIndexChurn: pods come and go (a new name and address each
// time) past the cap; the index's memory stays flat. It reports the heap
// after the churn as heap-bytes.
func BenchmarkIndexChurn(b *testing.B) {
	const live = 2048
	c, _ := newTestCluster(b, live)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := testPod("ns", fmt.Sprint("p", i), "node-2", netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String(), nil, nil)
		c.setPod(p)
		if i >= live/2 {
			c.deletePod(testPod("ns", fmt.Sprint("p", i-live/2), "", "", nil, nil))
		}
		i++
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc), "heap-bytes")
	if s := c.Stats(); s.Pods > live {
		b.Fatalf("%d pods indexed past the cap of %d", s.Pods, live)
	}
}

// BenchmarkSlimStore: the heap a store of 2,048 slimmed pods takes, as the
// pod informer keeps them, reported as heap-bytes-per-pod.
func BenchmarkSlimStore(b *testing.B) {
	const pods = 2048
	c, _ := newTestCluster(b, 0)
	var per float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		store := cache.NewStore(cache.MetaNamespaceKeyFunc)
		for i := range pods {
			p := withEnv(testPod("shop", fmt.Sprint("checkout-7d4b9c-", i), "node-1", fmt.Sprintf("10.0.%d.%d", i/250, i%250+1),
				map[string]string{LabelName: "checkout", "team": "a"}, controller(kindReplicaSet, "checkout-7d4b9c")), "app",
				corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: "checkout"})
			s, _ := c.slim(p)
			store.Add(s)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(after.HeapAlloc-before.HeapAlloc) / pods
		runtime.KeepAlive(store)
	}
	b.ReportMetric(per, "heap-bytes-per-pod")
}
