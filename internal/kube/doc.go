// Package kube names processes and peers by their Kubernetes workloads.
//
// It maps a process to the container it runs in, from its
// /proc/PID/cgroup (ContainerOf), for the cgroup v1, v2 and hybrid
// layouts of containerd, CRI-O and Docker under the systemd and cgroupfs
// drivers; a container to its pod, and a pod or Service address to its
// service and namespace, from what a Cluster watches through the API
// server (pods, Services, and the metadata of ReplicaSets and Jobs, each
// stored as the little naming reads and capped). A Cluster implements
// identity.Cluster: its lookups answer from memory, whether or not the
// API server still does.
//
// Agents finds the propwatch DaemonSet's pods for the fleet audit and the
// URLs that read their reports through the API server's pod proxy.
package kube
