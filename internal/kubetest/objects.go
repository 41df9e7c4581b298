package kubetest

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// requestTimeout bounds each request of the helpers below.
const requestTimeout = 30 * time.Second

// Namespace creates namespace name, unless the API server has made it
// (default, kube-system), and its "default" ServiceAccount, which the
// controller manager would make and pods need (the ServiceAccount
// admission plugin refuses a pod without it).
func (cp *ControlPlane) Namespace(name string) *corev1.Namespace {
	cp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	ns, err := cp.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) { // default, kube-system, ...
		ns, err = cp.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	}
	if err != nil {
		cp.t.Fatalf("kubetest: create namespace %s: %v", name, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: name}}
	if _, err := cp.client.CoreV1().ServiceAccounts(name).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		cp.t.Fatalf("kubetest: create service account %s/default: %v", name, err)
	}
	return ns
}

// RunningPod creates pod in namespace ns as given (spec.nodeName, labels,
// owner references are the caller's) and then sets its status as a
// kubelet would once it runs: phase Running, Ready, the pod IP, and a
// running status for each container of the spec with its id from
// containerIDs (container name to 64 hex digits, written
// "containerd://<id>"). It returns the pod as stored.
func (cp *ControlPlane) RunningPod(ns string, pod *corev1.Pod, podIP string, containerIDs map[string]string) *corev1.Pod {
	cp.t.Helper()
	want := make(map[string]bool, len(containerIDs))
	for name, id := range containerIDs {
		if !isHex64(id) {
			cp.t.Fatalf("kubetest: pod %s/%s: container %s: id %q is not 64 lowercase hex digits", ns, pod.Name, name, id)
		}
		want[name] = true
	}
	for _, c := range pod.Spec.Containers {
		if !want[c.Name] {
			cp.t.Fatalf("kubetest: pod %s/%s: no container id for container %s", ns, pod.Name, c.Name)
		}
		delete(want, c.Name)
	}
	for name := range want {
		cp.t.Fatalf("kubetest: pod %s/%s: a container id for %s, which the pod does not have", ns, pod.Name, name)
	}

	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	p := pod.DeepCopy()
	p.Namespace = ns
	created, err := cp.client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		cp.t.Fatalf("kubetest: create pod %s/%s: %v", ns, pod.Name, err)
	}
	now := metav1.Now()
	ready := func(t corev1.PodConditionType) corev1.PodCondition {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now}
	}
	created.Status = corev1.PodStatus{
		Phase:     corev1.PodRunning,
		PodIP:     podIP,
		PodIPs:    []corev1.PodIP{{IP: podIP}},
		StartTime: &now,
		QOSClass:  created.Status.QOSClass, // set at creation, immutable
		Conditions: []corev1.PodCondition{
			ready(corev1.PodScheduled), ready(corev1.PodInitialized),
			ready(corev1.ContainersReady), ready(corev1.PodReady),
		},
	}
	started := true
	for _, c := range created.Spec.Containers {
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, corev1.ContainerStatus{
			Name:        c.Name,
			Image:       c.Image,
			ContainerID: "containerd://" + containerIDs[c.Name],
			Ready:       true,
			Started:     &started,
			State:       corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	running, err := cp.client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		cp.t.Fatalf("kubetest: set pod %s/%s running: %v", ns, pod.Name, err)
	}
	return running
}

// Service creates a ClusterIP Service in namespace ns with the given
// cluster IP (in 10.96.0.0/16; 10.96.0.1 is the "kubernetes" Service's),
// selector, and one TCP port that is also its target port.
func (cp *ControlPlane) Service(ns, name, clusterIP string, selector map[string]string, port int) *corev1.Service {
	cp.t.Helper()
	if port < 1 || port > 65535 {
		cp.t.Fatalf("kubetest: service %s/%s: port %d", ns, name, port)
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: clusterIP,
			Selector:  selector,
			Ports: []corev1.ServicePort{{
				Protocol:   corev1.ProtocolTCP,
				Port:       int32(port),
				TargetPort: intstr.FromInt32(int32(port)),
			}},
		},
	}
	created, err := cp.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		cp.t.Fatalf("kubetest: create service %s/%s: %v", ns, name, err)
	}
	return created
}

// isHex64 says whether s is 64 lowercase hex digits, a container id.
func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
