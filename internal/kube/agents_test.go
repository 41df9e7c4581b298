package kube

import (
	"net/url"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAgentOf: a running pod is read through the pod proxy at its metrics
// port (9464 when none is named); others are not asked, and say why.
func TestAgentOf(t *testing.T) {
	base, _ := url.Parse("https://api.example:6443/prefix/")
	running := func(ports ...corev1.ContainerPort) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "propwatch", Name: "propwatch-x1"},
			Spec:       corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "propwatch", Ports: ports}}},
			Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.1.0.5"},
		}
	}
	for _, tc := range []struct {
		pod  *corev1.Pod
		want Agent
	}{
		{running(corev1.ContainerPort{Name: "http", ContainerPort: 80}, corev1.ContainerPort{Name: "metrics", ContainerPort: 9999}),
			Agent{Pod: "propwatch-x1", Node: "n1", ReportURL: "https://api.example:6443/prefix/api/v1/namespaces/propwatch/pods/propwatch-x1:9999/proxy/report"}},
		{running(),
			Agent{Pod: "propwatch-x1", Node: "n1", ReportURL: "https://api.example:6443/prefix/api/v1/namespaces/propwatch/pods/propwatch-x1:9464/proxy/report"}},
		{func() *corev1.Pod { p := running(); p.Status.Phase = corev1.PodPending; return p }(),
			Agent{Pod: "propwatch-x1", Node: "n1", NotReady: "pod is pending"}},
		{func() *corev1.Pod { p := running(); p.Status = corev1.PodStatus{}; return p }(),
			Agent{Pod: "propwatch-x1", Node: "n1", NotReady: "pod has no status"}},
		{func() *corev1.Pod { p := running(); p.Status.PodIP = ""; return p }(),
			Agent{Pod: "propwatch-x1", Node: "n1", NotReady: "pod has no IP"}},
	} {
		if got := agentOf(tc.pod, base); got != tc.want {
			t.Errorf("agentOf = %+v, want %+v", got, tc.want)
		}
	}
	if got := (Agent{Pod: "p"}).Label(); got != "node (no node) (pod p)" {
		t.Errorf("label %q", got)
	}
}
