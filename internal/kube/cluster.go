package kube

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/propwatch/propwatch/internal/identity"
)

// Config configures a Cluster.
type Config struct {
	// ProcRoot is where procfs is mounted; "/proc" when empty.
	ProcRoot string
	// Kubeconfig is a kubeconfig file; "" means the in-cluster
	// configuration (the pod's service account).
	Kubeconfig string
	// NodeName is the node propwatch runs on: the containers of its pods
	// name processes. "" takes every pod's.
	NodeName string
	// Log gets the few lines a Cluster writes: the API server unreachable,
	// and the first name that fell back, once each.
	Log *slog.Logger
	// SyncTimeout bounds how long Start waits for the first lists before
	// capture goes on without them; 10s when zero.
	SyncTimeout time.Duration
	// ProbeInterval is how often the API server is asked for its version
	// to tell whether it answers: the informers retry a refused
	// connection quietly, so without a probe its loss would not show.
	// 5s when zero.
	ProbeInterval time.Duration
	// MaxObjects caps the pods, Services and owners indexed, each; past
	// it new ones are not (counted in Stats.Unindexed) until others are
	// deleted. 262,144 when zero.
	MaxObjects int
}

const (
	defaultProbeInterval = 5 * time.Second
	// probeTimeout bounds one probe.
	probeTimeout       = 3 * time.Second
	defaultSyncTimeout = 10 * time.Second
	defaultMaxObjects  = 1 << 18
)

// Stats are a Cluster's counts.
type Stats struct {
	// Fallbacks counts the processes and addresses named by the host's
	// rules because the cluster did not know them although it should
	// have: a container whose pod is not known (API server unreachable,
	// or the pod not listed yet).
	Fallbacks uint64
	// APIErrors counts the failed lists, watches and probes of the API
	// server.
	APIErrors uint64
	// Unindexed counts the objects past MaxObjects.
	Unindexed uint64
	// Pods, Services and Owners are the objects indexed now.
	Pods, Services, Owners int
	// Synced says the first lists of every kind arrived.
	Synced bool
}

// Cluster names processes and addresses by the Kubernetes objects it
// watches (pods, Services, ReplicaSets, Jobs). It implements
// identity.Cluster; its lookups answer from memory and never wait for the
// API server, which may be gone: what was listed stays, and what is not
// known falls back to the host's names.
type Cluster struct {
	cfg  Config
	log  *slog.Logger
	core *rest.RESTClient
	meta metadata.Interface

	mu         sync.RWMutex
	pods       map[string]*podInfo // by namespace/name
	byUID      map[string]*podInfo // this node's pods
	containers map[string]*podInfo // this node's containers, by id
	podIPs     map[netip.Addr]*podInfo
	services   map[string][]netip.Addr // namespace/name → cluster IPs
	serviceIPs map[netip.Addr]identity.Name
	owners     map[ownerKey]ownerRef

	fallbacks, apiErrors, unindexed atomic.Uint64
	synced                          atomic.Bool
	logFallback, logAPI             sync.Once
}

var _ identity.Cluster = (*Cluster)(nil)

// New connects to the API server configured by cfg. It makes no request:
// Start does.
func New(cfg Config) (*Cluster, error) {
	var rc *rest.Config
	var err error
	if cfg.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return NewForConfig(cfg, rc)
}

// NewForConfig is New with a client configuration of the caller's.
func NewForConfig(cfg Config, rc *rest.Config) (*Cluster, error) {
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = defaultSyncTimeout
	}
	if cfg.MaxObjects <= 0 {
		cfg.MaxObjects = defaultMaxObjects
	}
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = defaultProbeInterval
	}
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = "/proc"
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	rc = rest.CopyConfig(rc)
	rc.UserAgent = "propwatch"
	core, err := newCoreClient(rc)
	if err != nil {
		return nil, err
	}
	meta, err := metadata.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	return &Cluster{
		cfg: cfg, log: cfg.Log, core: core, meta: meta,
		pods: map[string]*podInfo{}, byUID: map[string]*podInfo{}, containers: map[string]*podInfo{},
		podIPs: map[netip.Addr]*podInfo{}, services: map[string][]netip.Addr{},
		serviceIPs: map[netip.Addr]identity.Name{}, owners: map[ownerKey]ownerRef{},
	}, nil
}

// quietKlog keeps client-go's own logging (klog), which repeats every
// failed watch, out of propwatch's output: the Cluster logs once and
// counts the rest.
var quietKlog sync.Once

// Start lists and watches the cluster's objects until ctx ends, waiting
// at most Config.SyncTimeout for the first lists. It returns an error only
// for a watch that cannot be set up; an API server that does not answer
// is logged, counted, and retried in the background.
func (c *Cluster) Start(ctx context.Context) error {
	quietKlog.Do(func() { klog.SetLogger(logr.Discard()) })
	type watched struct {
		inf     cache.SharedIndexInformer
		handler cache.ResourceEventHandlerFuncs
	}
	all := []watched{
		{coreInformer(c.core, "pods", &corev1.Pod{}), handlers(c.setPod, c.deletePod)},
		{coreInformer(c.core, "services", &corev1.Service{}), handlers(c.setService, c.deleteService)},
		{metadataInformer(c.meta, schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}), c.ownerHandlers(kindReplicaSet)},
		{metadataInformer(c.meta, schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}), c.ownerHandlers(kindJob)},
	}
	for _, w := range all {
		if err := w.inf.SetTransform(c.slim); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		if err := w.inf.SetWatchErrorHandlerWithContext(c.watchError); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
		if _, err := w.inf.AddEventHandler(w.handler); err != nil {
			return fmt.Errorf("kubernetes: %w", err)
		}
	}
	for _, w := range all {
		go w.inf.RunWithContext(ctx)
	}
	synced := make([]cache.InformerSynced, len(all))
	for i, w := range all {
		synced[i] = w.inf.HasSynced
	}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), synced...) {
			c.synced.Store(true)
		}
	}()
	go c.probe(ctx)
	wait, cancel := context.WithTimeout(ctx, c.cfg.SyncTimeout)
	defer cancel()
	if cache.WaitForCacheSync(wait.Done(), synced...) {
		c.synced.Store(true)
	} else if ctx.Err() == nil {
		c.log.Warn("kubernetes: the API server has not answered yet; pairs are named by process names and addresses until it does",
			"waited", c.cfg.SyncTimeout)
	}
	return nil
}

// watchError counts a failed list or watch, logging the first.
func (c *Cluster) watchError(_ context.Context, _ *cache.Reflector, err error) {
	c.apiError(err)
}

// apiError counts a failed request to the API server, logging the first.
func (c *Cluster) apiError(err error) {
	c.apiErrors.Add(1)
	c.logAPI.Do(func() {
		c.log.Warn("kubernetes: API server unreachable; capture goes on, names of what it has not listed fall back to process names and addresses (counted in propwatch_kubernetes_api_errors_total)",
			"err", err)
	})
}

// probe asks the API server for its version every ProbeInterval until
// ctx ends, counting each failure.
func (c *Cluster) probe(ctx context.Context) {
	tick := time.NewTicker(c.cfg.ProbeInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		req, cancel := context.WithTimeout(ctx, probeTimeout)
		err := c.core.Get().AbsPath("/version").Do(req).Error()
		cancel()
		if err != nil && ctx.Err() == nil {
			c.apiError(err)
		}
	}
}

// handlers adapts set and remove functions to informer events, unwrapping
// the tombstones of deletions the watch missed.
func handlers(set, remove func(obj any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, obj any) { set(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			remove(obj)
		},
	}
}

// storedPod is what the pod informer stores of a pod: its key and what
// naming reads, a fraction of the object.
type storedPod struct {
	metav1.ObjectMeta // name, namespace and version only
	info              *podInfo
}

// storedService is what the Service informer stores of a Service.
type storedService struct {
	metav1.ObjectMeta // name, namespace and version only
	ips               []netip.Addr
}

// slim strips an object to what naming reads before the informer stores
// it, which is most of propwatch's memory for a large cluster.
func (c *Cluster) slim(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &storedPod{ObjectMeta: keyMeta(&o.ObjectMeta), info: newPodInfo(o, c.cfg.NodeName)}, nil
	case *corev1.Service:
		return &storedService{ObjectMeta: keyMeta(&o.ObjectMeta), ips: clusterIPs(o)}, nil
	case *metav1.PartialObjectMetadata:
		return &metav1.PartialObjectMetadata{TypeMeta: o.TypeMeta, ObjectMeta: slimMeta(&o.ObjectMeta)}, nil
	}
	return obj, nil
}

// keyMeta keeps of an object's metadata what its store key and the
// informer read: name, namespace, version.
func keyMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, ResourceVersion: m.ResourceVersion}
}

// clusterIPs are a Service's cluster IPs (none for a headless one: its
// clients reach the pods' own addresses).
func clusterIPs(svc *corev1.Service) []netip.Addr {
	var ips []netip.Addr
	for _, s := range append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...) {
		if ip, err := netip.ParseAddr(s); err == nil && !slices.Contains(ips, ip.Unmap()) {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips
}

// slimMeta keeps of an object's metadata its name, namespace, uid,
// version (the informer resumes watches from it) and controller.
func slimMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
	for _, r := range m.OwnerReferences {
		if r.Controller != nil && *r.Controller {
			out.OwnerReferences = []metav1.OwnerReference{{Kind: r.Kind, Name: r.Name, Controller: r.Controller}}
			break
		}
	}
	return out
}

// Process implements identity.Cluster: the process's container, read
// from its /proc/PID/cgroup, names its pod.
func (c *Cluster) Process(tgid uint32, envService string) (identity.Name, bool) {
	ct, ok := c.containerOf(tgid)
	if !ok {
		return identity.Name{}, false // not in a container: a host process
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	p, ok := c.containers[ct.ID]
	if !ok && ct.PodUID != "" {
		// A container starts before the kubelet reports its id.
		p, ok = c.byUID[ct.PodUID]
	}
	if !ok {
		c.fallback()
		return identity.Name{}, false
	}
	name := envService
	if name == "" {
		name = p.serviceOf(containerName(p, ct.ID), c.owners)
	}
	return identity.Name{Service: name, Namespace: p.namespace}, true
}

// containerOf reads the container of process tgid from its cgroup file.
// Reads are rare (once per process and name TTL), so the buffer is the
// call's own.
func (c *Cluster) containerOf(tgid uint32) (Container, bool) {
	f, err := os.Open(c.cfg.ProcRoot + "/" + strconv.FormatUint(uint64(tgid), 10) + "/cgroup")
	if err != nil {
		return Container{}, false
	}
	defer f.Close()
	buf := make([]byte, MaxCgroupFile)
	n, _ := io.ReadFull(f, buf)
	return ContainerOf(buf[:n])
}

// containerName is the name of the container with id in p, "" when the
// status does not list it yet.
func containerName(p *podInfo, id string) string {
	for i, cid := range p.containerIDs {
		if cid == id {
			return p.containerNames[i]
		}
	}
	return ""
}

// Address implements identity.Cluster: a Service's cluster IP names the
// Service, a pod IP the pod's service.
func (c *Cluster) Address(ip netip.Addr) (identity.Name, bool) {
	ip = ip.Unmap()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if n, ok := c.serviceIPs[ip]; ok {
		return n, true
	}
	if p, ok := c.podIPs[ip]; ok {
		return identity.Name{Service: p.serviceOf("", c.owners), Namespace: p.namespace}, true
	}
	return identity.Name{}, false
}

// fallback counts a name the cluster should have known, logging the
// first.
func (c *Cluster) fallback() {
	c.fallbacks.Add(1)
	c.logFallback.Do(func() {
		c.log.Warn("kubernetes: a process runs in a container of no pod listed (API server unreachable, or the pod not listed yet); it is named by its process name (counted in propwatch_kubernetes_name_fallbacks_total)")
	})
}

// Stats returns the cluster's counts; zero for a nil Cluster (off
// cluster).
func (c *Cluster) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Stats{
		Fallbacks: c.fallbacks.Load(), APIErrors: c.apiErrors.Load(), Unindexed: c.unindexed.Load(),
		Pods: len(c.pods), Services: len(c.services), Owners: len(c.owners),
		Synced: c.synced.Load(),
	}
}
