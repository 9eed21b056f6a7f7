package domain

import (
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// TestKernelDiff checks the kernel's view of numa_vm_2 (recorded domain:
// vCPUs 0-1 pinned to 2-3, 2-3 to 0-1, memory strict on nodes 0-1)
// against its XML: the same view conforms; a vCPU thread moved behind
// libvirt's back and a memory cgroup widened are each reported, naming the
// layer, the vCPU and both values.
func TestKernelDiff(t *testing.T) {
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(string(readTestdata(t, "nova-numa_vm_2.xml"))); err != nil {
		t.Fatal(err)
	}
	ok := KernelView{
		VCPUAffinity: []cpuset.CPUSet{cpuset.MustParse("2-3"), cpuset.MustParse("2-3"), cpuset.MustParse("0-1"), cpuset.MustParse("0-1")},
		MemoryNodes:  setPtr("0-1"),
	}
	if diffs := KernelDiff(d, sampleOnline, ok); len(diffs) != 0 {
		t.Fatalf("the kernel obeying the XML: %v", diffs)
	}
	moved := ok
	moved.VCPUAffinity = append([]cpuset.CPUSet(nil), ok.VCPUAffinity...)
	moved.VCPUAffinity[0] = cpuset.MustParse("1")
	moved.MemoryNodes = setPtr("0")
	diffs := KernelDiff(d, sampleOnline, moved)
	want := []Difference{
		{Path: "kernel/vcpu[0]/affinity", Expected: "2-3 (cputune/vcpupin[vcpu=0])", Observed: "1"},
		{Path: "kernel/memory/nodes", Expected: "0-1 (numatune/memory/nodeset)", Observed: "0"},
	}
	if len(diffs) != len(want) || diffs[0] != want[0] || diffs[1] != want[1] {
		t.Errorf("KernelDiff = %v; want %v", diffs, want)
	}

	// Without pins, a vCPU may run on every online CPU, or on <vcpu cpuset>.
	d.CPUTune, d.NUMATune = nil, nil
	if diffs := KernelDiff(d, sampleOnline, KernelView{VCPUAffinity: []cpuset.CPUSet{sampleOnline}}); len(diffs) != 0 {
		t.Errorf("an unpinned vCPU on every online CPU: %v", diffs)
	}
	d.VCPU.CPUSet = "0-1"
	diffs = KernelDiff(d, sampleOnline, KernelView{VCPUAffinity: []cpuset.CPUSet{sampleOnline}})
	if len(diffs) != 1 || diffs[0].Expected != "0-1 (vcpu/cpuset)" || diffs[0].Observed != "0-3" {
		t.Errorf("a vCPU beyond <vcpu cpuset>: %v", diffs)
	}
}
