package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The deployment files, from this package's directory.
const (
	manifestFile   = "../../deploy/daemonset.yaml"
	dockerfileFile = "../../deploy/Dockerfile"
)

// The capabilities the DaemonSet adds, and the only ones: what the hooks
// and the naming need (README, "On Kubernetes"). TestRunUnderManifestCaps
// runs propwatch under the capabilities it reads from the manifest; this
// list is what a change to them must be reviewed against.
var wantCaps = []string{"BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"}

// The objects of deploy/daemonset.yaml, as far as the tests read them.
// encoding/json matches the manifest's camelCase keys to these fields
// case-insensitively.
type objectMeta struct {
	Name        string
	Namespace   string
	Labels      map[string]string
	Annotations map[string]string
}

type k8sObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string
	Metadata   objectMeta
}

type policyRule struct {
	APIGroups       []string `json:"apiGroups"`
	Resources       []string
	Verbs           []string
	ResourceNames   []string `json:"resourceNames"`
	NonResourceURLs []string `json:"nonResourceURLs"`
}

type clusterRole struct {
	Metadata objectMeta
	Rules    []policyRule
}

type roleBinding struct {
	RoleRef  struct{ APIGroup, Kind, Name string } `json:"roleRef"`
	Subjects []struct{ Kind, Name, Namespace string }
}

type securityContext struct {
	Privileged               *bool
	AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation"`
	RunAsUser                *int64
	RunAsGroup               *int64
	ReadOnlyRootFilesystem   *bool `json:"readOnlyRootFilesystem"`
	ProcMount                string
	Capabilities             struct{ Add, Drop []string }
	SeccompProfile           *struct{ Type string }
	AppArmorProfile          *struct{ Type string }
}

type probe struct {
	HTTPGet *struct {
		Path string
		Port any // a name or a number
	} `json:"httpGet"`
	Exec      any
	TCPSocket any `json:"tcpSocket"`
}

type container struct {
	Name    string
	Image   string
	Command []string
	Args    []string
	Env     []struct {
		Name      string
		Value     string
		ValueFrom *struct {
			FieldRef *struct{ FieldPath string } `json:"fieldRef"`
		} `json:"valueFrom"`
	}
	Ports []struct {
		Name          string
		ContainerPort int `json:"containerPort"`
		HostPort      int `json:"hostPort"`
	}
	StartupProbe   *probe
	ReadinessProbe *probe
	LivenessProbe  *probe
	Resources      struct{ Requests, Limits map[string]string }
	// A pointer, so that a missing securityContext fails the checks.
	SecurityContext *securityContext
	VolumeMounts    []struct {
		Name             string
		MountPath        string
		ReadOnly         bool
		SubPath          string
		MountPropagation string
	}
}

type podSpec struct {
	ServiceAccountName string
	HostPID            bool
	HostNetwork        bool
	HostIPC            bool
	Tolerations        []struct{ Key, Operator, Value, Effect string }
	InitContainers     []container
	Containers         []container
	Volumes            []struct {
		Name     string
		HostPath *struct{ Path, Type string } `json:"hostPath"`
	}
	SecurityContext map[string]any
}

type daemonSet struct {
	Metadata objectMeta
	Spec     struct {
		Selector struct {
			MatchLabels map[string]string
		}
		Template struct {
			Metadata objectMeta
			Spec     podSpec
		}
	}
}

// manifest is deploy/daemonset.yaml: its documents in order, and each
// kind's one object decoded.
type manifest struct {
	objects   []k8sObject
	role      clusterRole
	auditRole clusterRole // a Role: the same fields
	binding   roleBinding
	ds        daemonSet
}

// container returns the DaemonSet's one container.
func (m *manifest) container(t *testing.T) container {
	t.Helper()
	cs := m.ds.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("DaemonSet has %d containers, want 1", len(cs))
	}
	if cs[0].SecurityContext == nil {
		t.Fatal("the container has no securityContext")
	}
	return cs[0]
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// readManifest reads and decodes deploy/daemonset.yaml.
func readManifest(t *testing.T) *manifest {
	t.Helper()
	raw, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest{}
	for i, doc := range docSeparator.Split(string(raw), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var o k8sObject
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		m.objects = append(m.objects, o)
		var into any
		switch o.Kind {
		case "ClusterRole":
			into = &m.role
		case "ClusterRoleBinding":
			into = &m.binding
		case "Role":
			into = &m.auditRole
		case "DaemonSet":
			into = &m.ds
		default:
			continue
		}
		if err := yaml.Unmarshal([]byte(doc), into); err != nil {
			t.Fatalf("%s: %v", o.Kind, err)
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func TestManifestObjects(t *testing.T) {
	m := readManifest(t)
	var got []string
	for _, o := range m.objects {
		got = append(got, o.Kind+"/"+o.Metadata.Name)
		switch o.Kind {
		case "Namespace", "ClusterRole", "ClusterRoleBinding":
			if o.Metadata.Namespace != "" {
				t.Errorf("%s %s: namespace %q on a cluster-scoped object", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
		default:
			if o.Metadata.Namespace != "propwatch" {
				t.Errorf("%s %s: namespace %q, want propwatch", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
		}
	}
	want := []string{"Namespace/propwatch", "ServiceAccount/propwatch", "ClusterRole/propwatch", "ClusterRoleBinding/propwatch", "DaemonSet/propwatch", "Role/propwatch-audit"}
	if !slices.Equal(got, want) {
		t.Errorf("objects %v, want %v", got, want)
	}
	b := m.binding
	if b.RoleRef.Kind != "ClusterRole" || b.RoleRef.Name != "propwatch" || b.RoleRef.APIGroup != "rbac.authorization.k8s.io" {
		t.Errorf("binding's roleRef %+v", b.RoleRef)
	}
	if len(b.Subjects) != 1 || b.Subjects[0].Kind != "ServiceAccount" || b.Subjects[0].Name != "propwatch" || b.Subjects[0].Namespace != "propwatch" {
		t.Errorf("binding's subjects %+v", b.Subjects)
	}
	if sa := m.ds.Spec.Template.Spec.ServiceAccountName; sa != "propwatch" {
		t.Errorf("serviceAccountName %q", sa)
	}
	sel, labels := m.ds.Spec.Selector.MatchLabels, m.ds.Spec.Template.Metadata.Labels
	if len(sel) == 0 {
		t.Error("DaemonSet has no selector")
	}
	for k, v := range sel {
		if labels[k] != v {
			t.Errorf("selector %s=%s does not match the pod's labels %v", k, v, labels)
		}
	}
}

// TestManifestRBAC: the agent may get, list and watch pods, services,
// replicasets and jobs, and nothing else; the audit's opt-in Role may list
// pods and read them through the proxy, and nothing else.
func TestManifestRBAC(t *testing.T) {
	m := readManifest(t)
	if got := grants(t, m.auditRole.Rules); !slices.Equal(got, []string{"/pods/proxy:get", "/pods:list"}) {
		t.Errorf("audit Role grants %v", got)
	}
	got := grants(t, m.role.Rules)
	var want []string
	for _, res := range []string{"/pods", "/services", "apps/replicasets", "batch/jobs"} {
		for _, v := range []string{"get", "list", "watch"} {
			want = append(want, res+":"+v)
		}
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ClusterRole grants %v, want exactly %v", got, want)
	}
}

// grants lists what rules allow as "group/resource:verb", sorted.
func grants(t *testing.T, rules []policyRule) []string {
	t.Helper()
	var got []string
	for _, r := range rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("rule %+v: resourceNames or nonResourceURLs", r)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					got = append(got, g+"/"+res+":"+v)
				}
			}
		}
	}
	slices.Sort(got)
	return got
}

// TestManifestSecurity: not privileged, every capability dropped and only
// wantCaps added, a read-only root, the host's PIDs but not its network or
// IPC, and read-only host mounts of only what the capture reads.
func TestManifestSecurity(t *testing.T) {
	m := readManifest(t)
	pod := m.ds.Spec.Template.Spec
	c := m.container(t)
	sc := c.SecurityContext

	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged: true")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities.drop %v, want [ALL]", sc.Capabilities.Drop)
	}
	if got := sortedCopy(sc.Capabilities.Add); !slices.Equal(got, sortedCopy(wantCaps)) {
		t.Errorf("capabilities.add %v, want exactly %v", sc.Capabilities.Add, wantCaps)
	}
	for _, cp := range sc.Capabilities.Add {
		if cp != strings.ToUpper(cp) || strings.HasPrefix(cp, "CAP_") {
			t.Errorf("capability %q: Kubernetes spells them upper case without CAP_", cp)
		}
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem is not true")
	}
	// A root UID keeps the added capabilities across exec (a non-root one
	// would need file capabilities), so no_new_privs costs nothing.
	if sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("runAsUser %v: the capabilities reach a non-root UID only through file capabilities, which allowPrivilegeEscalation: false disables", sc.RunAsUser)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.ProcMount != "" && sc.ProcMount != "Default" {
		t.Errorf("procMount %q", sc.ProcMount)
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", sc.SeccompProfile)
	}
	if len(pod.SecurityContext) != 0 {
		t.Errorf("pod securityContext %v: the container's says it all", pod.SecurityContext)
	}
	if !pod.HostPID {
		t.Error("hostPID is not true: the kernel reports host PIDs, which propwatch reads in /proc")
	}
	if pod.HostNetwork {
		t.Error("hostNetwork: true")
	}
	if pod.HostIPC {
		t.Error("hostIPC: true")
	}
	if len(pod.InitContainers) > 0 {
		t.Errorf("%d init containers", len(pod.InitContainers))
	}
	for _, p := range c.Ports {
		if p.HostPort != 0 {
			t.Errorf("port %s: hostPort %d", p.Name, p.HostPort)
		}
	}

	// Volumes: host paths, each of them needed, each mounted read-only
	// where it is on the host.
	allowed := map[string]bool{"/sys/kernel/tracing": true}
	paths := map[string]string{}
	for _, v := range pod.Volumes {
		if v.HostPath == nil {
			t.Errorf("volume %s is not a hostPath", v.Name)
			continue
		}
		if !allowed[v.HostPath.Path] {
			t.Errorf("volume %s mounts host path %s, which is not one propwatch reads", v.Name, v.HostPath.Path)
		}
		paths[v.Name] = v.HostPath.Path
	}
	for _, vm := range c.VolumeMounts {
		if !vm.ReadOnly {
			t.Errorf("volume mount %s at %s is not read-only", vm.Name, vm.MountPath)
		}
		if vm.MountPropagation != "" && vm.MountPropagation != "None" {
			t.Errorf("volume mount %s: mountPropagation %s", vm.Name, vm.MountPropagation)
		}
		if host, ok := paths[vm.Name]; !ok || host != vm.MountPath || vm.SubPath != "" {
			t.Errorf("volume mount %s at %s: want host path %q at the same path", vm.Name, vm.MountPath, host)
		}
	}
	if len(c.VolumeMounts) != len(pod.Volumes) {
		t.Errorf("%d volumes, %d mounted", len(pod.Volumes), len(c.VolumeMounts))
	}
}

// TestManifestServing: the metrics address, the probes on /healthz and
// the scrape annotations agree on one port.
func TestManifestServing(t *testing.T) {
	m := readManifest(t)
	c := m.container(t)
	if len(c.Command) > 0 {
		t.Errorf("command %v overrides the image's entrypoint", c.Command)
	}
	if len(c.Args) == 0 || c.Args[0] != "run" {
		t.Fatalf("args %v do not start with run", c.Args)
	}
	// The args must be ones propwatch run takes.
	cmd := newRunCmd()
	if err := cmd.ParseFlags(c.Args[1:]); err != nil {
		t.Fatalf("args %v: %v", c.Args, err)
	}
	addr := cmd.Flags().Lookup("metrics-addr").Value.String()
	_, port, ok := strings.Cut(addr, ":")
	if !ok || port == "" {
		t.Fatalf("--metrics-addr %q names no port", addr)
	}
	if !cmd.Flags().Lookup("quiet").Changed {
		t.Error("no --quiet: the live view would fill the pod's log")
	}
	var portName string
	for _, p := range c.Ports {
		if strconv.Itoa(p.ContainerPort) == port {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Errorf("no container port %s (ports %+v)", port, c.Ports)
	}
	for name, p := range map[string]*probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if name == "startup" && p == nil {
			continue // optional
		}
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: not an httpGet", name)
			continue
		}
		if p.HTTPGet.Path != "/healthz" {
			t.Errorf("%s probe: path %q, want /healthz", name, p.HTTPGet.Path)
		}
		if got := fmt.Sprint(p.HTTPGet.Port); got != port && got != portName {
			t.Errorf("%s probe: port %s, want %s or %s", name, got, port, portName)
		}
	}
	ann := m.ds.Spec.Template.Metadata.Annotations
	for k, want := range map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": port, "prometheus.io/path": "/metrics"} {
		if ann[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], want)
		}
	}
}

// TestManifestScheduling: every node, the node's name, and resources.
func TestManifestScheduling(t *testing.T) {
	m := readManifest(t)
	pod := m.ds.Spec.Template.Spec
	c := m.container(t)
	everything := false
	for _, tol := range pod.Tolerations {
		if tol.Operator == "Exists" && tol.Key == "" && tol.Effect == "" {
			everything = true
		}
	}
	if !everything {
		t.Errorf("tolerations %+v: none tolerates every taint", pod.Tolerations)
	}
	node := false
	for _, e := range c.Env {
		if e.Name == "NODE_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "spec.nodeName" {
			node = true
		}
	}
	if !node {
		t.Error("no NODE_NAME from the downward API (spec.nodeName)")
	}

	// README, Cost: a 58-64 MB RSS peak beside a saturated server, and
	// about 1.2 µs of CPU a request.
	const measuredPeak = 64 << 20
	req, lim := c.Resources.Requests, c.Resources.Limits
	for _, r := range []string{"cpu", "memory"} {
		q, l := quantity(t, req[r]), quantity(t, lim[r])
		if q <= 0 || l <= 0 || q > l {
			t.Errorf("%s: request %q, limit %q", r, req[r], lim[r])
		}
	}
	if q := quantity(t, req["memory"]); q < measuredPeak {
		t.Errorf("memory request %s is below the measured peak RSS", req["memory"])
	}
	if l := quantity(t, lim["memory"]); l < 2*measuredPeak {
		t.Errorf("memory limit %s leaves no room above the measured peak RSS for the kernel maps and the capped tables", lim["memory"])
	}
}

// quantity parses the Kubernetes quantities the manifest uses: 100m, 1,
// 128Mi, 1Gi.
func quantity(t *testing.T, s string) float64 {
	t.Helper()
	mult := 1.0
	for suffix, m := range map[string]float64{"m": 1e-3, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = rest, m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Errorf("quantity %q: %v", s, err)
	}
	return v * mult
}

// TestDockerfile reads deploy/Dockerfile: a multi-stage build of a static
// binary (no cgo), a minimal base, run as the manifest's UID.
func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(dockerfileFile)
	if err != nil {
		t.Fatal(err)
	}
	type instr struct{ op, arg string }
	var ins []instr
	sc := bufio.NewScanner(bytes.NewReader(raw))
	var cont strings.Builder
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || line == "" && cont.Len() == 0 {
			continue
		}
		if rest, ok := strings.CutSuffix(line, `\`); ok {
			cont.WriteString(rest + " ")
			continue
		}
		cont.WriteString(line)
		op, arg, _ := strings.Cut(cont.String(), " ")
		ins = append(ins, instr{strings.ToUpper(op), strings.Join(strings.Fields(arg), " ")})
		cont.Reset()
	}
	var froms []string
	var user, entry string
	var build bool
	for _, in := range ins {
		switch in.op {
		case "FROM":
			froms = append(froms, in.arg)
			user = "" // USER is per stage
		case "USER":
			user = in.arg
		case "ENTRYPOINT":
			entry = in.arg
		case "RUN":
			if strings.Contains(in.arg, "go build") && strings.Contains(in.arg, "CGO_ENABLED=0") && strings.Contains(in.arg, "./cmd/propwatch") {
				build = true
			}
		}
	}
	if len(froms) < 2 || !strings.HasSuffix(froms[0], " AS build") {
		t.Errorf("stages %q: want a build stage, then the image", froms)
	}
	if !build {
		t.Error("no RUN that builds ./cmd/propwatch with CGO_ENABLED=0")
	}
	last := froms[len(froms)-1]
	if !strings.HasPrefix(last, "gcr.io/distroless/static") && last != "scratch" {
		t.Errorf("image base %q: want distroless static or scratch", last)
	}
	if entry != `["/propwatch"]` {
		t.Errorf("ENTRYPOINT %s", entry)
	}
	uid := readManifest(t).container(t).SecurityContext.RunAsUser
	if uid == nil || !strings.HasPrefix(user, strconv.FormatInt(*uid, 10)) {
		t.Errorf("USER %q, the manifest runs UID %v", user, uid)
	}
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
