package observe

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/propwatch/propwatch/internal/hint"
	"github.com/propwatch/propwatch/internal/identity"
)

// TestChainHint: checkout, whose executable is a Go program (this test
// binary), receives traced requests from web and calls inventory with
// fresh traces: the pair names Go's fix, from the runtime the observer
// told when it named checkout.
func TestChainHint(t *testing.T) {
	root := procRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(root, fmt.Sprint(clientPID), "exe")); err != nil {
		t.Fatal(err)
	}
	f := newFixtureIn(t, root, func(c *Config) {
		c.LoopbackBothEnds = false
		c.Resolver = identity.NewResolver(identity.Config{ProcRoot: root})
	})
	for n := 1; n <= 3; n++ {
		f.intoCheckout(1, tpOf(n))
		f.fromCheckout(2, tpOf(1000+n))
	}
	f.intoCheckout(1, tpOf(4))
	f.fromCheckout(2)
	s := f.settle()
	out := f.pair(s, "checkout", "inventory")
	if out.NewRoot != 3 || out.Dropped != 1 || out.Hint() != hint.GoPassCtx || out.DroppedHint != hint.HTTPInject {
		t.Errorf("checkout -> inventory: %d new roots, %d dropped, hints %q %q", out.NewRoot, out.Dropped, out.NewRootHint, out.DroppedHint)
	}
	for _, sv := range s.Services {
		want := hint.Unknown // inventory: no executable in this /proc
		if sv.Service == "checkout" {
			want = hint.Go
		}
		if sv.Runtime != want {
			t.Errorf("service %s runs %v, want %v", sv.Service, sv.Runtime, want)
		}
	}
	if hint.ProtocolKafka != ProtocolKafka {
		t.Errorf("hint's Kafka protocol %q, the observer's %q", hint.ProtocolKafka, ProtocolKafka)
	}
}
