package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The DaemonSet's defaults, as deploy/daemonset.yaml has them.
const (
	// AgentNamespace and AgentSelector find the agents' pods.
	AgentNamespace = "propwatch"
	AgentSelector  = LabelName + "=propwatch"
	// metricsPortName names the container port that serves /report.
	metricsPortName = "metrics"
	// DefaultMetricsPort is the port used when no container port is
	// named metrics.
	DefaultMetricsPort = 9464
)

// Agent is one propwatch pod found through the API server.
type Agent struct {
	// Pod and Node name it.
	Pod, Node string
	// ReportURL reads its /report through the API server's pod proxy; ""
	// when it cannot be read (NotReady says why).
	ReportURL string
	// NotReady says why the pod is not asked: not running, no IP.
	NotReady string
}

// Label is how an audit names the agent: its node and pod.
func (a Agent) Label() string {
	node := a.Node
	if node == "" {
		node = "(no node)"
	}
	return "node " + node + " (pod " + a.Pod + ")"
}

// Agents lists the agents' pods in namespace matching selector and
// returns, sorted by node, how to read each one's report, with an HTTP
// client that authenticates to the API server as the kubeconfig says
// (kubeconfig "" reads KUBECONFIG and ~/.kube/config, or the in-cluster
// configuration). Reading a report through the proxy needs get on
// pods/proxy (the manifest's opt-in Role propwatch-audit).
func Agents(ctx context.Context, kubeconfig, namespace, selector string) ([]Agent, *http.Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: %w", err)
	}
	return AgentsForConfig(ctx, rc, namespace, selector)
}

// AgentsForConfig is Agents with a client configuration of the caller's.
func AgentsForConfig(ctx context.Context, rc *rest.Config, namespace, selector string) ([]Agent, *http.Client, error) {
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "propwatch-audit"
	core, err := newCoreClient(rc)
	if err != nil {
		return nil, nil, err
	}
	client, err := rest.HTTPClientFor(rc)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: %w", err)
	}
	pods, err := listPods(ctx, core, namespace, selector)
	if err != nil {
		return nil, nil, fmt.Errorf("kubernetes: list the agents' pods in %s (%s): %w", namespace, selector, err)
	}
	base, err := url.Parse(rc.Host)
	if err != nil || rc.Host == "" {
		return nil, nil, fmt.Errorf("kubernetes: API server address %q", rc.Host)
	}
	if base.Scheme == "" {
		base, _ = url.Parse("https://" + rc.Host)
	}
	agents := make([]Agent, 0, len(pods.Items))
	for i := range pods.Items {
		agents = append(agents, agentOf(&pods.Items[i], base))
	}
	slices.SortFunc(agents, func(a, b Agent) int {
		return strings.Compare(a.Node+"\x00"+a.Pod, b.Node+"\x00"+b.Pod)
	})
	return agents, client, nil
}

// agentOf says how to read pod's report through the proxy of the API
// server at base.
func agentOf(pod *corev1.Pod, base *url.URL) Agent {
	a := Agent{Pod: pod.Name, Node: pod.Spec.NodeName}
	switch {
	case pod.Status.Phase != corev1.PodRunning:
		a.NotReady = "pod is " + strings.ToLower(string(pod.Status.Phase))
		if pod.Status.Phase == "" {
			a.NotReady = "pod has no status"
		}
		return a
	case pod.Status.PodIP == "":
		a.NotReady = "pod has no IP"
		return a
	}
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/namespaces/" + url.PathEscape(pod.Namespace) +
		"/pods/" + url.PathEscape(pod.Name) + ":" + strconv.Itoa(metricsPort(pod)) + "/proxy/report"
	a.ReportURL = u.String()
	return a
}

// metricsPort is the pod's container port named metrics.
func metricsPort(pod *corev1.Pod) int {
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == metricsPortName {
				return int(p.ContainerPort)
			}
		}
	}
	return DefaultMetricsPort
}
