package kube

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/propwatch/propwatch/internal/identity"
)

// The index: the informers' event handlers keep the Cluster's maps, which
// its lookups read under a read lock without allocating. Each map is
// capped by Config.MaxObjects: past it, a new object is not indexed (and
// counted), and a deleted one frees its room.

// podOf is the naming view and key of a pod as an event carries it:
// stored (slimmed) or whole.
func (c *Cluster) podOf(obj any) (*podInfo, string, bool) {
	var p *podInfo
	switch o := obj.(type) {
	case *storedPod:
		p = o.info
	case *corev1.Pod:
		p = newPodInfo(o, c.cfg.NodeName)
	default:
		return nil, "", false
	}
	return p, p.namespace + "/" + p.name, true
}

// setPod indexes a pod added or updated.
func (c *Cluster) setPod(obj any) {
	p, key, ok := c.podOf(obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.pods[key]
	if !had && len(c.pods) >= c.cfg.MaxObjects {
		c.unindexed.Add(1)
		return
	}
	if had {
		c.unindexPod(old)
	}
	c.pods[key] = p
	for _, s := range p.ips {
		if ip, err := netip.ParseAddr(s); err == nil {
			c.podIPs[ip.Unmap()] = p
		}
	}
	if p.local {
		c.byUID[p.uid] = p
		for _, id := range p.containerIDs {
			c.containers[id] = p
		}
	}
}

// deletePod forgets a pod.
func (c *Cluster) deletePod(obj any) {
	_, key, ok := c.podOf(obj)
	if !ok {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, had := c.pods[key]; had {
		c.unindexPod(old)
		delete(c.pods, key)
	}
}

// unindexPod removes p's entries from the maps keyed by its addresses,
// uid and containers, where they are still p's, with c.mu held.
func (c *Cluster) unindexPod(p *podInfo) {
	for _, s := range p.ips {
		if ip, err := netip.ParseAddr(s); err == nil && c.podIPs[ip.Unmap()] == p {
			delete(c.podIPs, ip.Unmap())
		}
	}
	if c.byUID[p.uid] == p {
		delete(c.byUID, p.uid)
	}
	for _, id := range p.containerIDs {
		if c.containers[id] == p {
			delete(c.containers, id)
		}
	}
}

// serviceOf is the key and cluster IPs of a Service as an event carries
// it: stored (slimmed) or whole.
func serviceOf(obj any) (identity.Name, []netip.Addr, bool) {
	switch o := obj.(type) {
	case *storedService:
		return identity.Name{Service: o.Name, Namespace: o.Namespace}, o.ips, true
	case *corev1.Service:
		return identity.Name{Service: o.Name, Namespace: o.Namespace}, clusterIPs(o), true
	}
	return identity.Name{}, nil, false
}

// setService indexes a Service's cluster IPs.
func (c *Cluster) setService(obj any) {
	name, ips, ok := serviceOf(obj)
	if !ok {
		return
	}
	key := name.Namespace + "/" + name.Service
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.services[key]
	if !had && len(c.services) >= c.cfg.MaxObjects {
		c.unindexed.Add(1)
		return
	}
	for _, ip := range old {
		delete(c.serviceIPs, ip)
	}
	c.services[key] = ips
	for _, ip := range ips {
		c.serviceIPs[ip] = name
	}
}

// deleteService forgets a Service.
func (c *Cluster) deleteService(obj any) {
	name, _, ok := serviceOf(obj)
	if !ok {
		return
	}
	key := name.Namespace + "/" + name.Service
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ip := range c.services[key] {
		delete(c.serviceIPs, ip)
	}
	delete(c.services, key)
}

// ownerHandlers index the ReplicaSets or Jobs (kind) by which a pod is
// named after its Deployment or CronJob. The kind is the informer's: the
// metadata API does not say it in every object.
func (c *Cluster) ownerHandlers(kind string) cache.ResourceEventHandlerFuncs {
	key := func(obj any) (ownerKey, *metav1.PartialObjectMetadata, bool) {
		m, ok := obj.(*metav1.PartialObjectMetadata)
		if !ok {
			return ownerKey{}, nil, false
		}
		return ownerKey{m.Namespace, kind, m.Name}, m, true
	}
	return handlers(func(obj any) {
		if k, m, ok := key(obj); ok {
			c.setOwner(k, controllerOf(m.OwnerReferences))
		}
	}, func(obj any) {
		if k, _, ok := key(obj); ok {
			c.mu.Lock()
			delete(c.owners, k)
			c.mu.Unlock()
		}
	})
}

// setOwner indexes the controller of owner k.
func (c *Cluster) setOwner(k ownerKey, ctl ownerRef) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, had := c.owners[k]; !had && len(c.owners) >= c.cfg.MaxObjects {
		c.unindexed.Add(1)
		return
	}
	c.owners[k] = ctl
}
