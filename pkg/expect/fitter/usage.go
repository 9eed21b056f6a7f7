package fitter

import (
	"math"
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

func usage(host *topology.HostTopology, inst *topology.InstanceTopology, free bool, prof nova.Profile) (topology.HostTopology, error) {
	// Nova returns the host unchanged when either topology is missing or
	// has no cells.
	if len(host.Cells) == 0 || len(inst.Cells) == 0 {
		return host.Clone(), nil
	}
	sign := 1
	if free {
		sign = -1
	}
	out := topology.HostTopology{Cells: cloneCells(host.Cells)}
	for hi := range host.Cells {
		hc := &host.Cells[hi]
		// Nova builds a new NUMACell copying every field but the usage
		// counters, which it recomputes.
		nc := &out.Cells[hi]
		memUsage := hc.MemoryUsageMiB
		cpuUsage := hc.CPUUsage
		for ii := range inst.Cells {
			ic := &inst.Cells[ii]
			if ic.ID != hc.ID {
				continue
			}
			if err := pageUsage(nc, ic, sign); err != nil {
				return topology.HostTopology{}, err
			}
			memUsage += sign * ic.MemoryMiB
			cpuUsage += sign * ic.CPUSet.Len()
			if ic.CPUPolicy == "" || ic.CPUPolicy == topology.CPUPolicyShared {
				continue
			}
			if ic.CPUPinning == nil && !prof.UsageToleratesUnsetPinning {
				return topology.HostTopology{}, nova.Errorf[*nova.AttributeError]("'NoneType' object has no attribute 'values' (cpu_pinning of a %s instance cell on host cell %d)", ic.CPUPolicy, hc.ID)
			}
			var buf [16]int
			b := buf[:0]
			for _, p := range ic.CPUPinning {
				b = append(b, p)
			}
			cpus := cpuset.New(b...)
			if !ic.CPUSetReserved.IsEmpty() {
				cpus = cpus.Union(ic.CPUSetReserved)
			}
			isolate := ic.CPUThreadPolicy == topology.ThreadPolicyIsolate
			if isolate {
				cpus = withSiblings(nc, cpus)
			}
			var err error
			if free {
				err = unpinCPUs(nc, cpus)
			} else {
				err = pinCPUs(nc, cpus)
			}
			if err != nil {
				return topology.HostTopology{}, err
			}
		}
		nc.MemoryUsageMiB = max(0, memUsage)
		nc.CPUUsage = max(0, cpuUsage)
	}
	return out, nil
}

// pageUsage is _numa_pagesize_usage_from_cell: the guest's memory is counted
// in pages of the size it got, or of the smallest size when it asked for
// none. Nova computes the page count with true division and stores it
// through an integer field, so fractions are truncated after clamping at 0.
func pageUsage(nc *topology.HostCell, ic *topology.InstanceCell, sign int) error {
	size := ic.PageSizeKB
	if size == 0 {
		if len(nc.MemPages) == 0 {
			return nova.Errorf[*nova.IndexError]("list index out of range (host cell %d has no mempages)", nc.ID)
		}
		size = smallestPageSize(nc)
	}
	for i := range nc.MemPages {
		p := &nc.MemPages[i]
		if p.SizeKB != size || p.SizeKB == 0 {
			continue
		}
		pages := float64(ic.MemoryMiB*1024) / float64(p.SizeKB)
		used := float64(p.Used) + pages*float64(sign)
		p.Used = int(math.Trunc(math.Max(0, used)))
	}
	return nil
}

// withSiblings is the set pin_cpus_with_siblings / unpin_cpus_with_siblings
// hand on: every sibling group that holds one of cpus, whole. CPUs in no
// group are dropped, as in Nova.
func withSiblings(nc *topology.HostCell, cpus cpuset.CPUSet) cpuset.CPUSet {
	var buf [32]int
	members := buf[:0]
	for _, sib := range nc.Siblings {
		if sib.Intersects(cpus) {
			for m := range sib.All {
				members = append(members, m)
			}
		}
	}
	return cpuset.New(members...)
}

// pinCPUs is NUMACell.pin_cpus.
func pinCPUs(nc *topology.HostCell, cpus cpuset.CPUSet) error {
	if !cpus.IsSubsetOf(nc.PCPUSet) {
		return nova.Errorf[*nova.CPUPinningUnknown]("CPU set to pin %s must be a subset of known CPU set %s", cpus, nc.PCPUSet)
	}
	if nc.PinnedCPUs.Intersects(cpus) {
		return nova.Errorf[*nova.CPUPinningInvalid]("CPU set to pin %s must be a subset of free CPU set %s", cpus, nc.PCPUSet.Difference(nc.PinnedCPUs))
	}
	if !cpus.IsEmpty() {
		nc.PinnedCPUs = nc.PinnedCPUs.Union(cpus)
	}
	return nil
}

// unpinCPUs is NUMACell.unpin_cpus.
func unpinCPUs(nc *topology.HostCell, cpus cpuset.CPUSet) error {
	if !cpus.IsSubsetOf(nc.PCPUSet) {
		return nova.Errorf[*nova.CPUUnpinningUnknown]("CPU set to unpin %s must be a subset of known CPU set %s", cpus, nc.PCPUSet)
	}
	if !cpus.IsSubsetOf(nc.PinnedCPUs) {
		return nova.Errorf[*nova.CPUUnpinningInvalid]("CPU set to unpin %s must be a subset of pinned CPU set %s", cpus, nc.PinnedCPUs)
	}
	nc.PinnedCPUs = nc.PinnedCPUs.Difference(cpus)
	return nil
}

// cloneCells deep-copies host cells (what HostCell.Clone does per cell)
// with one allocation per kind of slice for the whole topology instead of
// several per cell: the result shares no mutable memory with the input.
func cloneCells(in []topology.HostCell) []topology.HostCell {
	out := make([]topology.HostCell, len(in))
	copy(out, in)
	nSib, nPages, nSock := 0, 0, 0
	for i := range in {
		nSib += len(in[i].Siblings)
		nPages += len(in[i].MemPages)
		if in[i].Socket != nil {
			nSock++
		}
	}
	sibs := make([]cpuset.CPUSet, nSib)
	pages := make([]topology.MemPage, nPages)
	var socks []int
	if nSock > 0 {
		socks = make([]int, nSock)
	}
	for i := range out {
		c := &out[i]
		if c.Siblings != nil {
			n := copy(sibs, c.Siblings)
			c.Siblings, sibs = sibs[:n:n], sibs[n:]
		}
		if c.MemPages != nil {
			n := copy(pages, c.MemPages)
			c.MemPages, pages = pages[:n:n], pages[n:]
		}
		if c.Socket != nil {
			socks[0] = *c.Socket
			c.Socket, socks = &socks[0], socks[1:]
		}
		if c.NetworkMetadata != nil {
			nm := *c.NetworkMetadata
			nm.Physnets = slices.Clone(nm.Physnets)
			c.NetworkMetadata = &nm
		}
	}
	return out
}
