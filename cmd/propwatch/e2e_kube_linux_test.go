//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/propwatch/propwatch/internal/kubetest"
	"github.com/propwatch/propwatch/internal/privtest"
)

// The node the test's pods run on, as propwatch is told.
const kubeNode = "node-1"

// Addresses the test routes to its local server through DNAT, as
// kube-proxy routes a Service's cluster IP to a pod: a Service's cluster
// IP, and the pod IP of a pod on another node.
const (
	kubeServiceIP = "10.96.0.50"
	kubeRemoteIP  = "10.244.7.7"
	kubeNATPort   = 80
)

// kubePod is a test pod with one container, "app", on node.
func kubePod(name, node string, labels map[string]string, owners []metav1.OwnerReference, env ...corev1.EnvVar) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, OwnerReferences: owners},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{
			{Name: "app", Image: "registry.invalid/app:1", Env: env}}},
	}
}

func controlledBy(apiVersion, kind, name string) []metav1.OwnerReference {
	yes := true
	return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: "00000000-0000-0000-0000-000000000001", Controller: &yes}}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUID(t *testing.T) string {
	h := randomHex(t, 16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// inPod starts this test binary as a peer of role inside a container of
// the pod (its cgroup named as containerd names it), before it sends
// anything. A pod of nil is a container no pod was ever created for.
func inPod(t *testing.T, role string, pod *corev1.Pod, containerID string) *peer {
	t.Helper()
	uid := randomUID(t)
	if pod != nil {
		uid = string(pod.UID)
	}
	dir := kubetest.ContainerCgroup(t, uid, containerID)
	// No OTEL_SERVICE_NAME of its own: the pod names it.
	p := startPeer(t, role, "")
	if err := kubetest.Enter(p.cmd.Process.Pid, dir); err != nil {
		t.Fatal(err)
	}
	return p
}

// natTo routes TCP to ip:port on to the local address to, as kube-proxy
// does for cluster IPs, in an nftables table of the test's own.
func natTo(t *testing.T, to string, ips ...string) {
	t.Helper()
	table := fmt.Sprintf("propwatch_e2e_%d", os.Getpid())
	rules := fmt.Sprintf("table ip %s {\n chain out {\n  type nat hook output priority -100; policy accept;\n", table)
	for _, ip := range ips {
		rules += fmt.Sprintf("  ip daddr %s tcp dport %d dnat to %s\n", ip, kubeNATPort, to)
	}
	rules += " }\n}\n"
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("nft", "delete", "table", "ip", table).Run() })
}

// TestObserveKubernetes: propwatch, talking to a real API server, names
// the processes of pods on its node by their workloads and namespaces
// (through labels, owners and OpenTelemetry variables in the pod spec, in
// turn), a peer by its Service's cluster IP and by another node's pod IP,
// and goes on capturing when the API server stops, counting what it then
// names by process name. The DaemonSet manifest is admitted by the same
// API server.
func TestObserveKubernetes(t *testing.T) {
	privtest.RequireBPF(t)
	cp := kubetest.Start(t) // skips where there is no control plane: the kernel matrix's guests
	if _, err := exec.LookPath("nft"); err != nil {
		t.Fatal("nft (Debian nftables) routes cluster IPs in this test: apt-get install nftables")
	}
	bin := buildPropwatch(t)

	manifest, _ := filepath.Abs("../../deploy/daemonset.yaml")
	if out, err := cp.Kubectl("apply", "-f", manifest); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	if out, err := cp.Kubectl("get", "daemonset", "-n", "propwatch", "propwatch", "-o", "name"); err != nil || strings.TrimSpace(out) != "daemonset.apps/propwatch" {
		t.Fatalf("DaemonSet not admitted: %v %s", err, out)
	}

	// Three rounds, one naming rule each, in namespaces of their own, with
	// distinct request counts.
	type round struct {
		name             string
		requests         int
		checkout, inv    *corev1.Pod
		client, server   *peer
		clientID, servID string
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-6f7d8", OwnerReferences: controlledBy("apps/v1", "Deployment", "checkout")},
		Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"pod": "checkout"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"pod": "checkout"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
			},
		},
	}
	rounds := []*round{
		{name: "labels", requests: 3,
			checkout: kubePod("checkout-abc", kubeNode, map[string]string{"app.kubernetes.io/name": "checkout", "app": "wrong"}, nil),
			inv:      kubePod("inventory-xyz", kubeNode, map[string]string{"app": "inventory"}, nil)},
		{name: "owners", requests: 4,
			checkout: kubePod("checkout-6f7d8-q2w3e", kubeNode, nil, controlledBy("apps/v1", "ReplicaSet", "checkout-6f7d8")),
			inv:      kubePod("inventory-0", kubeNode, nil, controlledBy("apps/v1", "StatefulSet", "inventory"))},
		{name: "otel", requests: 5,
			checkout: kubePod("web-1", kubeNode, map[string]string{"app": "wrong"}, nil, corev1.EnvVar{Name: "OTEL_SERVICE_NAME", Value: "checkout"}),
			inv: kubePod("db-1", kubeNode, nil, nil,
				corev1.EnvVar{Name: "OTEL_RESOURCE_ATTRIBUTES", Value: "deployment.environment=test,service.name=inventory"})},
	}
	ctx := context.Background()
	for i, r := range rounds {
		shop, store := "shop-"+r.name, "store-"+r.name
		cp.Namespace(shop)
		cp.Namespace(store)
		if r.name == "owners" {
			if _, err := cp.Client().AppsV1().ReplicaSets(shop).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		r.clientID, r.servID = randomHex(t, 32), randomHex(t, 32)
		r.checkout = cp.RunningPod(shop, r.checkout, fmt.Sprintf("10.244.0.%d", 10+2*i), map[string]string{"app": r.clientID})
		r.inv = cp.RunningPod(store, r.inv, fmt.Sprintf("10.244.0.%d", 11+2*i), map[string]string{"app": r.servID})
	}
	// The Service, and a pod on another node, the test reaches through NAT.
	cp.Namespace("store-svc")
	cp.Service("store-svc", "inventory", kubeServiceIP, map[string]string{"app": "inventory"}, kubeNATPort)
	cp.Namespace("store-remote")
	cp.RunningPod("store-remote", kubePod("inventory-remote-1", "node-2", map[string]string{"app": "inventory"}, nil),
		kubeRemoteIP, map[string]string{"app": randomHex(t, 32)})

	for _, r := range rounds {
		r.server = inPod(t, "server", r.inv, r.servID)
		r.client = inPod(t, roleKubeClient, r.checkout, r.clientID)
	}
	labels := rounds[0]
	labelsAddr := labels.server.line(t)
	natTo(t, labelsAddr, kubeServiceIP, kubeRemoteIP)

	reportPath := filepath.Join(t.TempDir(), "report.json")
	metricsAddr := freePort(t)
	pw := startPropwatch(t, bin, "--quiet", "--report", reportPath, "--metrics-addr", metricsAddr,
		"--kubeconfig", cp.Kubeconfig(), "--node-name", kubeNode)
	metrics := "http://" + metricsAddr + "/metrics"
	waitMetric(t, metrics, "propwatch_kubernetes_synced 1")

	order := func(c *peer, n int, addr string) {
		t.Helper()
		fmt.Fprintf(c.stdin, "%d %s\n", n, addr)
		if got := c.line(t); got != "done" {
			t.Fatalf("client: %q", got)
		}
	}
	for i, r := range rounds {
		addr := labelsAddr
		if i > 0 {
			addr = r.server.line(t)
		}
		order(r.client, r.requests, addr)
	}
	const viaService, viaRemotePod, whileDown, afterDown = 6, 7, 2, 8
	order(labels.client, viaService, fmt.Sprintf("%s:%d", kubeServiceIP, kubeNATPort))
	order(labels.client, viaRemotePod, fmt.Sprintf("%s:%d", kubeRemoteIP, kubeNATPort))

	// The API server goes; capture does not. A pod already listed is
	// still named; a container no pod was listed for falls back.
	cp.Stop()
	order(labels.client, afterDown, labelsAddr)
	orphan := inPod(t, roleKubeClient, nil, randomHex(t, 32))
	order(orphan, whileDown, labelsAddr)
	waitMetric(t, metrics, "propwatch_kubernetes_name_fallbacks_total 1")
	// The informers find the API server gone at their next request.
	waitMetricFunc(t, metrics, "propwatch_kubernetes_api_errors_total at least 1", func(body string) bool {
		return strings.Contains(body, "\npropwatch_kubernetes_api_errors_total ") && !strings.Contains(body, "\npropwatch_kubernetes_api_errors_total 0\n")
	})
	scraped := scrape(t, metrics)
	pw.stop(t)

	_, rep, _ := pw.report(t, reportPath, "http", "")
	type key struct{ src, srcNS, dst, dstNS string }
	got := map[key]uint64{}
	for _, p := range rep.Pairs {
		if p.Protocol == "http" && (p.Destination == "inventory" || p.Source == "checkout") {
			got[key{p.Source, p.SourceNamespace, p.Destination, p.DestinationNamespace}] += p.Requests
		}
	}
	comm := filepath.Base(os.Args[0])
	if len(comm) > 15 {
		comm = comm[:15] // the kernel's comm
	}
	want := map[key]uint64{
		{"checkout", "shop-labels", "inventory", "store-labels"}: uint64(labels.requests + afterDown),
		{"checkout", "shop-owners", "inventory", "store-owners"}: uint64(rounds[1].requests),
		{"checkout", "shop-otel", "inventory", "store-otel"}:     uint64(rounds[2].requests),
		{"checkout", "shop-labels", "inventory", "store-svc"}:    viaService,
		{"checkout", "shop-labels", "inventory", "store-remote"}: viaRemotePod,
		{comm, "", "inventory", "store-labels"}:                  whileDown,
	}
	// The server's end of the NAT'd connections sees the client's host
	// address, which no conntrack lookup maps back (documented): a pair of
	// its own, not one of these.
	for k, n := range got {
		if k.src != "checkout" && k.srcNS == "" && k.src != comm {
			delete(got, k)
			t.Logf("NAT'd server side: %+v: %d", k, n)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pairs\n got %v\nwant %v", got, want)
	}
	if rep.NameFallbacks != 1 {
		t.Errorf("report name_fallbacks %d, want 1 (the container of no pod)", rep.NameFallbacks)
	}
	for _, line := range []string{
		fmt.Sprintf(`propwatch_requests_total{destination="inventory",destination_namespace="store-owners",protocol="http",source="checkout",source_namespace="shop-owners",tls="false"} %d`, rounds[1].requests),
		fmt.Sprintf(`propwatch_requests_total{destination="inventory",destination_namespace="store-svc",protocol="http",source="checkout",source_namespace="shop-labels",tls="false"} %d`, viaService),
		`propwatch_kubernetes_name_fallbacks_total 1`,
	} {
		if !strings.Contains(scraped, line) {
			t.Errorf("/metrics lacks %s", line)
		}
	}
	if n := strings.Count(pw.log.String(), "kubernetes: a process runs in a container of no pod listed"); n != 1 {
		t.Errorf("fallback logged %d times, want once:\n%s", n, pw.log.String())
	}
	if !strings.Contains(pw.log.String(), "kubernetes: API server unreachable") {
		t.Errorf("the API server's loss was not logged:\n%s", pw.log.String())
	}
}

// waitMetric polls url until its body holds line, for up to 30s.
func waitMetric(t *testing.T, url, line string) {
	t.Helper()
	waitMetricFunc(t, url, line, func(body string) bool { return strings.Contains(body, line) })
}

// waitMetricFunc polls url until ok(its body), for up to 30s.
func waitMetricFunc(t *testing.T, url, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var body []byte
	for {
		if resp, err := http.Get(url); err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if ok(string(body)) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed %s:\n%s", url, what, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
