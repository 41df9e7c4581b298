package kube

import (
	"bytes"
	"testing"
)

// FuzzContainerOf: whatever the file, ContainerOf does not panic, an id
// it returns is 64 lowercase hex digits found in the file, a pod UID is
// canonical (8-4-4-4-12 lowercase hex with dashes), and nothing past
// MaxCgroupFile bytes changes the answer. Seeds: the unit test's cases
// and testdata/fuzz/FuzzContainerOf.
func FuzzContainerOf(f *testing.F) {
	for _, tc := range containerCases {
		f.Add([]byte(tc.file))
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		c, ok := ContainerOf(file)
		if !ok {
			if c != (Container{}) {
				t.Fatalf("not ok but %+v", c)
			}
		} else {
			if !isContainerID([]byte(c.ID)) {
				t.Fatalf("id %q is not 64 lowercase hex digits", c.ID)
			}
			if !bytes.Contains(file, []byte(c.ID)) {
				t.Fatalf("id %q is not in the file", c.ID)
			}
			if c.PodUID != "" && (!isUID([]byte(c.PodUID)) || c.PodUID[8] != '-') {
				t.Fatalf("pod UID %q is not a canonical UUID", c.PodUID)
			}
		}
		if len(file) > MaxCgroupFile {
			c2, ok2 := ContainerOf(file[:MaxCgroupFile+1])
			if c2 != c || ok2 != ok {
				t.Fatalf("bytes past MaxCgroupFile changed the answer: %+v, %v vs %+v, %v", c, ok, c2, ok2)
			}
		}
	})
}
