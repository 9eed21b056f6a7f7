// Package topology is the data model shared by the reference fitter, the
// expected-XML builder and the harness: what a host's NUMA cells hold, what a
// guest asked for, and where the guest's cells landed.
//
// The types mirror Nova's objects (NUMATopology / NUMACell,
// InstanceNUMATopology / InstanceNUMACell, NUMATopologyLimits) closely enough
// that the nova-numa-vectors/1 JSON schema decodes straight into them. Fields
// Nova leaves unset decode to zero values, which the fitter treats exactly as
// Nova treats the unset field.
package topology

import (
	"maps"
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// Page sizes an instance cell may request instead of a concrete size in KiB.
// The values are Nova's MEMPAGES_SMALL / _LARGE / _ANY constants.
const (
	PageSizeSmall = -1
	PageSizeLarge = -2
	PageSizeAny   = -3
)

// CPUPolicy is hw:cpu_policy / hw_cpu_policy. The empty string means unset.
type CPUPolicy string

// CPU allocation policies Nova knows.
const (
	CPUPolicyShared    CPUPolicy = "shared"
	CPUPolicyDedicated CPUPolicy = "dedicated"
	CPUPolicyMixed     CPUPolicy = "mixed"
)

// ThreadPolicy is hw:cpu_thread_policy / hw_cpu_thread_policy. The empty
// string means unset, which pins like "prefer".
type ThreadPolicy string

// CPU thread allocation policies Nova knows.
const (
	ThreadPolicyPrefer  ThreadPolicy = "prefer"
	ThreadPolicyIsolate ThreadPolicy = "isolate"
	ThreadPolicyRequire ThreadPolicy = "require"
)

// EmulatorThreadsPolicy is hw:emulator_threads_policy. The empty string
// means unset.
type EmulatorThreadsPolicy string

// Emulator threads policies Nova knows.
const (
	EmulatorThreadsShare   EmulatorThreadsPolicy = "share"
	EmulatorThreadsIsolate EmulatorThreadsPolicy = "isolate"
)

// MemPage is one page size a host cell offers (Nova's NUMAPagesTopology).
type MemPage struct {
	SizeKB   int `json:"size_kb"`
	Total    int `json:"total"`
	Used     int `json:"used"`
	Reserved int `json:"reserved"`
}

// FreeKB is the memory still available in pages of this size.
func (p MemPage) FreeKB() int { return (p.Total - p.Used - p.Reserved) * p.SizeKB }

// NetworkMetadata is the physical networks and tunnelling a host cell is
// affined to (Nova's NetworkMetadata).
type NetworkMetadata struct {
	Physnets []string `json:"physnets"`
	Tunneled bool     `json:"tunneled"`
}

// HostCell is one host NUMA node as Nova's resource tracker sees it,
// including what is already used on it.
type HostCell struct {
	ID int `json:"id"`
	// CPUSet holds the host CPUs floating (shared) vCPUs may run on.
	CPUSet cpuset.CPUSet `json:"cpuset"`
	// PCPUSet holds the host CPUs dedicated vCPUs may be pinned to.
	PCPUSet cpuset.CPUSet `json:"pcpuset"`
	// PinnedCPUs is the subset of PCPUSet already taken by pinned guests.
	PinnedCPUs cpuset.CPUSet `json:"pinned_cpus"`
	// MemoryMiB is the cell's memory.
	MemoryMiB int `json:"memory"`
	// CPUUsage counts the floating vCPUs of guests placed here.
	CPUUsage int `json:"cpu_usage"`
	// MemoryUsageMiB is the guest memory placed here.
	MemoryUsageMiB int  `json:"memory_usage"`
	Socket         *int `json:"socket"`
	// Siblings lists the thread-sibling groups. Their order is significant:
	// pinning walks them in this order.
	Siblings []cpuset.CPUSet `json:"siblings"`
	// MemPages is nil when the host reports no page sizes, which sends the
	// fitter down Nova's no-mempages branch.
	MemPages        []MemPage        `json:"mempages"`
	NetworkMetadata *NetworkMetadata `json:"network_metadata,omitempty"`
}

// FreePCPUs returns the dedicated CPUs not yet pinned.
func (c HostCell) FreePCPUs() cpuset.CPUSet { return c.PCPUSet.Difference(c.PinnedCPUs) }

// AvailMemoryMiB is the memory not yet used by guests.
func (c HostCell) AvailMemoryMiB() int { return c.MemoryMiB - c.MemoryUsageMiB }

// Clone returns a deep copy, so that a fitter can account usage on it without
// the caller seeing the change.
func (c HostCell) Clone() HostCell {
	c.Siblings = slices.Clone(c.Siblings)
	c.MemPages = slices.Clone(c.MemPages)
	if c.Socket != nil {
		s := *c.Socket
		c.Socket = &s
	}
	if c.NetworkMetadata != nil {
		nm := *c.NetworkMetadata
		nm.Physnets = slices.Clone(nm.Physnets)
		c.NetworkMetadata = &nm
	}
	return c
}

// HostTopology is a host's NUMA cells in the order Nova lists them.
type HostTopology struct {
	Cells []HostCell `json:"cells"`
}

// Clone returns a deep copy.
func (h HostTopology) Clone() HostTopology {
	out := HostTopology{Cells: make([]HostCell, len(h.Cells))}
	for i, c := range h.Cells {
		out.Cells[i] = c.Clone()
	}
	return out
}

// InstanceCell is one guest NUMA cell. Before fitting, ID is the guest cell
// index; after fitting, it is the id of the host cell the guest cell landed
// on (Nova overwrites it the same way).
type InstanceCell struct {
	ID int `json:"id"`
	// CPUSet holds the guest vCPUs of this cell that float.
	CPUSet cpuset.CPUSet `json:"cpuset"`
	// PCPUSet holds the guest vCPUs of this cell that are pinned.
	PCPUSet   cpuset.CPUSet `json:"pcpuset"`
	MemoryMiB int           `json:"memory"`
	// PageSizeKB is 0 when no page size was requested, one of the
	// PageSize* constants before fitting, and a concrete size after.
	PageSizeKB      int          `json:"pagesize"`
	CPUPolicy       CPUPolicy    `json:"cpu_policy"`
	CPUThreadPolicy ThreadPolicy `json:"cpu_thread_policy"`
	// CPUPinning maps guest vCPU to host CPU for the pinned vCPUs.
	CPUPinning map[int]int `json:"cpu_pinning"`
	// CPUSetReserved holds the host CPU reserved for emulator threads
	// (emulator_threads_policy=isolate), on the cell that hosts guest cell 0.
	CPUSetReserved cpuset.CPUSet `json:"cpuset_reserved"`
}

// VCPUs returns all the guest vCPUs of the cell, floating and pinned.
func (c InstanceCell) VCPUs() cpuset.CPUSet { return c.CPUSet.Union(c.PCPUSet) }

// Clone returns a deep copy.
func (c InstanceCell) Clone() InstanceCell {
	if c.CPUPinning != nil {
		c.CPUPinning = maps.Clone(c.CPUPinning)
	}
	return c
}

// InstanceTopology is what a guest asked for (from numa_get_constraints) or,
// after fitting, where it landed.
type InstanceTopology struct {
	Cells                 []InstanceCell        `json:"cells"`
	EmulatorThreadsPolicy EmulatorThreadsPolicy `json:"emulator_threads_policy"`
}

// Clone returns a deep copy.
func (t InstanceTopology) Clone() InstanceTopology {
	out := t
	out.Cells = make([]InstanceCell, len(t.Cells))
	for i, c := range t.Cells {
		out.Cells[i] = c.Clone()
	}
	return out
}

// Pinned reports whether any cell has pinned vCPUs, which is what Nova's
// cpu_pinning_requested means.
func (t InstanceTopology) Pinned() bool {
	for _, c := range t.Cells {
		if c.CPUPolicy == CPUPolicyDedicated || c.CPUPolicy == CPUPolicyMixed {
			return true
		}
	}
	return false
}

// Limits are the overcommit ratios the scheduler and the claim apply (Nova's
// NUMATopologyLimits). A nil *Limits means no limits.
type Limits struct {
	CPUAllocationRatio float64          `json:"cpu_allocation_ratio"`
	RAMAllocationRatio float64          `json:"ram_allocation_ratio"`
	NetworkMetadata    *NetworkMetadata `json:"network_metadata,omitempty"`
}

// Flavor is the part of a Nova flavor that shapes NUMA placement.
type Flavor struct {
	Name       string            `json:"name,omitempty"`
	VCPUs      int               `json:"vcpus"`
	MemoryMB   int               `json:"memory_mb"`
	ExtraSpecs map[string]string `json:"extra_specs"`
}

// ImageProps are Glance image properties as a user sets them: every value a
// string ("2", "true", "0-3").
type ImageProps map[string]string

// GuestCPUTopology is a guest's <cpu><topology>: sockets × cores × threads.
type GuestCPUTopology struct {
	Sockets int `json:"sockets"`
	Cores   int `json:"cores"`
	Threads int `json:"threads"`
}
