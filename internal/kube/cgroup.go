package kube

import "bytes"

// MaxCgroupFile is the most of a /proc/PID/cgroup file that ContainerOf
// looks at: callers read at most this many bytes. A real file is a line
// per hierarchy (about a dozen under cgroup v1, one under v2) of a few
// hundred bytes at most; the bound keeps a hostile or gigantic file from
// costing more than that.
const MaxCgroupFile = 8 << 10

// Container is what a process's cgroup path says about the container it
// runs in.
type Container struct {
	ID     string // the container id: 64 lowercase hex digits (containerd, CRI-O, Docker)
	PodUID string // the pod's UID with dashes (kubelet writes it with underscores under the systemd driver), "" if the path does not name one
}

// ContainerOf parses /proc/PID/cgroup contents (lines of
// "hierarchy-id:controllers:path") and returns the container the process
// runs in, and false when no path names one (a host service, a user
// session, the root cgroup).
//
// The container is the deepest cgroup of the path that names one, so a
// pod's container inside a kind node (itself a container) is the pod's,
// and cgroups a container makes below its own (systemd inside it) are
// seen through. Each layout names the container by its last path
// element, and the pod by the one above it:
//
//	systemd driver   .../kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
//	                 (crio-<id>.scope for CRI-O, docker-<id>.scope for Docker;
//	                 guaranteed pods: .../kubepods-pod<uid>.slice/...)
//	cgroupfs driver  .../kubepods/burstable/pod<uid>/<id> (crio-<id> for CRI-O)
//	Docker alone     /system.slice/docker-<id>.scope, /docker/<id>
//	slice:prefix:id  .../kubepods-burstable-pod<uid>.slice:cri-containerd:<id>
//	                 (a systemd cgroupsPath taken as a plain path, when the
//	                 runtime's driver is cgroupfs and kubelet's is systemd)
//
// CRI-O's conmon (crio-conmon-<id>.scope) monitors a container but is not
// one. A path may start anywhere, with a prefix (/kubelet.slice/...) or
// with "/.." elements when the reader is in a cgroup namespace of its
// own: then a sibling container of the reader's pod shows no pod element,
// and PodUID is "". Static pods name their cgroup by a 32-digit hash, not
// a UUID: their PodUID is "" too; the container id still identifies them.
//
// Under cgroup v1 and hybrid layouts every hierarchy has a line, and they
// normally agree; the name=systemd, pids, memory and cpu lines are
// preferred, in that order, then the v2 line (0::), then the others.
// Only the first MaxCgroupFile bytes are read, and only whole lines of
// them. ContainerOf never panics; it allocates only the strings it
// returns.
func ContainerOf(cgroupFile []byte) (Container, bool) {
	data := cgroupFile
	if len(data) > MaxCgroupFile {
		// The last line may have been cut short: drop it.
		data = data[:MaxCgroupFile]
		i := bytes.LastIndexByte(data, '\n')
		if i < 0 {
			return Container{}, false
		}
		data = data[:i]
	}
	best := rankNone
	var id, pod []byte
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		rank, path, ok := splitLine(line)
		if !ok || rank >= best {
			continue
		}
		if i, p, ok := containerIn(path); ok {
			best, id, pod = rank, i, p
		}
	}
	if id == nil {
		return Container{}, false
	}
	return Container{ID: string(id), PodUID: podUID(pod)}, true
}

// The preference of a line's hierarchy, lowest first.
const (
	rankSystemd = iota // name=systemd
	rankPids
	rankMemory
	rankCPU
	rankV2 // 0::
	rankOther
	rankNone
)

// splitLine splits a line of /proc/PID/cgroup into the rank of its
// hierarchy and its path. The path is everything after the second colon:
// it may hold colons itself.
func splitLine(line []byte) (rank int, path []byte, ok bool) {
	hier, rest, ok := bytes.Cut(line, []byte{':'})
	if !ok {
		return 0, nil, false
	}
	controllers, path, ok := bytes.Cut(rest, []byte{':'})
	if !ok || len(path) == 0 || path[0] != '/' {
		return 0, nil, false
	}
	if len(controllers) == 0 {
		if string(hier) != "0" {
			return 0, nil, false
		}
		return rankV2, path, true
	}
	rank = rankOther
	for len(controllers) > 0 {
		var c []byte
		c, controllers, _ = bytes.Cut(controllers, []byte{','})
		r := rankOther
		switch string(c) {
		case "name=systemd":
			r = rankSystemd
		case "pids":
			r = rankPids
		case "memory":
			r = rankMemory
		case "cpu":
			r = rankCPU
		}
		rank = min(rank, r)
	}
	return rank, path, true
}

// containerIn finds the deepest element of a cgroup path that names a
// container and returns its id and the raw pod UID (36 characters,
// dashes or underscores) of the element that holds it, nil when that
// does not name a pod.
func containerIn(path []byte) (id, pod []byte, ok bool) {
	for end := len(path); end > 0; {
		start := bytes.LastIndexByte(path[:end], '/') + 1
		elem := path[start:end]
		end = max(start-1, 0)
		id, slice, ok := containerElem(elem)
		if !ok {
			continue
		}
		if slice == nil && end > 0 {
			// The parent element.
			slice = path[bytes.LastIndexByte(path[:end], '/')+1 : end]
		}
		return id, podElem(slice), true
	}
	return nil, nil, false
}

// The prefixes of a container's cgroup under each runtime, in the
// systemd driver's "<prefix>-<id>.scope" and in its "slice:prefix:id"
// cgroupsPath. CRI-O's cgroupfs driver uses "crio-<id>" too.
var runtimePrefixes = [...]string{"cri-containerd", "crio", "docker"}

// containerElem says whether one element of a cgroup path names a
// container, and returns its id and, for the "slice:prefix:id" form, the
// slice that names its pod.
func containerElem(elem []byte) (id, slice []byte, ok bool) {
	if i := bytes.IndexByte(elem, ':'); i >= 0 {
		// slice:prefix:id
		slice, rest := elem[:i], elem[i+1:]
		prefix, id, ok := bytes.Cut(rest, []byte{':'})
		if !ok || !isRuntime(prefix) || !isContainerID(id) {
			return nil, nil, false
		}
		return id, slice, true
	}
	if isContainerID(elem) {
		return elem, nil, true // cgroupfs: the bare id
	}
	name := bytes.TrimSuffix(elem, []byte(".scope"))
	for _, p := range runtimePrefixes {
		if len(name) == len(p)+1+64 && string(name[:len(p)]) == p && name[len(p)] == '-' && isContainerID(name[len(p)+1:]) {
			return name[len(p)+1:], nil, true
		}
	}
	return nil, nil, false
}

func isRuntime(prefix []byte) bool {
	for _, p := range runtimePrefixes {
		if string(prefix) == p {
			return true
		}
	}
	return false
}

// isContainerID says whether b is 64 lowercase hex digits.
func isContainerID(b []byte) bool {
	if len(b) != 64 {
		return false
	}
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// podElem returns the pod UID named by the cgroup element of a pod, as
// written there (dashes under cgroupfs, underscores under systemd), or
// nil: "pod<uid>" (cgroupfs), "<parent>-pod<uid>.slice" (systemd).
func podElem(elem []byte) []byte {
	elem = bytes.TrimSuffix(elem, []byte(".slice"))
	var uid []byte
	if rest, ok := bytes.CutPrefix(elem, []byte("pod")); ok {
		uid = rest
	} else if i := bytes.LastIndex(elem, []byte("-pod")); i >= 0 {
		uid = elem[i+len("-pod"):]
	}
	if !isUID(uid) {
		return nil
	}
	return uid
}

// isUID says whether b is a UUID in lowercase hex, 8-4-4-4-12, its groups
// separated all by dashes or all by underscores.
func isUID(b []byte) bool {
	if len(b) != 36 {
		return false
	}
	sep := b[8]
	if sep != '-' && sep != '_' {
		return false
	}
	for i, c := range b {
		switch i {
		case 8, 13, 18, 23:
			if c != sep {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// podUID writes a raw pod UID of podElem with dashes; "" for nil.
func podUID(raw []byte) string {
	if raw == nil {
		return ""
	}
	var b [36]byte
	copy(b[:], raw)
	for _, i := range [...]int{8, 13, 18, 23} {
		b[i] = '-'
	}
	return string(b[:])
}
