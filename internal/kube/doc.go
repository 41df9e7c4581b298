// Package kube names processes and peers by their Kubernetes workloads.
//
// It maps a process to the container it runs in, from its
// /proc/PID/cgroup (ContainerOf), for the cgroup v1, v2 and hybrid
// layouts of containerd, CRI-O and Docker under the systemd and cgroupfs
// drivers.
package kube
