package kube

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/propwatch/propwatch/internal/identity"
)

const (
	testUID = "0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b"
	cidA    = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	cidB    = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// newTestCluster is a Cluster fed by hand, with a /proc of its own.
func newTestCluster(t testing.TB, maxObjects int) (*Cluster, string) {
	t.Helper()
	root := t.TempDir()
	c, err := NewForConfig(Config{ProcRoot: root, NodeName: "node-1", MaxObjects: maxObjects}, &rest.Config{Host: "https://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return c, root
}

// inContainer lays out /proc/PID/cgroup of a process in container id of
// the pod, as containerd's systemd driver names it.
func inContainer(t *testing.T, root string, pid int, uid, id string) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	os.MkdirAll(dir, 0o755)
	path := fmt.Sprintf("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/cri-containerd-%s.scope\n",
		strings.ReplaceAll(uid, "-", "_"), id)
	if err := os.WriteFile(filepath.Join(dir, "cgroup"), []byte(path), 0o600); err != nil {
		t.Fatal(err)
	}
}

func controller(kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{Kind: kind, Name: name, Controller: &yes}}
}

func testPod(ns, name, node, ip string, labels map[string]string, owners []metav1.OwnerReference) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(testUID), Labels: labels, OwnerReferences: owners},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app"}, {Name: "sidecar"}}},
		Status: corev1.PodStatus{PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", ContainerID: "containerd://" + cidA}, {Name: "sidecar", ContainerID: "containerd://" + cidB}}},
	}
}

// TestServiceOf: the naming rules in their order, each shown winning over
// the ones after it.
func TestServiceOf(t *testing.T) {
	owners := map[ownerKey]ownerRef{
		{"shop", kindReplicaSet, "checkout-7d4b9c"}: {kindDeployment, "checkout"},
		{"shop", kindReplicaSet, "bare-rs"}:         {},
		{"shop", kindJob, "report-29000000"}:        {kindCronJob, "report"},
		{"shop", kindJob, "once"}:                   {},
	}
	env := []corev1.EnvVar{{Name: "OTEL_RESOURCE_ATTRIBUTES", Value: "service.name=from-attrs"}}
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		container string
		want      string
	}{
		{"OTEL_SERVICE_NAME of the container", withEnv(testPod("shop", "p", "", "", map[string]string{LabelName: "lbl"}, nil), "app",
			corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: "svc-env"}), "app", "svc-env"},
		{"another container's variables are not this one's", withEnv(testPod("shop", "p", "", "", map[string]string{LabelName: "lbl"}, nil), "sidecar",
			corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: "svc-env"}), "app", "lbl"},
		{"service.name in OTEL_RESOURCE_ATTRIBUTES", withEnv(testPod("shop", "p", "", "", nil, nil), "app", env...), "app", "from-attrs"},
		{"app.kubernetes.io/name over app", testPod("shop", "p", "", "", map[string]string{LabelName: "lbl", LabelApp: "app-lbl"}, nil), "app", "lbl"},
		{"app label", testPod("shop", "p", "", "", map[string]string{LabelApp: "app-lbl"}, controller(kindReplicaSet, "checkout-7d4b9c")), "app", "app-lbl"},
		{"Deployment through its ReplicaSet", testPod("shop", "p", "", "", nil, controller(kindReplicaSet, "checkout-7d4b9c")), "app", "checkout"},
		{"Deployment from the template hash while its ReplicaSet is unknown", testPod("shop", "p", "", "",
			map[string]string{labelTemplateHash: "5f6d7"}, controller(kindReplicaSet, "cart-5f6d7")), "app", "cart"},
		{"a ReplicaSet of its own", testPod("shop", "p", "", "", nil, controller(kindReplicaSet, "bare-rs")), "app", "bare-rs"},
		{"StatefulSet", testPod("shop", "db-0", "", "", nil, controller("StatefulSet", "db")), "app", "db"},
		{"DaemonSet", testPod("shop", "agent-x", "", "", nil, controller("DaemonSet", "agent")), "app", "agent"},
		{"CronJob through its Job", testPod("shop", "p", "", "", nil, controller(kindJob, "report-29000000")), "app", "report"},
		{"a Job of its own", testPod("shop", "p", "", "", nil, controller(kindJob, "once")), "app", "once"},
		{"pod name", testPod("shop", "lonely", "", "", nil, nil), "app", "lonely"},
	} {
		if got := newPodInfo(tc.pod, "").serviceOf(tc.container, owners); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func withEnv(p *corev1.Pod, container string, env ...corev1.EnvVar) *corev1.Pod {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == container {
			p.Spec.Containers[i].Env = env
		}
	}
	return p
}

// TestIndex: processes by their container and pod, addresses by pod IP
// and cluster IP; updates and deletions move and free entries; an
// unknown container is a counted fallback, a host process is not.
func TestIndex(t *testing.T) {
	c, root := newTestCluster(t, 0)
	pod := withEnv(testPod("shop", "inventory-abc", "node-1", "10.1.0.5", nil, controller(kindReplicaSet, "inventory-7d4")), "sidecar",
		corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: "mesh"})
	c.setPod(pod)
	c.ownerHandlers(kindReplicaSet).OnAdd(&metav1.PartialObjectMetadata{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "inventory-7d4", OwnerReferences: controller(kindDeployment, "inventory")}}, true)
	c.setService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "inventory-svc"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20", "fd00::20"}}})

	inContainer(t, root, 100, testUID, cidA)
	inContainer(t, root, 101, testUID, cidB)
	inContainer(t, root, 102, testUID, strings.Repeat("c", 64)) // status not yet updated: found by pod uid
	inContainer(t, root, 103, "11111111-2222-3333-4444-555555555555", strings.Repeat("d", 64))
	os.MkdirAll(filepath.Join(root, "104"), 0o755)
	os.WriteFile(filepath.Join(root, "104", "cgroup"), []byte("0::/system.slice/sshd.service\n"), 0o600)

	for _, tc := range []struct {
		pid  uint32
		env  string
		want identity.Name
		ok   bool
	}{
		{100, "", identity.Name{Service: "inventory", Namespace: "shop"}, true},
		{100, "from-proc", identity.Name{Service: "from-proc", Namespace: "shop"}, true},
		{101, "", identity.Name{Service: "mesh", Namespace: "shop"}, true},
		{102, "", identity.Name{Service: "mesh", Namespace: "shop"}, true}, // any container's variables
		{103, "", identity.Name{}, false},
		{104, "", identity.Name{}, false},
		{105, "", identity.Name{}, false}, // gone
	} {
		if got, ok := c.Process(tc.pid, tc.env); got != tc.want || ok != tc.ok {
			t.Errorf("pid %d env %q: %+v %v, want %+v %v", tc.pid, tc.env, got, ok, tc.want, tc.ok)
		}
	}
	if s := c.Stats(); s.Fallbacks != 1 || s.Pods != 1 || s.Services != 1 || s.Owners != 1 {
		t.Errorf("stats %+v, want 1 fallback (pid 103) and one of each object", s)
	}

	for ip, want := range map[string]identity.Name{
		"10.1.0.5":        {Service: "mesh", Namespace: "shop"},
		"::ffff:10.1.0.5": {Service: "mesh", Namespace: "shop"},
		"10.96.0.20":      {Service: "inventory-svc", Namespace: "shop"},
		"fd00::20":        {Service: "inventory-svc", Namespace: "shop"},
		"10.1.0.6":        {},
		"192.0.2.1":       {},
	} {
		got, ok := c.Address(netip.MustParseAddr(ip))
		if got != want || ok != (want != identity.Name{}) {
			t.Errorf("address %s: %+v %v, want %+v", ip, got, ok, want)
		}
	}

	// The pod moves to another address and loses its sidecar's variables.
	moved := testPod("shop", "inventory-abc", "node-1", "10.1.0.9", nil, controller(kindReplicaSet, "inventory-7d4"))
	c.setPod(moved)
	if _, ok := c.Address(netip.MustParseAddr("10.1.0.5")); ok {
		t.Error("old pod IP still named")
	}
	if n, _ := c.Address(netip.MustParseAddr("10.1.0.9")); n.Service != "inventory" {
		t.Errorf("new pod IP: %+v", n)
	}
	c.deletePod(moved)
	c.deleteService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "inventory-svc"}})
	if _, ok := c.Process(100, ""); ok {
		t.Error("deleted pod's container still named")
	}
	if _, ok := c.Address(netip.MustParseAddr("10.96.0.20")); ok {
		t.Error("deleted Service still named")
	}
	if s := c.Stats(); s.Pods != 0 || s.Services != 0 || len(c.podIPs) != 0 || len(c.containers) != 0 || len(c.byUID) != 0 || len(c.serviceIPs) != 0 {
		t.Errorf("after deletion: %+v, maps %d %d %d %d", s, len(c.podIPs), len(c.containers), len(c.byUID), len(c.serviceIPs))
	}
}

// TestIndexOtherNode: another node's pod names its address, never a
// process here; a host-network pod's address is its node's, not named.
func TestIndexOtherNode(t *testing.T) {
	c, root := newTestCluster(t, 0)
	c.setPod(testPod("shop", "web-1", "node-2", "10.2.0.7", map[string]string{LabelApp: "web"}, nil))
	hostNet := testPod("kube-system", "proxy", "node-2", "192.168.1.2", map[string]string{LabelApp: "proxy"}, nil)
	hostNet.UID = "other"
	hostNet.Spec.HostNetwork = true
	c.setPod(hostNet)
	inContainer(t, root, 200, testUID, cidA)
	if _, ok := c.Process(200, ""); ok {
		t.Error("a container of another node's pod named a process here")
	}
	if n, ok := c.Address(netip.MustParseAddr("10.2.0.7")); !ok || n != (identity.Name{Service: "web", Namespace: "shop"}) {
		t.Errorf("other node's pod: %+v %v", n, ok)
	}
	if _, ok := c.Address(netip.MustParseAddr("192.168.1.2")); ok {
		t.Error("host-network pod's node address named after the pod")
	}
}

// TestIndexCap: past MaxObjects new objects are counted, not indexed; a
// deletion makes room; updates of indexed ones always apply.
func TestIndexCap(t *testing.T) {
	c, _ := newTestCluster(t, 2)
	for i := range 5 {
		p := testPod("ns", fmt.Sprint("p", i), "node-2", fmt.Sprint("10.0.0.", i+1), nil, nil)
		c.setPod(p)
	}
	if s := c.Stats(); s.Pods != 2 || s.Unindexed != 3 {
		t.Fatalf("stats %+v", s)
	}
	c.setPod(testPod("ns", "p0", "node-2", "10.0.0.100", nil, nil))
	if _, ok := c.Address(netip.MustParseAddr("10.0.0.100")); !ok {
		t.Error("update of an indexed pod not applied at the cap")
	}
	c.deletePod(testPod("ns", "p1", "", "", nil, nil))
	c.setPod(testPod("ns", "p4", "node-2", "10.0.0.5", nil, nil))
	if _, ok := c.Address(netip.MustParseAddr("10.0.0.5")); !ok {
		t.Error("room made by a deletion not used")
	}
}

// TestSlim: what the informers store of a pod is its key and what naming
// reads, which names it as the whole object does, and nothing of the
// rest (an unrelated label, a secret in the environment, annotations).
func TestSlim(t *testing.T) {
	c, _ := newTestCluster(t, 0)
	p := withEnv(testPod("shop", "p", "node-1", "10.1.0.5", map[string]string{LabelName: "lbl", "team": "x", labelTemplateHash: "h"},
		controller(kindReplicaSet, "rs-h")), "app",
		corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: "svc"}, corev1.EnvVar{Name: "DB_PASSWORD", Value: "hunter2"},
		corev1.EnvVar{Name: "OTEL_RESOURCE_ATTRIBUTES", ValueFrom: &corev1.EnvVarSource{}})
	p.ResourceVersion = "42"
	p.Annotations = map[string]string{"big": strings.Repeat("x", 1000)}
	out, err := c.slim(p)
	if err != nil {
		t.Fatal(err)
	}
	s := out.(*storedPod)
	if s.Name != "p" || s.Namespace != "shop" || s.ResourceVersion != "42" || s.Annotations != nil || s.Labels != nil {
		t.Errorf("stored metadata %+v", s.ObjectMeta)
	}
	if got := fmt.Sprintf("%+v", *s.info); strings.Contains(got, "hunter2") || strings.Contains(got, "team") {
		t.Errorf("stored pod kept too much: %s", got)
	}
	if s.info.serviceOf("app", nil) != "svc" || s.info.serviceOf("sidecar", nil) != "lbl" {
		t.Errorf("stored pod names %q / %q", s.info.serviceOf("app", nil), s.info.serviceOf("sidecar", nil))
	}
	c.setPod(out)
	if n, ok := c.Address(netip.MustParseAddr("10.1.0.5")); !ok || n.Service != "svc" { // a container's variables name the pod
		t.Errorf("stored pod indexed as %+v %v", n, ok)
	}
	c.deletePod(out)
	if _, ok := c.Address(netip.MustParseAddr("10.1.0.5")); ok {
		t.Error("stored pod not deleted")
	}
	svc, _ := c.slim(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9", ClusterIPs: []string{"10.96.0.9"}}})
	if ss := svc.(*storedService); len(ss.ips) != 1 || ss.ips[0] != netip.MustParseAddr("10.96.0.9") {
		t.Errorf("stored service %+v", ss)
	}
}
