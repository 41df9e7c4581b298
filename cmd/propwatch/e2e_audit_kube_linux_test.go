//go:build linux

package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/propwatch/propwatch/internal/kubetest"
	"github.com/propwatch/propwatch/internal/privtest"
	"github.com/propwatch/propwatch/internal/report"
)

// hostAddr is an address of this host the API server may proxy to: its
// pod proxy refuses loopback addresses.
func hostAddr(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatal("no non-loopback IPv4 address on this host")
	return ""
}

// listenOn serves h on ip at a free port and returns the port.
func listenOn(t *testing.T, ip string, h http.Handler) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// auditorKubeconfig makes a ServiceAccount bound to nothing but the
// manifest's opt-in Role propwatch-audit and returns a kubeconfig file
// with its token: the audit must work with exactly that.
func auditorKubeconfig(t *testing.T, cp *kubetest.ControlPlane) string {
	t.Helper()
	ctx := context.Background()
	c := cp.Client()
	sa, err := c.CoreV1().ServiceAccounts("propwatch").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "auditor"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "auditor"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "propwatch-audit"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: "propwatch"}},
	}
	if _, err := c.RbacV1().RoleBindings("propwatch").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CoreV1().ServiceAccounts("propwatch").CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "auditor.kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: auditor, user: {token: %q}}]
contexts: [{name: test, context: {cluster: test, user: auditor}}]
current-context: test
`, cp.URL(), tok.Status.Token)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditKubeconfig: `propwatch audit --kubeconfig` finds the agents'
// pods through a real API server, as an identity that holds only the
// manifest's opt-in audit Role, and reads each one's /report through the
// API server's pod proxy: a real agent watching traffic on this host, two
// agents serving other nodes' reports, one whose port does not answer and
// one whose pod is not running. The merge sums exactly and names the two
// nodes that did not answer.
func TestAuditKubeconfig(t *testing.T) {
	privtest.RequireBPF(t)
	cp := kubetest.Start(t)
	bin := buildPropwatch(t)
	manifest, _ := filepath.Abs("../../deploy/daemonset.yaml")
	if out, err := cp.Kubectl("apply", "-f", manifest); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	cp.Namespace("propwatch") // its default ServiceAccount: no controller manager makes it
	kubeconfig := auditorKubeconfig(t, cp)
	ip := hostAddr(t)

	tag := fmt.Sprintf("%06x", rand.Uint32()&0xffffff)
	svc := func(name string) string { return "e2e-kaudit-" + name + "-" + tag }
	server := startPeer(t, "server", svc("inventory"))
	addr := server.line(t)
	liveAddr := net.JoinHostPort(ip, strconv.Itoa(freeTCPPort(t, ip)))
	pw := startPropwatch(t, bin, "--quiet", "--metrics-addr", liveAddr)
	client := startPeer(t, "client", svc("checkout"), "PEER_ADDR="+addr)
	if got := client.line(t); got != "done" {
		t.Fatalf("client peer: %q", got)
	}
	time.Sleep(time.Second) // the last requests through the ring buffer

	reports := fleet(t)
	_, livePort, _ := net.SplitHostPort(liveAddr)
	ports := map[string]string{
		"agent-live": livePort,
		"agent-a":    strconv.Itoa(listenOn(t, ip, report.HandlerWithReport(func() report.Report { return reports[0] }))),
		"agent-b":    strconv.Itoa(listenOn(t, ip, report.HandlerWithReport(func() report.Report { return reports[1] }))),
		"agent-down": strconv.Itoa(freeTCPPort(t, ip)),
	}
	nodes := map[string]string{"agent-live": "node-1", "agent-a": "node-a", "agent-b": "node-b", "agent-down": "node-d", "agent-pending": "node-e"}
	ctx := context.Background()
	for _, name := range []string{"agent-live", "agent-a", "agent-b", "agent-down", "agent-pending"} {
		port, _ := strconv.Atoi(ports[name])
		if port == 0 {
			port = 9464
		}
		pod := kubePod(name, nodes[name], map[string]string{"app.kubernetes.io/name": "propwatch"}, nil)
		pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: int32(port)}}
		if name == "agent-pending" {
			if _, err := cp.Client().CoreV1().Pods("propwatch").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		cp.RunningPod("propwatch", pod, ip, map[string]string{"app": randomHex(t, 32)})
	}
	// Not an agent: another label.
	cp.RunningPod("propwatch", kubePod("other", "node-1", map[string]string{"app": "other"}, nil), ip, map[string]string{"app": randomHex(t, 32)})

	page := filepath.Join(t.TempDir(), "audit.html")
	code, out, errOut := runCLI(t, nil, "audit", "--json", "--html", page, "--kubeconfig", kubeconfig)
	if code != exitProblem {
		t.Fatalf("audit: exit %d, want %d (two agents did not answer): %s", code, exitProblem, errOut)
	}
	for _, want := range []string{
		"node node-d (pod agent-down) did not answer: HTTP 503",
		"node node-e (pod agent-pending) did not answer: pod is pending",
		"audit: 2 of 5 inputs did not answer",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	merged, err := report.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	want := []string{host, "node-a", "node-b"}
	slices.Sort(want)
	if !slices.Equal(merged.Hosts, want) {
		t.Errorf("hosts %v, want %v", merged.Hosts, want)
	}
	var live, web report.ReportPair
	for _, p := range merged.Pairs {
		switch {
		case p.Source == svc("checkout") && p.Destination == svc("inventory"):
			live = p
		case p.Source == "web" && p.Destination == "checkout":
			web = p
		}
	}
	for what, got := range map[string][2]uint64{
		"agent pair requests":         {live.Requests, mixRequests},
		"agent pair missing_context":  {live.MissingContext, mixMissing},
		"agent pair invalid_context":  {live.InvalidContext, mixInvalid},
		"agent pair pii email":        {live.PIIByKind["email"], mixPII},
		"web -> checkout requests":    {web.Requests, 6},
		"web -> checkout missing_ctx": {web.MissingContext, 1},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %d, want %d", what, got[0], got[1])
		}
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`data-input="node node-d (pod agent-down)"`, `data-input="node node-e (pod agent-pending)"`, `data-source="` + svc("checkout") + `"`} {
		if !strings.Contains(string(html), want) {
			t.Errorf("page lacks %s", want)
		}
	}
	for name, text := range map[string]string{"json": out, "html": string(html), "stderr": errOut} {
		for _, planted := range []string{plantedEmail, "planted.canary", plantedCard, "4BF92F35"} {
			if strings.Contains(text, planted) {
				t.Errorf("audit %s contains planted value %q", name, planted)
			}
		}
	}
	pw.stop(t)
}

// freeTCPPort is a port free on ip now.
func freeTCPPort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
