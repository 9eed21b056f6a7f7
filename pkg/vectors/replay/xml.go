package replay

import (
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

func runGuestNUMAConfig(v vectors.Vector) (outcome, error) {
	return outcome{}, &InputError{ID: v.ID, Reason: "libvirt_xml replay not wired yet"}
}

func runGuestMemoryBacking(v vectors.Vector) (outcome, error) {
	return outcome{}, &InputError{ID: v.ID, Reason: "libvirt_xml replay not wired yet"}
}
