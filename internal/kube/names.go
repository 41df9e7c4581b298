package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/propwatch/propwatch/internal/identity"
)

// Labels that name a workload, in the order they are tried: the
// recommended label first, then the older convention.
const (
	LabelName = "app.kubernetes.io/name"
	LabelApp  = "app"
	// labelTemplateHash is the suffix a Deployment gives its ReplicaSets'
	// names; it names the Deployment while its ReplicaSet is not known.
	labelTemplateHash = "pod-template-hash"
)

// Kinds of the owners that name a workload.
const (
	kindReplicaSet = "ReplicaSet"
	kindDeployment = "Deployment"
	kindJob        = "Job"
	kindCronJob    = "CronJob"
)

// The variables of a container's environment that name its service, as
// the OpenTelemetry SDKs read them.
const (
	envServiceName        = "OTEL_SERVICE_NAME"
	envResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
)

// ownerRef is a pod's or ReplicaSet's or Job's controller.
type ownerRef struct{ kind, name string }

// ownerKey finds a ReplicaSet or Job among the owners the cluster knows.
type ownerKey struct{ namespace, kind, name string }

// podInfo is what naming keeps of a pod: far less than the object.
type podInfo struct {
	namespace, name string
	uid             string
	local           bool // on this node: its containers name processes
	// label is the pod's app.kubernetes.io/name or app label, "" if none.
	label string
	// templateHash is its pod-template-hash label.
	templateHash string
	owner        ownerRef
	ips          []string
	// containers are its containers' names and the service their
	// environment in the pod spec names ("" when none does).
	containers []containerEnv
	// containerIDs are the ids of its running containers (status), and
	// containerNames their names, index for index.
	containerIDs, containerNames []string
}

type containerEnv struct{ name, service string }

// newPodInfo keeps of pod what naming needs.
func newPodInfo(pod *corev1.Pod, node string) *podInfo {
	p := &podInfo{
		namespace: pod.Namespace, name: pod.Name, uid: string(pod.UID),
		local:        node == "" || pod.Spec.NodeName == node,
		label:        pod.Labels[LabelName],
		templateHash: pod.Labels[labelTemplateHash],
		owner:        controllerOf(pod.OwnerReferences),
	}
	if p.label == "" {
		p.label = pod.Labels[LabelApp]
	}
	if !pod.Spec.HostNetwork {
		// A host-network pod has the node's address, which is not its own.
		for _, ip := range pod.Status.PodIPs {
			p.ips = append(p.ips, ip.IP)
		}
		if len(p.ips) == 0 && pod.Status.PodIP != "" {
			p.ips = append(p.ips, pod.Status.PodIP)
		}
	}
	if p.local {
		for _, c := range pod.Spec.Containers {
			p.containers = append(p.containers, containerEnv{c.Name, serviceFromEnv(c.Env)})
		}
		for _, list := range [][]corev1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
			for _, cs := range list {
				if id := runtimeID(cs.ContainerID); id != "" {
					p.containerIDs = append(p.containerIDs, id)
					p.containerNames = append(p.containerNames, cs.Name)
				}
			}
		}
	}
	return p
}

// runtimeID strips the runtime's scheme from a container status's id:
// "containerd://<id>" is <id>.
func runtimeID(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		return s[i+3:]
	}
	return s
}

// controllerOf is the controller among refs (zero when none is).
func controllerOf(refs []metav1.OwnerReference) ownerRef {
	for _, r := range refs {
		if r.Controller != nil && *r.Controller {
			return ownerRef{r.Kind, r.Name}
		}
	}
	return ownerRef{}
}

// serviceFromEnv is the service a container's spec environment names:
// OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES. Only
// literal values count; one taken from a ConfigMap or field is not known
// here (the process's own environment, read first, has it).
func serviceFromEnv(env []corev1.EnvVar) string {
	var block []byte
	for _, e := range env {
		if e.Name == envServiceName || e.Name == envResourceAttributes {
			block = append(block, e.Name+"="+e.Value...)
			block = append(block, 0)
		}
	}
	return identity.ServiceFromEnviron(block)
}

// serviceOf names the service a pod runs when the process's own
// environment did not: container's spec environment (any container's,
// when container is ""), the pod's name label, its owning workload, its
// name. owners resolves a ReplicaSet to its Deployment and a Job to its
// CronJob.
func (p *podInfo) serviceOf(container string, owners map[ownerKey]ownerRef) string {
	for _, c := range p.containers {
		if c.service != "" && (container == "" || c.name == container) {
			return c.service
		}
	}
	if p.label != "" {
		return p.label
	}
	switch p.owner.kind {
	case "":
		return p.name
	case kindReplicaSet:
		if o, ok := owners[ownerKey{p.namespace, kindReplicaSet, p.owner.name}]; ok {
			if o.kind == kindDeployment {
				return o.name
			}
			return p.owner.name // a ReplicaSet of its own
		}
		// Not known (yet, or not readable): a Deployment's ReplicaSet is
		// named after it and the pod's template hash.
		if p.templateHash != "" {
			if d, ok := strings.CutSuffix(p.owner.name, "-"+p.templateHash); ok && d != "" {
				return d
			}
		}
	case kindJob:
		if o, ok := owners[ownerKey{p.namespace, kindJob, p.owner.name}]; ok && o.kind == kindCronJob {
			return o.name
		}
	}
	return p.owner.name
}
