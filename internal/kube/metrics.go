package kube

import "github.com/prometheus/client_golang/prometheus"

var (
	descFallbacks = prometheus.NewDesc("propwatch_kubernetes_name_fallbacks_total",
		"Processes in a container of no pod propwatch has listed (API server unreachable, or the pod not listed yet), named by their process name instead of their workload.",
		nil, nil)
	descAPIErrors = prometheus.NewDesc("propwatch_kubernetes_api_errors_total",
		"Failed lists and watches of the Kubernetes API server; capture goes on with the names already listed.",
		nil, nil)
	descUnindexed = prometheus.NewDesc("propwatch_kubernetes_unindexed_total",
		"Pods, Services, ReplicaSets and Jobs not indexed because their table was full (--kube-max-objects each).",
		nil, nil)
	descObjects = prometheus.NewDesc("propwatch_kubernetes_objects",
		"Kubernetes objects indexed for naming, by kind (pod, service, owner: ReplicaSets and Jobs).",
		[]string{"kind"}, nil)
	descSynced = prometheus.NewDesc("propwatch_kubernetes_synced",
		"1 once the first lists of pods, Services, ReplicaSets and Jobs arrived, else 0.",
		nil, nil)
)

// Describe implements prometheus.Collector.
func (c *Cluster) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descFallbacks, descAPIErrors, descUnindexed, descObjects, descSynced} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Cluster) Collect(ch chan<- prometheus.Metric) {
	s := c.Stats()
	ch <- prometheus.MustNewConstMetric(descFallbacks, prometheus.CounterValue, float64(s.Fallbacks))
	ch <- prometheus.MustNewConstMetric(descAPIErrors, prometheus.CounterValue, float64(s.APIErrors))
	ch <- prometheus.MustNewConstMetric(descUnindexed, prometheus.CounterValue, float64(s.Unindexed))
	ch <- prometheus.MustNewConstMetric(descObjects, prometheus.GaugeValue, float64(s.Pods), "pod")
	ch <- prometheus.MustNewConstMetric(descObjects, prometheus.GaugeValue, float64(s.Services), "service")
	ch <- prometheus.MustNewConstMetric(descObjects, prometheus.GaugeValue, float64(s.Owners), "owner")
	synced := 0.0
	if s.Synced {
		synced = 1
	}
	ch <- prometheus.MustNewConstMetric(descSynced, prometheus.GaugeValue, synced)
}
