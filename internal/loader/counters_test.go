//go:build linux && (amd64 || arm64)

package loader

import "testing"

// TestCounterNames: every counter the kernel keeps (enum lost_reason,
// enum error_site) has one name, and no two share one, so a site added in
// C without a name in Go fails here rather than reporting as "".
func TestCounterNames(t *testing.T) {
	for list, names := range map[string][]string{"lostNames": lostNames[:], "errorNames": errorNames[:]} {
		seen := map[string]int{}
		for i, name := range names {
			if name == "" {
				t.Errorf("%s[%d] has no name", list, i)
			}
			if j, dup := seen[name]; dup {
				t.Errorf("%s[%d] and [%d] are both %q", list, j, i, name)
			}
			seen[name] = i
		}
	}
}
