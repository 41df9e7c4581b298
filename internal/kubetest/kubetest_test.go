package kubetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/propwatch/propwatch/internal/kube"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	testPodUID      = "5c1f7e0a-9b2d-4c3e-8f4a-6d7b8c9e0f1a"
	testContainerID = "4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b"
)

// TestControlPlane: objects made through the helpers read back through
// the clientset and kubectl, the DaemonSet manifest is admitted, and with
// the API server stopped requests fail.
func TestControlPlane(t *testing.T) {
	begin := time.Now()
	cp := Start(t)
	t.Logf("Start took %v", time.Since(begin).Round(time.Millisecond))
	ctx := context.Background()

	cp.Namespace("shop")
	cp.Namespace("default") // the API server's own: its ServiceAccount only
	if _, err := cp.Client().CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Errorf("the default namespace's ServiceAccount: %v", err)
	}
	isController := true
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:   "checkout-7d9f8b6c5-x2x4q",
			Labels: map[string]string{"app.kubernetes.io/name": "checkout"},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "checkout-7d9f8b6c5",
				UID: "0e2a4c6e-8a0c-4e2a-9c4e-6a8c0e2a4c6e", Controller: &isController,
			}},
		},
		Spec: corev1.PodSpec{
			NodeName:   "node-a",
			Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}},
		},
	}
	running := cp.RunningPod("shop", pod, "10.1.0.5", map[string]string{"app": testContainerID})
	svc := cp.Service("shop", "checkout", "10.96.0.20", map[string]string{"app.kubernetes.io/name": "checkout"}, 8080)

	got, err := cp.Client().CoreV1().Pods("shop").Get(ctx, pod.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.UID != running.UID || got.Spec.NodeName != "node-a" || got.Status.Phase != corev1.PodRunning || got.Status.PodIP != "10.1.0.5" ||
		len(got.Status.ContainerStatuses) != 1 || got.Status.ContainerStatuses[0].ContainerID != "containerd://"+testContainerID ||
		len(got.OwnerReferences) != 1 || got.OwnerReferences[0].Kind != "ReplicaSet" {
		t.Errorf("pod read back: uid %s node %q phase %s ip %q statuses %+v owners %+v",
			got.UID, got.Spec.NodeName, got.Status.Phase, got.Status.PodIP, got.Status.ContainerStatuses, got.OwnerReferences)
	}
	// What a node's informer asks for: its pods by field selector.
	pods, err := cp.Client().CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"})
	if err != nil || len(pods.Items) != 1 {
		t.Errorf("pods of node-a: %v, %v", pods, err)
	}
	if s, err := cp.Client().CoreV1().Services("shop").Get(ctx, "checkout", metav1.GetOptions{}); err != nil || s.Spec.ClusterIP != "10.96.0.20" || s.Spec.Ports[0].Port != 8080 {
		t.Errorf("service read back: %+v, %v", s, err)
	}
	if svc.Spec.ClusterIP != "10.96.0.20" {
		t.Errorf("Service returned cluster IP %q", svc.Spec.ClusterIP)
	}

	out, err := cp.Kubectl("get", "pod", "-n", "shop", pod.Name, "-o", "jsonpath={.status.podIP} {.status.containerStatuses[0].containerID}")
	if err != nil || out != "10.1.0.5 containerd://"+testContainerID {
		t.Errorf("kubectl get pod: %q, %v", out, err)
	}
	out, err = cp.Kubectl("get", "service", "-n", "shop", "checkout", "-o", "jsonpath={.spec.clusterIP}")
	if err != nil || out != "10.96.0.20" {
		t.Errorf("kubectl get service: %q, %v", out, err)
	}

	// The DaemonSet manifest, applied as the README says, is admitted
	// whole: every object of it is stored.
	manifest := filepath.Join("..", "..", "deploy", "daemonset.yaml")
	out, err = cp.Kubectl("apply", "-f", manifest)
	if err != nil {
		t.Fatalf("kubectl apply -f %s: %v\n%s", manifest, err, out)
	}
	t.Logf("kubectl apply -f %s:\n%s", manifest, out)
	out, err = cp.Kubectl("get", "-f", manifest, "-o", `jsonpath={range .items[*]}{.kind}/{.metadata.namespace}/{.metadata.name}{"\n"}{end}`)
	if err != nil {
		t.Fatalf("kubectl get -f %s: %v", manifest, err)
	}
	var daemonSets []*appsv1.DaemonSet
	for _, line := range strings.Fields(out) {
		kind, rest, _ := strings.Cut(line, "/")
		ns, name, _ := strings.Cut(rest, "/")
		if kind != "DaemonSet" {
			continue
		}
		ds, err := cp.Client().AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("DaemonSet %s/%s of the manifest: %v", ns, name, err)
			continue
		}
		daemonSets = append(daemonSets, ds)
	}
	if len(daemonSets) != 1 {
		t.Errorf("the manifest's objects as stored:\n%s\nwant one DaemonSet, got %d", out, len(daemonSets))
	}

	stopping := time.Now()
	cp.Stop()
	t.Logf("Stop took %v", time.Since(stopping).Round(time.Millisecond))
	if _, err := cp.Client().CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err == nil {
		t.Error("listing namespaces with the API server stopped: no error")
	} else {
		t.Logf("with the API server stopped: %v", err)
	}
	if out, err := cp.Kubectl("get", "namespaces"); err == nil {
		t.Errorf("kubectl get namespaces with the API server stopped: no error, %q", out)
	}
	cp.Stop() // stopping twice is fine
}

// TestContainerCgroup: a process moved into the cgroup ContainerCgroup
// makes is named by its /proc/PID/cgroup as that container of that pod,
// and after the test it is back in the root cgroup and the directories
// are gone.
func TestContainerCgroup(t *testing.T) {
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sleep.Process.Kill()
		_ = sleep.Wait()
	})
	pid := sleep.Process.Pid
	procCgroup := "/proc/" + strconv.Itoa(pid) + "/cgroup"

	// The slices a real node may have already stay; the rest must go.
	root, _ := cgroup2Mount("/proc/self/mounts")
	existed := map[string]bool{}
	for _, d := range []string{"kubepods.slice", "kubepods.slice/kubepods-besteffort.slice"} {
		if _, err := os.Stat(filepath.Join(root, d)); err == nil {
			existed[filepath.Join(root, d)] = true
		}
	}

	var dir string
	ran := t.Run("in", func(t *testing.T) {
		dir = ContainerCgroup(t, testPodUID, testContainerID)
		if err := Enter(pid, dir); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(procCgroup)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:\n%s", procCgroup, b)
		c, ok := kube.ContainerOf(b)
		if !ok || c.ID != testContainerID || c.PodUID != testPodUID {
			t.Errorf("ContainerOf(%s) = %+v, %v; want %s of pod %s", procCgroup, c, ok, testContainerID, testPodUID)
		}
		want := regexp.MustCompile(`(?m)^0::/kubepods\.slice/kubepods-besteffort\.slice/kubepods-besteffort-pod5c1f7e0a_9b2d_4c3e_8f4a_6d7b8c9e0f1a\.slice/cri-containerd-` + testContainerID + `\.scope$`)
		if !want.Match(b) {
			t.Errorf("%s: want a line matching %s", procCgroup, want)
		}
	})
	if !ran || dir == "" {
		return // skipped or failed
	}
	// The subtest's cleanup has run.
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := kube.ContainerOf(b); ok {
		t.Errorf("after the test, the process is still in container %+v:\n%s", c, b)
	}
	for d := dir; d != root && strings.HasPrefix(d, root); d = filepath.Dir(d) {
		if _, err := os.Stat(d); !existed[d] && !os.IsNotExist(err) {
			t.Errorf("after the test, %s: %v, want it gone", d, err)
		}
	}
}
