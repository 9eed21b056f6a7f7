package domain

import (
	"fmt"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// KernelView is what the host's kernel applies to a running domain, as
// libvirt reports it over a read-only connection. The domain XML is what
// libvirt was told; this is what the vCPU threads and the memory cgroup
// actually have, which a change behind libvirt's back (a cgroup write, a
// taskset) alters without touching the XML.
type KernelView struct {
	// VCPUAffinity is each vCPU thread's CPU affinity, by vCPU number.
	// Source: virDomainGetVcpus, which for a running QEMU domain asks the
	// kernel for each vCPU thread's affinity (sched_getaffinity); it does
	// not echo <vcpupin>.
	VCPUAffinity []cpuset.CPUSet
	// MemoryNodes is the host nodes the domain's memory may come from;
	// nil when libvirt does not say. Source: virDomainGetNumaParameters on
	// the live domain (numa_nodeset). Not yet established here is whether
	// libvirt 9.0 reads it back from the domain cgroup's cpuset.mems or
	// returns its own record of what it set there: on the one-node test
	// host both are node 0. Until that is shown, a match proves less than
	// the vCPU affinities do.
	MemoryNodes *cpuset.CPUSet
}

// KernelLayer starts the path of every difference found in the kernel's
// view ("kernel/vcpu[0]/affinity"), so a report tells it from a difference
// in the XML.
const KernelLayer = "kernel/"

// KernelDiff compares the kernel's view of a running domain with what its
// live definition d asks for, on a host whose online CPUs are online: each
// vCPU's affinity is its <vcpupin>, else <vcpu cpuset>, else every online
// CPU; the memory nodes are <numatune><memory nodeset> in strict or
// restrictive mode. Expected is the XML's value, Observed the kernel's.
func KernelDiff(d *libvirtxml.Domain, online cpuset.CPUSet, v KernelView) []Difference {
	var out []Difference
	for i, got := range v.VCPUAffinity {
		want, source := vcpuAffinity(d, i, online)
		if !got.Equal(want) {
			out = append(out, Difference{
				Path:     fmt.Sprintf("%svcpu[%d]/affinity", KernelLayer, i),
				Expected: fmt.Sprintf("%s (%s)", want, source),
				Observed: got.String(),
			})
		}
	}
	if want, ok := memoryNodes(d); ok && v.MemoryNodes != nil && !v.MemoryNodes.Equal(want) {
		out = append(out, Difference{
			Path:     KernelLayer + "memory/nodes",
			Expected: want.String() + " (numatune/memory/nodeset)",
			Observed: v.MemoryNodes.String(),
		})
	}
	return out
}

// vcpuAffinity is the affinity d gives vCPU i, and which element says so.
func vcpuAffinity(d *libvirtxml.Domain, i int, online cpuset.CPUSet) (cpuset.CPUSet, string) {
	if d.CPUTune != nil {
		for _, p := range d.CPUTune.VCPUPin {
			if int(p.VCPU) == i {
				if s, err := cpuset.Parse(p.CPUSet); err == nil {
					return s, fmt.Sprintf("cputune/vcpupin[vcpu=%d]", i)
				}
			}
		}
	}
	if d.VCPU != nil && d.VCPU.CPUSet != "" {
		if s, err := cpuset.Parse(d.VCPU.CPUSet); err == nil {
			return s, "vcpu/cpuset"
		}
	}
	return online, "no pin: every online host CPU"
}

// memoryNodes is the nodeset d binds its memory to, when it binds it.
func memoryNodes(d *libvirtxml.Domain) (cpuset.CPUSet, bool) {
	if d.NUMATune == nil || d.NUMATune.Memory == nil || d.NUMATune.Memory.Nodeset == "" {
		return cpuset.CPUSet{}, false
	}
	mode := strings.ToLower(d.NUMATune.Memory.Mode)
	if mode != "" && mode != "strict" && mode != "restrictive" {
		return cpuset.CPUSet{}, false // preferred/interleave do not restrict cpuset.mems
	}
	s, err := cpuset.Parse(d.NUMATune.Memory.Nodeset)
	return s, err == nil
}
