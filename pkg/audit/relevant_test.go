package audit

import (
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Only servers whose request names NUMA, CPU or page-size settings are
// audited; a plain flavor is skipped, hw:numa_cpus.N alone (which Nova
// ignores) is audited so that its domain is seen to have no NUMA parts.
func TestNUMARelevant(t *testing.T) {
	for _, tc := range []struct {
		specs map[string]string
		image topology.ImageProps
		want  bool
	}{
		{nil, nil, false},
		{map[string]string{"quota:cpu_shares": "1024"}, nil, false},
		{map[string]string{"hw:numa_cpus.0": "0-1"}, nil, true},
		{map[string]string{"hw:cpu_policy": "dedicated"}, nil, true},
		{map[string]string{"hw:mem_page_size": "large"}, nil, true},
		{nil, topology.ImageProps{"hw_numa_nodes": "2"}, true},
		{nil, topology.ImageProps{"hw_disk_bus": "virtio"}, false},
	} {
		if got := numaRelevant(topology.Flavor{ExtraSpecs: tc.specs}, tc.image); got != tc.want {
			t.Errorf("numaRelevant(%v, %v) = %v, want %v", tc.specs, tc.image, got, tc.want)
		}
	}
}
