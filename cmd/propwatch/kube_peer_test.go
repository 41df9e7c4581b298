package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The Kubernetes test's client: it waits, so that the test can move it
// into a container's cgroup before it sends anything, and then sends what
// it is told.
const roleKubeClient = "kube-client"

// runKubePeer runs the Kubernetes test's roles; ok is false for a role of
// another test.
func runKubePeer(role string) (ok bool, err error) {
	if role != roleKubeClient {
		return false, nil
	}
	return true, kubeClient()
}

// kubeClient reads lines "N ADDR" from stdin; for each it opens a
// connection to ADDR, sends N requests with valid trace context over it,
// one at a time, and prints "done". It returns when stdin closes.
func kubeClient() error {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		n, addr, found := strings.Cut(in.Text(), " ")
		count, err := strconv.Atoi(n)
		if !found || err != nil {
			return fmt.Errorf("bad order %q", in.Text())
		}
		c, err := dialPeer(addr)
		if err != nil {
			return err
		}
		for i := range count {
			if err := c.request(get(fmt.Sprint("/kube/", i), validTP)); err != nil {
				c.c.Close()
				return err
			}
		}
		c.c.Close()
		fmt.Println("done")
	}
	return in.Err()
}
