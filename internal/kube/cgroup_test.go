package kube

import (
	"bytes"
	"strings"
	"testing"
)

// Real-world ids and UIDs of the shapes runtimes and the API server make.
const (
	cid  = "7e8f6c1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6"
	cid2 = "0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
	uid  = "3b8f9c2e-4d1a-4e6b-9a7c-5f2e1d0c9b8a"
	// uidU is uid as kubelet's systemd driver writes it in slice names.
	uidU = "3b8f9c2e_4d1a_4e6b_9a7c_5f2e1d0c9b8a"
)

// v1 is a cgroup v1 file with every hierarchy at path (Debian 11, a
// 5.10 kernel with systemd's legacy layout); hybrid adds the unified
// line, at unified.
func v1(path string) string {
	var b strings.Builder
	for i, c := range []string{"net_cls,net_prio", "perf_event", "hugetlb", "rdma", "freezer", "cpu,cpuacct", "blkio", "cpuset", "memory", "devices", "pids", "misc"} {
		b.WriteString(itoa(13-i) + ":" + c + ":" + path + "\n")
	}
	b.WriteString("1:name=systemd:" + path + "\n")
	return b.String()
}

func hybrid(path, unified string) string { return v1(path) + "0::" + unified + "\n" }

func itoa(i int) string {
	if i >= 10 {
		return string(rune('0'+i/10)) + string(rune('0'+i%10))
	}
	return string(rune('0' + i))
}

var containerCases = []struct {
	name string
	file string
	want Container // ID "" when there is no container
}{
	// containerd, systemd driver, cgroup v2 (kubeadm defaults since 1.22).
	{"containerd systemd v2 burstable",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, uid}},
	{"containerd systemd v2 besteffort",
		"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, uid}},
	{"containerd systemd v2 guaranteed",
		"0::/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, uid}},
	{"containerd systemd v2 no trailing newline",
		"0::/kubepods.slice/kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope",
		Container{cid, uid}},
	{"containerd systemd v2 systemd inside the container",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope/init.scope\n",
		Container{cid, uid}},
	// containerd, cgroupfs driver (k3s, older kubeadm).
	{"containerd cgroupfs v2 burstable",
		"0::/kubepods/burstable/pod" + uid + "/" + cid + "\n",
		Container{cid, uid}},
	{"containerd cgroupfs v2 guaranteed",
		"0::/kubepods/pod" + uid + "/" + cid + "\n",
		Container{cid, uid}},
	{"containerd cgroupfs v1",
		v1("/kubepods/besteffort/pod" + uid + "/" + cid),
		Container{cid, uid}},
	{"containerd systemd v1",
		v1("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope"),
		Container{cid, uid}},
	{"containerd systemd hybrid",
		hybrid("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"+uidU+".slice/cri-containerd-"+cid+".scope",
			"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"+uidU+".slice/cri-containerd-"+cid+".scope"),
		Container{cid, uid}},
	{"containerd cgroupfs hybrid, unified left at the shim's",
		hybrid("/kubepods/burstable/pod"+uid+"/"+cid, "/system.slice/containerd.service"),
		Container{cid, uid}},
	// CRI-O (OpenShift): systemd driver; conmon beside each container.
	{"crio systemd v2",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-" + cid + ".scope\n",
		Container{cid, uid}},
	{"crio systemd v1",
		v1("/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-" + cid + ".scope"),
		Container{cid, uid}},
	{"crio cgroupfs",
		"0::/kubepods/besteffort/pod" + uid + "/crio-" + cid + "\n",
		Container{cid, uid}},
	{"crio conmon is not the container",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope\n",
		Container{}},
	{"crio conmon v1",
		v1("/kubepods.slice/kubepods-pod" + uidU + ".slice/crio-conmon-" + cid + ".scope"),
		Container{}},
	// Docker: alone, and under kubelet (dockershim, cri-dockerd).
	{"docker systemd v2",
		"0::/system.slice/docker-" + cid + ".scope\n",
		Container{cid, ""}},
	{"docker cgroupfs v1",
		v1("/docker/" + cid),
		Container{cid, ""}},
	{"docker cgroupfs v2",
		"0::/docker/" + cid + "\n",
		Container{cid, ""}},
	{"docker in docker",
		"0::/docker/" + cid2 + "/docker/" + cid + "\n",
		Container{cid, ""}},
	{"docker systemd under kubelet",
		v1("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/docker-" + cid + ".scope"),
		Container{cid, uid}},
	{"docker cgroupfs under kubelet",
		v1("/kubepods/burstable/pod" + uid + "/" + cid),
		Container{cid, uid}},
	// Nested: kind nodes are Docker containers running kubelet with the
	// systemd driver under kubelet.slice; from the host, the deepest
	// container is the pod's.
	{"kind from the node",
		"0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, uid}},
	{"kind from the host",
		"0::/system.slice/docker-" + cid2 + ".scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, uid}},
	{"kind node itself from the host",
		"0::/system.slice/docker-" + cid2 + ".scope/init.scope\n",
		Container{cid2, ""}},
	// The systemd driver's cgroupsPath "slice:prefix:id" taken as a
	// plain path, under containerd's own cgroup.
	{"slice:prefix:id containerd",
		"0::/system.slice/containerd.service/kubepods-burstable-pod" + uidU + ".slice:cri-containerd:" + cid + "\n",
		Container{cid, uid}},
	{"slice:prefix:id crio v1",
		v1("/system.slice/crio.service/kubepods-besteffort-pod" + uidU + ".slice:crio:" + cid),
		Container{cid, uid}},
	{"slice:prefix:id unknown prefix",
		"0::/system.slice/containerd.service/kubepods-burstable-pod" + uidU + ".slice:runc:" + cid + "\n",
		Container{}},
	// Read from inside a cgroup namespace of its own (a DaemonSet pod):
	// paths outside it start with "/..".
	{"cgroupns another pod",
		"0::/../../../kubepods-besteffort.slice/kubepods-besteffort-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, uid}},
	{"cgroupns a sibling container",
		"0::/../cri-containerd-" + cid + ".scope\n",
		Container{cid, ""}},
	{"cgroupns own root",
		"0::/\n",
		Container{}},
	{"cgroupns a host service",
		"0::/../../../../system.slice/kubelet.service\n",
		Container{}},
	// Static pods: kubelet names their cgroup by a 32-digit config hash.
	{"static pod",
		"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f3c5b2a9e8d7c6b5a4f3e2d1c0b9a8f.slice/cri-containerd-" + cid + ".scope\n",
		Container{cid, ""}},
	// Not containers.
	{"root", "0::/\n", Container{}},
	{"init", "0::/init.scope\n", Container{}},
	{"service", "0::/system.slice/nginx.service\n", Container{}},
	{"user session", "0::/user.slice/user-1000.slice/session-3.scope\n", Container{}},
	{"user service", "0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-gnome-firefox-4242.scope\n", Container{}},
	{"v1 host", v1("/user.slice/user-0.slice/session-1.scope"), Container{}},
	{"pod cgroup, no container", "0::/kubepods.slice/kubepods-pod" + uidU + ".slice\n", Container{}},
	{"kubepods", "0::/kubepods.slice\n", Container{}},
	{"this machine's", "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/795781e030adf1809635bfa4dfaa598d\n1:cpu:/\n0::/\n", Container{}},
	{"empty", "", Container{}},
	// Ids that are almost ids.
	{"63 hex", "0::/system.slice/docker-" + cid[:63] + ".scope\n", Container{}},
	{"65 hex", "0::/docker/" + cid + "0\n", Container{}},
	{"uppercase hex", "0::/docker/" + strings.ToUpper(cid) + "\n", Container{}},
	{"scope without prefix", "0::/system.slice/" + cid + ".scope\n", Container{}},
	{"unknown runtime", "0::/system.slice/libvirt-" + cid + ".scope\n", Container{}},
	{"pod uid of mixed separators",
		"0::/kubepods/pod3b8f9c2e-4d1a_4e6b-9a7c-5f2e1d0c9b8a/" + cid + "\n",
		Container{cid, ""}},
	{"pod uid in uppercase",
		"0::/kubepods/pod" + strings.ToUpper(uid) + "/" + cid + "\n",
		Container{cid, ""}},
	// Lines that disagree: the preferred hierarchy wins.
	{"v1 lines disagree: name=systemd first",
		"5:memory:/docker/" + cid2 + "\n1:name=systemd:/docker/" + cid + "\n",
		Container{cid, ""}},
	{"v1 lines disagree: pids before memory",
		"5:memory:/docker/" + cid2 + "\n3:pids:/docker/" + cid + "\n",
		Container{cid, ""}},
	{"v1 lines disagree: cpu,cpuacct before blkio",
		"5:blkio:/docker/" + cid2 + "\n3:cpu,cpuacct:/docker/" + cid + "\n",
		Container{cid, ""}},
	{"hybrid disagrees: v1 first",
		"0::/docker/" + cid2 + "\n4:memory:/docker/" + cid + "\n",
		Container{cid, ""}},
	{"v2 before other v1 lines",
		"7:blkio:/docker/" + cid2 + "\n0::/docker/" + cid + "\n",
		Container{cid, ""}},
	{"only a lesser line names it",
		"9:name=systemd:/\n7:blkio:/docker/" + cid + "\n0::/\n",
		Container{cid, ""}},
	// Malformed lines are skipped.
	{"no colons", "/docker/" + cid + "\n", Container{}},
	{"one colon", "0:/docker/" + cid + "\n", Container{}},
	{"relative path", "0::docker/" + cid + "\n", Container{}},
	{"v2 line with a non-zero id", "1::/docker/" + cid + "\n", Container{}},
	{"garbage then a line", "\x00\xff::\n:::\n\n0::/docker/" + cid + "\n", Container{cid, ""}},
	{"crlf", "0::/docker/" + cid + "\r\n", Container{}},
}

func TestContainerOf(t *testing.T) {
	for _, tc := range containerCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ContainerOf([]byte(tc.file))
			if got != tc.want || ok != (tc.want.ID != "") {
				t.Errorf("ContainerOf(%q) = %+v, %v; want %+v, %v", tc.file, got, ok, tc.want, tc.want.ID != "")
			}
		})
	}
}

// TestContainerOfBound: only whole lines of the first MaxCgroupFile
// bytes count.
func TestContainerOfBound(t *testing.T) {
	line := "0::/docker/" + cid + "\n"
	pad := strings.Repeat("x", MaxCgroupFile-len(line))
	// Within the bound, as the last line.
	file := []byte(pad[:len(pad)-1] + "\n" + line)
	if len(file) != MaxCgroupFile {
		t.Fatalf("setup: %d bytes", len(file))
	}
	if got, ok := ContainerOf(file); !ok || got.ID != cid {
		t.Errorf("a line ending at byte MaxCgroupFile: %+v, %v; want %s", got, ok, cid)
	}
	// One byte over: the line is cut short and dropped.
	file = []byte(pad + "\n" + line)
	if got, ok := ContainerOf(file); ok {
		t.Errorf("a line past MaxCgroupFile: %+v, want none", got)
	}
	// A line cut at the bound is dropped whole, even where what is left
	// of it would name a container.
	cut := "0::/kubepods/pod" + uid + "/crio-" + cid + "/more"
	file = append([]byte(strings.Repeat("\n", MaxCgroupFile-len(cut)+len("/more"))), cut...)
	if got, ok := ContainerOf(file); ok {
		t.Errorf("a line cut at MaxCgroupFile: %+v, want none", got)
	}
	// No newline at all in the first MaxCgroupFile bytes.
	huge := bytes.Repeat([]byte("/docker/"+cid), 1<<12)
	if got, ok := ContainerOf(append([]byte("0::"), huge...)); ok {
		t.Errorf("one gigantic line: %+v, want none", got)
	}
	// Many lines within the bound: the last one counts.
	many := strings.Repeat("0::/\n", (MaxCgroupFile-len(line))/5) + line
	if got, ok := ContainerOf([]byte(many)); !ok || got.ID != cid {
		t.Errorf("many lines: %+v, %v", got, ok)
	}
}

// TestContainerOfAllocs: the strings it returns are all it allocates.
func TestContainerOfAllocs(t *testing.T) {
	for _, tc := range []struct {
		file   string
		allocs float64
	}{
		{containerCases[0].file, 2},
		{v1("/kubepods/besteffort/pod" + uid + "/" + cid), 2},
		{"0::/docker/" + cid + "\n", 1},
		{v1("/user.slice/user-0.slice/session-1.scope"), 0},
	} {
		file := []byte(tc.file)
		if n := testing.AllocsPerRun(100, func() { ContainerOf(file) }); n != tc.allocs {
			t.Errorf("ContainerOf(%q): %v allocations, want %v", tc.file, n, tc.allocs)
		}
	}
}

func BenchmarkContainerOf(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"v2", containerCases[0].file},
		{"v1", v1("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uidU + ".slice/cri-containerd-" + cid + ".scope")},
		{"host", "0::/system.slice/nginx.service\n"},
	} {
		file := []byte(bc.file)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(file)))
			for b.Loop() {
				ContainerOf(file)
			}
		})
	}
}
