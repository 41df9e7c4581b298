// Package kubetest runs a real Kubernetes control plane for tests: etcd
// (Debian's etcd-server) and kube-apiserver (built by
// kube/controlplane.sh into the cache) on free loopback ports, with
// clients for it (a clientset, a kubeconfig, kubectl), helpers that make
// the objects a node would have (namespaces, running pods, Services), and
// cgroups named the way containerd names a container's, to put test
// processes in.
//
// There is no controller manager, scheduler or kubelet: objects are stored
// and admitted, and nothing acts on them. A pod "runs" when RunningPod
// says so.
//
// Tests that need it skip when etcd or the cached kube-apiserver is
// missing (or, for the cgroups, when not root), unless
// PROPWATCH_REQUIRE_KUBE=1 (make test under .ci/run) turns the skip into
// a failure, as privtest does for eBPF.
package kubetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// EnvRequire is the environment variable that turns a skip into a failure
// when set to "1".
const EnvRequire = "PROPWATCH_REQUIRE_KUBE"

// Version is the kube-apiserver release kube/controlplane.sh builds (its
// VERSION): client-go and k8s.io/api are the matching v0 release.
const Version = "v1.37.2"

// Deadlines. kube-apiserver is ready 2.4 to 3.2 s after etcd on these
// 2-core machines; the margin is for a loaded one.
const (
	etcdReadyTimeout      = 30 * time.Second
	apiServerReadyTimeout = 2 * time.Minute
	stopTimeout           = 10 * time.Second
	kubectlTimeout        = 2 * time.Minute
)

// APIServerPath is where kube/controlplane.sh puts kube-apiserver:
// ${PROPWATCH_CACHE:-/var/cache/propwatch}/kube-apiserver-<Version>.
func APIServerPath() string {
	dir := os.Getenv("PROPWATCH_CACHE")
	if dir == "" {
		dir = "/var/cache/propwatch"
	}
	return filepath.Join(dir, "kube-apiserver-"+Version)
}

// skipOrFail skips t with msg, or fails it when PROPWATCH_REQUIRE_KUBE=1.
func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(EnvRequire) == "1" {
		t.Fatalf("%s (%s=1: this test must run, not skip)", msg, EnvRequire)
		return
	}
	t.Skip(msg)
}

// binaries finds etcd and kube-apiserver, or says what is missing and how
// to get it.
func binaries() (etcd, apiServer, missing string) {
	var why []string
	etcd, err := exec.LookPath("etcd")
	if err != nil {
		why = append(why, "no etcd (apt-get install etcd-server)")
	}
	apiServer = APIServerPath()
	if fi, err := os.Stat(apiServer); err != nil || fi.Mode()&0o111 == 0 {
		why = append(why, "no "+apiServer+" (make kube-apiserver)")
	}
	if len(why) > 0 {
		return "", "", "needs a Kubernetes control plane: " + strings.Join(why, ", ")
	}
	return etcd, apiServer, ""
}

// ControlPlane is a running etcd and kube-apiserver, stopped when the test
// that started it ends. Its helpers fail that test on error (t.Fatalf),
// so call them from its goroutine, not from a subtest's.
type ControlPlane struct {
	t          testing.TB
	dir        string
	url        string
	token      string
	kubeconfig string
	config     *rest.Config
	client     kubernetes.Interface
	etcd       *process
	apiServer  *process
}

// Start starts etcd and kube-apiserver in t.TempDir() on free loopback
// ports and returns once the API server is ready (/readyz), about 3 s.
// Both stop when t ends. It skips t when etcd or kube-apiserver is
// missing, or fails it with PROPWATCH_REQUIRE_KUBE=1.
func Start(t testing.TB) *ControlPlane {
	t.Helper()
	etcdPath, apiServerPath, missing := binaries()
	if missing != "" {
		skipOrFail(t, missing)
		return nil
	}
	begin := time.Now()
	cp := &ControlPlane{t: t, dir: t.TempDir()}
	// Registered after TempDir's removal, so it runs before it.
	t.Cleanup(cp.cleanup)

	ports, err := freePorts(3)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	cp.url = "https://127.0.0.1:" + strconv.Itoa(ports[2])

	cp.etcd, err = startProcess(cp.dir, "etcd", etcdPath,
		"--name=default",
		"--data-dir="+filepath.Join(cp.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	plain := &http.Client{Timeout: 2 * time.Second}
	if err := waitReady(plain, etcdURL+"/health", "", cp.etcd, etcdReadyTimeout); err != nil {
		t.Fatalf("kubetest: etcd: %v\n%s", err, cp.etcd.tail())
	}
	etcdReady := time.Since(begin)

	if err := cp.writeCredentials(); err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	cp.apiServer, err = startProcess(cp.dir, "kube-apiserver", apiServerPath,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1", "--secure-port="+strconv.Itoa(ports[2]),
		"--cert-dir="+filepath.Join(cp.dir, "certs"),
		"--token-auth-file="+filepath.Join(cp.dir, "tokens.csv"),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+filepath.Join(cp.dir, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(cp.dir, "sa.key"),
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.96.0.0/16")
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	insecure := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the server's self-signed certificate
	}}
	if err := waitReady(insecure, cp.url+"/readyz", cp.token, cp.apiServer, apiServerReadyTimeout); err != nil {
		t.Fatalf("kubetest: kube-apiserver: %v\n%s", err, cp.apiServer.tail())
	}

	if err := cp.writeKubeconfig(); err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	cp.config, err = clientcmd.BuildConfigFromFlags("", cp.kubeconfig)
	if err != nil {
		t.Fatalf("kubetest: the kubeconfig: %v", err)
	}
	// Tests make objects in bursts; client-go's default 5 requests a
	// second would pace them.
	cp.config.QPS, cp.config.Burst = 100, 200
	cp.client, err = kubernetes.NewForConfig(cp.config)
	if err != nil {
		t.Fatalf("kubetest: clientset: %v", err)
	}
	t.Logf("kubetest: control plane ready in %v (etcd %v) at %s", time.Since(begin).Round(time.Millisecond), etcdReady.Round(time.Millisecond), cp.url)
	return cp
}

// URL is the API server's address, https://127.0.0.1:PORT (a self-signed
// certificate).
func (cp *ControlPlane) URL() string { return cp.url }

// Token is a bearer token of a cluster administrator (system:masters).
func (cp *ControlPlane) Token() string { return cp.token }

// Kubeconfig is the path of a kubeconfig file for the API server, with
// the administrator's token and insecure-skip-tls-verify.
func (cp *ControlPlane) Kubeconfig() string { return cp.kubeconfig }

// RESTConfig is a client configuration for the API server, read from
// Kubeconfig. Callers may change their copy (rest.CopyConfig).
func (cp *ControlPlane) RESTConfig() *rest.Config { return rest.CopyConfig(cp.config) }

// Client is a clientset for the API server.
func (cp *ControlPlane) Client() kubernetes.Interface { return cp.client }

// Kubectl runs kubectl (Debian's kubectl) with args against the API
// server and returns its standard output; the error carries its standard
// error. It skips the test when kubectl is missing (fails it with
// PROPWATCH_REQUIRE_KUBE=1).
func (cp *ControlPlane) Kubectl(args ...string) (string, error) {
	cp.t.Helper()
	path, err := exec.LookPath("kubectl")
	if err != nil {
		skipOrFail(cp.t, "needs kubectl (apt-get install kubectl)")
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{
		"--kubeconfig=" + cp.kubeconfig,
		"--cache-dir=" + filepath.Join(cp.dir, "kubectl-cache"), // not ~/.kube/cache
	}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// Stop kills the API server (etcd goes on), as a crash or a partition
// ends it: requests fail from then on. (A graceful shutdown would wait
// for the open watches of the test's clients.) Start's cleanup stops it
// too; Stop is for a test that goes on without it.
func (cp *ControlPlane) Stop() {
	cp.t.Helper()
	if err := cp.apiServer.kill(); err != nil {
		cp.t.Errorf("kubetest: killing kube-apiserver: %v", err)
	}
}

// cleanup stops both, the API server first, and shows their logs when
// the test failed.
func (cp *ControlPlane) cleanup() {
	for _, p := range []*process{cp.apiServer, cp.etcd} {
		if p == nil {
			continue
		}
		if err := p.stop(); err != nil {
			cp.t.Errorf("kubetest: stopping %s: %v", p.name, err)
		}
		if cp.t.Failed() {
			cp.t.Logf("kubetest: %s", p.tail())
		}
	}
}

// writeCredentials writes the token file (a random token of a member of
// system:masters) and the service account signing key pair.
func (cp *ControlPlane) writeCredentials() error {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	cp.token = hex.EncodeToString(b[:])
	if err := os.WriteFile(filepath.Join(cp.dir, "tokens.csv"), []byte(cp.token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cp.dir, "sa.key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cp.dir, "sa.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644)
}

func (cp *ControlPlane) writeKubeconfig() error {
	const name = "propwatch-test"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: cp.url, InsecureSkipTLSVerify: true}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: cp.token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	cp.kubeconfig = filepath.Join(cp.dir, "kubeconfig")
	return clientcmd.WriteToFile(*cfg, cp.kubeconfig)
}

// freePorts returns n distinct loopback TCP ports that were free a moment
// ago (held together, so they differ).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("a free loopback port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls url until it answers 200, proc ends, or timeout passes.
func waitReady(client *http.Client, url, token string, proc *process, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastErr := errors.New("no answer yet")
	for time.Now().Before(deadline) {
		select {
		case <-proc.done:
			return fmt.Errorf("exited before it was ready: %v", proc.err)
		default:
		}
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			body := readSome(resp)
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s: %s: %s", url, resp.Status, body)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", timeout, lastErr)
}

// readSome reads the start of a response's body and closes it.
func readSome(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return strings.TrimSpace(string(b))
}

// process is a child process whose output goes to a log file.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{} // closed when it has exited; err is set then
	err  error
}

func startProcess(dir, name, path string, args ...string) (*process, error) {
	p := &process{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = sysProcAttr()
	started := make(chan error)
	go func() {
		// The parent-death signal comes when the thread that started
		// the child ends, not the process: a test that locks its
		// goroutine to a thread (setns) and returns ends that thread.
		// This goroutine keeps its own thread until the child has
		// exited, and the thread goes with it (never unlocked).
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return p, nil
}

// stop ends the process, politely first; stopping a stopped process does
// nothing.
func (p *process) stop() error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return fmt.Errorf("did not end %v after SIGTERM: killed", stopTimeout)
}

// kill ends the process at once; killing a stopped process does nothing.
func (p *process) kill() error {
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-p.done
	return nil
}

// tail is the end of the process's log, for a failure message.
func (p *process) tail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("%s: %v", p.log, err)
	}
	const max = 4 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return fmt.Sprintf("---- the end of %s ----\n%s", p.log, b)
}
