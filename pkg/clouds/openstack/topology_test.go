package openstack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// readTopology decodes a recorded GET /servers/{id}/topology answer.
func readTopology(t *testing.T, name string) *Topology {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var top Topology
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &top
}

func TestTopologyInstanceRecorded(t *testing.T) {
	for _, tc := range []struct {
		file string
		want topology.InstanceTopology
	}{
		{"nova-numa_vm_1-topology.json", topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.New(0, 1), MemoryMiB: 1024, CPUPinning: map[int]int{}},
			{ID: 1, CPUSet: cpuset.New(2, 3), MemoryMiB: 1024, CPUPinning: map[int]int{}},
		}}},
		// numa_vm_2 asked for vCPUs 2,3 in guest cell 0: the cell order is
		// Nova's guest cell order, the ID the host cell it landed on.
		{"nova-numa_vm_2-topology.json", topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.New(2, 3), MemoryMiB: 1024, CPUPinning: map[int]int{}},
			{ID: 1, CPUSet: cpuset.New(0, 1), MemoryMiB: 1024, CPUPinning: map[int]int{}},
		}}},
		{"nova-ded2_require-topology.json", topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 1, PCPUSet: cpuset.New(0, 1), MemoryMiB: 512, CPUPolicy: topology.CPUPolicyDedicated, CPUPinning: map[int]int{0: 2, 1: 3}},
		}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			top := readTopology(t, tc.file)
			got, err := top.Instance()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("expected %+v\nobserved %+v", tc.want, got)
			}
			// The copy must not alias the API view.
			for i := range got.Cells {
				got.Cells[i].CPUPinning[99] = 99
				if _, ok := top.Nodes[i].CPUPinning[99]; ok {
					t.Errorf("cell %d: CPUPinning aliases the API answer", i)
				}
			}
		})
	}
}

func TestTopologyInstanceDerivesPolicyAndPageSize(t *testing.T) {
	zero, one, page := 0, 1, 2048
	top := &Topology{
		PageSizeKB: &page,
		Nodes: []TopologyNode{
			{VCPUSet: []int{0, 1}, MemoryMB: 256, HostNode: &one, CPUPinning: map[int]int{0: 3}},
			{VCPUSet: []int{2, 3}, MemoryMB: 256, HostNode: &zero},
		},
	}
	got, err := top.Instance()
	if err != nil {
		t.Fatal(err)
	}
	want := topology.InstanceTopology{Cells: []topology.InstanceCell{
		{ID: 1, CPUSet: cpuset.New(1), PCPUSet: cpuset.New(0), MemoryMiB: 256, PageSizeKB: 2048, CPUPolicy: topology.CPUPolicyMixed, CPUPinning: map[int]int{0: 3}},
		{ID: 0, CPUSet: cpuset.New(2, 3), MemoryMiB: 256, PageSizeKB: 2048, CPUPolicy: topology.CPUPolicyMixed},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expected %+v\nobserved %+v", want, got)
	}
	if !got.Pinned() {
		t.Error("a guest with pinned vCPUs must count as pinned for the fitter")
	}
}

func TestTopologyInstanceRejects(t *testing.T) {
	zero := 0
	for _, tc := range []struct {
		name string
		top  *Topology
		want string
	}{
		{"nil", nil, "no NUMA topology"},
		{"no host_node (non-admin view)", &Topology{Nodes: []TopologyNode{{VCPUSet: []int{0}, MemoryMB: 256}}}, "admin"},
		{"pinning outside vcpu_set", &Topology{Nodes: []TopologyNode{{VCPUSet: []int{0}, MemoryMB: 256, HostNode: &zero, CPUPinning: map[int]int{1: 2}}}}, "vCPU 1"},
		{"negative vCPU", &Topology{Nodes: []TopologyNode{{VCPUSet: []int{-1}, MemoryMB: 256, HostNode: &zero}}}, "vCPU -1"},
		{"negative host CPU", &Topology{Nodes: []TopologyNode{{VCPUSet: []int{0}, MemoryMB: 256, HostNode: &zero, CPUPinning: map[int]int{0: -2}}}}, "host CPU -2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.top.Instance()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("expected an error mentioning %q, observed %v", tc.want, err)
			}
			t.Logf("observed: %v", err)
		})
	}
}
