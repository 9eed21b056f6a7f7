package fitter

import (
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// hostView is a host cell plus what Nova derives from it on every access
// (free_pcpus, free_siblings, threads per core). Host cells never change
// while one instance is being fitted, so these are computed once per call,
// and only when needed, instead of once per permutation.
type hostView struct {
	cell *topology.HostCell

	availDone bool
	availPCPU int // len(free_pcpus)
	nPCPU     int // len(pcpuset), valid when availDone
	nCPU      int // len(cpuset) + 1; 0 until computed
	tpc       int // threads per core; 0 until computed

	// freeSibs[i] is siblings[i] & free_pcpus in CPython iteration order.
	freeSibsDone bool
	freeSibs     [][]int
	maxFree      int
	// groupBuf backs sibling_sets[k] lists, rebuilt for each k.
	groupBuf []int
	// flat backs the freeSibs members; kept for reuse.
	flat []int
	// groupSet is the set each group's free members are collected into
	// when a table is needed; kept for reuse.
	groupSet *cpython.Set[int]
	// pinBuf backs the host CPUs of the pinning being computed.
	pinBuf []int
	// reserve backs the emulator-thread CPU search.
	reserve reserveScratch
}

// reset forgets the cell's derived values, keeping buffers (whose stale
// contents are overwritten before use) for the next call.
func (hv *hostView) reset() {
	hv.availDone, hv.tpc, hv.freeSibsDone, hv.maxFree, hv.nCPU = false, 0, false, 0, 0
}

func (hv *hostView) isFree(cpu int) bool {
	return hv.cell.PCPUSet.Contains(cpu) && !hv.cell.PinnedCPUs.Contains(cpu)
}

// avail is NUMACell.avail_pcpus.
func (hv *hostView) avail() int {
	if !hv.availDone {
		n := hv.cell.PCPUSet.Len()
		hv.nPCPU = n
		for cpu := range hv.cell.PinnedCPUs.All {
			if hv.cell.PCPUSet.Contains(cpu) {
				n--
			}
		}
		hv.availPCPU, hv.availDone = n, true
	}
	return hv.availPCPU
}

// lens returns len(pcpuset) and len(cpuset).
func (hv *hostView) lens() (int, int) {
	hv.avail()
	if hv.nCPU == 0 {
		hv.nCPU = hv.cell.CPUSet.Len() + 1
	}
	return hv.nPCPU, hv.nCPU - 1
}

// threadsPerCore is max(map(len, siblings)) or 1; the caller has checked
// that there are sibling groups (Nova raises ValueError otherwise).
func (hv *hostView) threadsPerCore() int {
	if hv.tpc == 0 {
		tpc := 0
		for _, s := range hv.cell.Siblings {
			tpc = max(tpc, s.Len())
		}
		hv.tpc = max(tpc, 1)
	}
	return hv.tpc
}

// freeSiblings is NUMACell.free_siblings: each sibling group intersected
// with the free dedicated CPUs, every group kept (empty ones too), members in
// the order CPython iterates them. The sets are modelled as Nova builds them:
// each field assigned from a sorted list and coerced by oslo.versionedobjects,
// free_pcpus = pcpuset - pinned_cpus, then sibling & free_pcpus.
func (hv *hostView) freeSiblings() [][]int {
	if hv.freeSibsDone {
		return hv.freeSibs
	}
	hv.freeSibsDone = true
	c := hv.cell
	freeLen := hv.avail()
	out := grown(hv.freeSibs, len(c.Siblings)) // every entry is set below
	flat := hv.flat[:0]
	if cap(flat) < freeLen {
		flat = make([]int, 0, freeLen)
	}
	var freeOrder *cpython.Set[int] // built only if some group is not smaller than it
	var memBuf [tinyMax + 1]int
	var freeBuf [tinyMax + 1]bool
	for i, sib := range c.Siblings {
		start := len(flat)
		if freeLen == 0 {
			out[i] = nil // x & set() is empty
			continue
		}
		// The first members, and whether there are more than tinyMax, in
		// one pass.
		members, free := memBuf[:0], freeBuf[:0]
		for m := range sib.All {
			if len(members) > tinyMax {
				break
			}
			members = append(members, m)
			free = append(free, hv.isFree(m))
		}
		n := len(members) // exact when n <= tinyMax
		switch {
		case n == 2 && freeLen > n:
			flat = pairFreeOrder(members[0], members[1], free[0], free[1], flat)
		case n <= tinyMax && freeLen > n:
			// The sibling group is the smaller operand: its order decides.
			flat = tinyOrder(members, free, flat)
		case n > tinyMax && freeLen > sib.Len():
			r := scratch(&hv.groupSet)
			for k := range coerced(sib.Members()).All() {
				if hv.isFree(k) {
					r.Add(k)
				}
			}
			flat = r.AppendTo(flat)
		default:
			// free_pcpus is the smaller (or equal) operand: its order decides.
			if freeOrder == nil {
				freeOrder = coerced(c.PCPUSet.Members()).Difference(coerced(c.PinnedCPUs.Members()))
			}
			r := scratch(&hv.groupSet)
			for k := range freeOrder.All() {
				if sib.Contains(k) {
					r.Add(k)
				}
			}
			flat = r.AppendTo(flat)
		}
		out[i] = flat[start:len(flat):len(flat)]
		hv.maxFree = max(hv.maxFree, len(out[i]))
	}
	hv.freeSibs = out
	hv.flat = flat
	return out
}

// scratch returns *s cleared, allocating it the first time: a cleared set
// is the new set Nova builds.
func scratch(s **cpython.Set[int]) *cpython.Set[int] {
	if *s == nil {
		*s = cpython.NewSet[int]()
	} else {
		(*s).Clear()
	}
	return *s
}

// siblingSets is sibling_sets[k]: indices of the free groups with at least
// k free threads, in host order. The slice is reused by the next call.
func (hv *hostView) siblingSets(k int) []int {
	out := hv.groupBuf[:0]
	if cap(out) < len(hv.freeSibs) {
		out = make([]int, 0, len(hv.freeSibs))
	}
	for i, s := range hv.freeSibs {
		if len(s) >= k {
			out = append(out, i)
		}
	}
	hv.groupBuf = out
	return out
}
