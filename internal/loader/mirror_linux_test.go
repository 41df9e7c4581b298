//go:build linux && (amd64 || arm64)

package loader

import (
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
)

// TestMirroredConstants: the Go constants that stand for constants of the
// capture program (bpf/) agree with both compiled objects. The values Go
// takes from the generated bindings (syscall ids and numbers, lost
// reasons, struct layouts) need no such check; these are the ones Go
// states itself. Needs neither root nor eBPF.
func TestMirroredConstants(t *testing.T) {
	for _, obj := range []string{"capture_x86_bpfel.o", "capture_arm64_bpfel.o"} {
		spec, err := ebpf.LoadCollectionSpec(obj)
		if err != nil {
			t.Fatal(err)
		}

		// The defaults of the volatile const knobs Go sets before loading.
		for _, c := range []struct {
			cvar   string
			cname  string
			goName string
			goVal  uint32
		}{
			{captureVarCaptureBytes, "CAPTURE_MAX", "DefaultCaptureBytes", DefaultCaptureBytes},
			{captureVarHeadBudget, "HEAD_BUDGET_DEFAULT", "HeadBudget", HeadBudget},
			{captureVarKafkaBudget, "KAFKA_BUDGET_DEFAULT", "DefaultKafkaCaptureBytes", DefaultKafkaCaptureBytes},
		} {
			var got uint32
			if vs, ok := spec.Variables[c.cvar]; !ok {
				t.Errorf("%s: no variable %s", obj, c.cvar)
			} else if err := vs.Get(&got); err != nil {
				t.Errorf("%s: read %s: %v", obj, c.cvar, err)
			} else if got != c.goVal {
				t.Errorf("%s: %s defaults to %d (%s), but Go's %s is %d", obj, c.cvar, got, c.cname, c.goName, c.goVal)
			}
		}

		// The maps whose sizes Go relies on.
		for _, c := range []struct {
			m         string
			what      string
			got, want uint32
			goName    string
		}{
			{captureMapPwEvents, "max_entries (RINGBUF_DEFAULT_BYTES)", spec.Maps[captureMapPwEvents].MaxEntries,
				DefaultRingBufferBytes, "DefaultRingBufferBytes"},
			{captureMapPwLost, "max_entries (LOST_REASONS)", spec.Maps[captureMapPwLost].MaxEntries,
				uint32(len(lostNames)), "len(lostNames)"},
			{captureMapPwLost, "value size", spec.Maps[captureMapPwLost].ValueSize,
				uint32(unsafe.Sizeof(uint64(0))), "the uint64 counters readLost sums"},
			{captureMapPwErrors, "max_entries (ERROR_SITES)", spec.Maps[captureMapPwErrors].MaxEntries,
				uint32(len(errorNames)), "len(errorNames)"},
			{captureMapPwErrors, "value size", spec.Maps[captureMapPwErrors].ValueSize,
				uint32(unsafe.Sizeof(uint64(0))), "the uint64 counters readErrors sums"},
			{captureMapPwHeads, "key size", spec.Maps[captureMapPwHeads].KeySize,
				uint32(unsafe.Sizeof(captureHeadKey{})), "captureHeadKey (HeadDone)"},
			{captureMapPwOwners, "key size", spec.Maps[captureMapPwOwners].KeySize,
				uint32(unsafe.Sizeof(captureConnKey{})), "captureConnKey (Owner)"},
			{captureMapPwOwners, "value size", spec.Maps[captureMapPwOwners].ValueSize,
				uint32(unsafe.Sizeof(captureOwner{})), "captureOwner (Owner)"},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s %s is %d, but Go's %s is %d", obj, c.m, c.what, c.got, c.goName, c.want)
			}
		}
	}

	// The values of struct event's direction and proto (enum direction,
	// enum proto) that Event.Direction and Event.Protocol take as they are.
	for _, c := range []struct {
		name      string
		got, want uint32
	}{
		{"Egress", uint32(Egress), uint32(captureDirectionDIR_EGRESS)},
		{"Ingress", uint32(Ingress), uint32(captureDirectionDIR_INGRESS)},
		{"HTTP1", uint32(HTTP1), uint32(captureProtoPROTO_HTTP)},
		{"Kafka", uint32(Kafka), uint32(captureProtoPROTO_KAFKA)},
		{"HTTP2", uint32(HTTP2), uint32(captureProtoPROTO_HTTP2)},
		{"TLSHello", uint32(TLSHello), uint32(captureProtoPROTO_TLS_HELLO)},
	} {
		if c.got != c.want {
			t.Errorf("Go's %s is %d, but the capture program's is %d", c.name, c.got, c.want)
		}
	}

	// struct event's data holds CAPTURE_MAX bytes, the most CaptureBytes
	// may ask for.
	if n := len(captureEvent{}.Data); n != DefaultCaptureBytes {
		t.Errorf("struct event's data holds %d bytes (CAPTURE_MAX), but Go's DefaultCaptureBytes is %d", n, DefaultCaptureBytes)
	}
}
