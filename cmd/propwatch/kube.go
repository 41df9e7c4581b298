package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/propwatch/propwatch/internal/identity"
	"github.com/propwatch/propwatch/internal/kube"
)

// Values of --kubernetes.
const (
	kubeAuto = "auto"
	kubeOn   = "on"
	kubeOff  = "off"
)

// envInCluster is set by the kubelet in every pod's environment.
const envInCluster = "KUBERNETES_SERVICE_HOST"

// startCluster starts naming by Kubernetes objects when --kubernetes asks
// for it, or (auto) when propwatch runs in a pod or is given a
// kubeconfig; nil when it does not. An API server that does not answer
// is not an error: capture goes on and names fall back (kube.Cluster).
func startCluster(ctx context.Context, f runFlags, log *slog.Logger) (*kube.Cluster, error) {
	switch f.kubernetes {
	case kubeOff:
		return nil, nil
	case kubeAuto:
		if f.kubeconfig == "" && os.Getenv(envInCluster) == "" {
			return nil, nil
		}
	case kubeOn:
	default:
		return nil, fmt.Errorf("--kubernetes must be %s, %s or %s", kubeAuto, kubeOn, kubeOff)
	}
	if f.nodeName == "" {
		log.Warn("kubernetes: no --node-name or NODE_NAME: the containers of every node's pods name processes here")
	}
	c, err := kube.New(kube.Config{Kubeconfig: f.kubeconfig, NodeName: f.nodeName, Log: log})
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	s := c.Stats()
	log.Info("kubernetes: naming pairs by workloads", "node", f.nodeName, "synced", s.Synced, "pods", s.Pods, "services", s.Services)
	return c, nil
}

// clusterOrNil keeps a nil *kube.Cluster out of the interface, where it
// would not be nil.
func clusterOrNil(c *kube.Cluster) identity.Cluster {
	if c == nil {
		return nil
	}
	return c
}
