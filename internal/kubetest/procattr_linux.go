package kubetest

import "syscall"

// sysProcAttr: etcd and kube-apiserver die with the test binary, even
// when it ends before its cleanup runs (a -timeout panic, a kill).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
