package fitter

import (
	"maps"
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// cellState is the part of an InstanceNUMACell that Nova's fitting code
// overwrites in place. Nova keeps these changes across permutations (and
// they change later results), so the fitter keeps them here, in a copy,
// while the caller's cell stays untouched.
type cellState struct {
	src      *topology.InstanceCell
	id       int
	pagesize int
	// cpu_pinning is base (the caller's map, never modified; nil is None)
	// updated with the pairs of the last successful packing. Every packing
	// pins the same vCPUs (all of pcpuset, ascending), so Nova's repeated
	// dict updates leave exactly base overlaid with the last pairs, which
	// lets the search run without building a map per attempt.
	base     map[int]int
	overlay  []int // host CPU for vcpus[i], valid when packed
	packed   bool  // a packing succeeded
	packs    int   // successful packings so far
	emptyPin bool  // a packing succeeded with no pairs (later releases)
	reserved cpuset.CPUSet
	// idx is the compact index of id, used by FitInstance's caches.
	idx int
	// vcpus caches the pinned vCPUs in ascending order.
	vcpus     []int
	vcpusDone bool
	nShared   int // len(cpuset) + 1; 0 until computed
}

// ncpus is len(cpuset), the cell's floating vCPUs.
func (s *cellState) ncpus() int {
	if s.nShared == 0 {
		s.nShared = s.src.CPUSet.Len() + 1
	}
	return s.nShared - 1
}

// useArena gives the cell its vCPU list and pinning buffer from arena,
// which must hold 2*len(pcpuset) ints, so that fitting allocates nothing.
func (s *cellState) useArena(arena []int) {
	n := 0
	for v := range s.src.PCPUSet.All {
		arena[n] = v
		n++
	}
	s.vcpus, s.vcpusDone = arena[:n:n], true
	s.overlay = arena[n : n : 2*n]
}

// pcpus returns the cell's pinned vCPUs, ascending (sorted(pcpuset)).
func (s *cellState) pcpus() []int {
	if !s.vcpusDone {
		s.vcpus = s.src.PCPUSet.Members()
		s.vcpusDone = true
	}
	return s.vcpus
}

func newCellState(c *topology.InstanceCell) cellState {
	return cellState{
		src:      c,
		id:       c.ID,
		pagesize: c.PageSizeKB,
		base:     c.CPUPinning,
		reserved: c.CPUSetReserved,
	}
}

// setPinning records a successful packing (pin_vcpus).
func (s *cellState) setPinning(pcpus []int) {
	s.packs++
	if len(pcpus) == 0 {
		s.emptyPin = true
		return
	}
	s.overlay = append(s.overlay[:0], pcpus...)
	s.packed = true
}

// pinningMap is cpu_pinning as Nova would hold it now.
func (s *cellState) pinningMap() map[int]int {
	if !s.packed {
		if s.base == nil && s.emptyPin {
			// Only later releases get here (a mixed cell without pinned
			// vCPUs). Nova leaves cpu_pinning None; an empty map means
			// the same and keeps Usage, which follows Zed, from failing.
			return map[int]int{}
		}
		return maps.Clone(s.base)
	}
	m := make(map[int]int, len(s.base)+len(s.overlay))
	maps.Copy(m, s.base)
	for i, p := range s.overlay {
		m[s.vcpus[i]] = p
	}
	return m
}

// result is the InstanceNUMACell as Nova would hand it back.
func (s *cellState) result() topology.InstanceCell {
	out := *s.src
	out.ID = s.id
	out.PageSizeKB = s.pagesize
	out.CPUPinning = s.pinningMap()
	out.CPUSetReserved = s.reserved
	return out
}

func isPinnedPolicy(p topology.CPUPolicy) bool {
	return p == topology.CPUPolicyDedicated || p == topology.CPUPolicyMixed
}

func isSharedPolicy(p topology.CPUPolicy) bool {
	return p == "" || p == topology.CPUPolicyShared || p == topology.CPUPolicyMixed
}

// fitCell is _numa_fit_instance_cell. It reports whether the cell fits and
// updates st the way Nova updates the instance cell: the page size as soon
// as one is chosen (even if a later check fails), id, pinning and reserved
// CPUs once the CPUs are packed, id again at the very end.
func fitCell(hv *hostView, st *cellState, limits *topology.Limits, reserved int, prof nova.Profile) (bool, error) {
	host := hv.cell
	ic := st.src
	pinned := isPinnedPolicy(ic.CPUPolicy)
	shared := isSharedPolicy(ic.CPUPolicy)
	memKB := ic.MemoryMiB * 1024

	switch {
	case st.pagesize != 0:
		size, err := supportedPageSize(host, st.pagesize, memKB)
		if err != nil {
			return false, err
		}
		if size == 0 {
			return false, nil
		}
		st.pagesize = size
	case len(host.MemPages) > 0:
		smallest := smallestPageSize(host)
		// Zed lets every guest without a page size overcommit small pages;
		// later releases stop pinned guests from doing so.
		useFree := prof.PagesizeAwarePinnedMemory && pinned
		fits, err := canFitPageSize(host, smallest, memKB, useFree)
		if err != nil {
			return false, err
		}
		if !fits {
			return false, nil
		}
	default:
		if prof.PagesizeAwarePinnedMemory && pinned {
			if host.AvailMemoryMiB() < ic.MemoryMiB {
				return false, nil
			}
		} else if ic.MemoryMiB > host.MemoryMiB {
			return false, nil
		}
	}

	npcpus := len(st.pcpus())
	ncpus := st.ncpus()
	hostPCPUs, hostCPUs := hv.lens()
	if pinned && npcpus+reserved > hostPCPUs {
		return false, nil
	}
	if shared && ncpus > hostCPUs {
		return false, nil
	}
	if pinned {
		if npcpus+reserved > hv.avail() {
			return false, nil
		}
		if !prof.PagesizeAwarePinnedMemory && ic.MemoryMiB > host.AvailMemoryMiB() {
			return false, nil
		}
		ok, err := packOntoCores(hv, st, reserved, prof)
		if err != nil || !ok {
			return false, err
		}
	}
	if shared && limits != nil {
		cpuUsage := host.CPUUsage + ncpus
		if float64(cpuUsage) > float64(hostCPUs)*limits.CPUAllocationRatio {
			return false, nil
		}
		ramUsage := host.MemoryUsageMiB + ic.MemoryMiB
		if float64(ramUsage) > float64(host.MemoryMiB)*limits.RAMAllocationRatio {
			return false, nil
		}
	}
	st.id = host.ID
	return true, nil
}

// supportedPageSize is _numa_cell_supports_pagesize_request: the first
// candidate size that fits, 0 when none does. Candidates are the host's
// sizes, largest first: only the smallest for "small", all but the smallest
// for "large", all for "any", and just the requested one otherwise, which
// raises MemoryPageSizeNotSupported when the host lacks it.
func supportedPageSize(host *topology.HostCell, request, memKB int) (int, error) {
	var buf [8]int
	sizes := buf[:0]
	for _, p := range host.MemPages {
		sizes = append(sizes, p.SizeKB)
	}
	slices.Sort(sizes)
	slices.Reverse(sizes)
	var candidates []int
	switch request {
	case topology.PageSizeSmall:
		if len(sizes) > 0 {
			candidates = sizes[len(sizes)-1:]
		}
	case topology.PageSizeLarge:
		if len(sizes) > 0 {
			candidates = sizes[:len(sizes)-1]
		}
	case topology.PageSizeAny:
		candidates = sizes
	default:
		candidates = []int{request}
	}
	for _, size := range candidates {
		fits, err := canFitPageSize(host, size, memKB, true)
		if err != nil {
			return 0, err
		}
		if fits {
			return size, nil
		}
	}
	return 0, nil
}

// canFitPageSize is NUMACell.can_fit_pagesize: the first page entry of that
// size decides; memory must fit in its free (or total) KiB and be a whole
// number of pages.
func canFitPageSize(host *topology.HostCell, size, memKB int, useFree bool) (bool, error) {
	for _, p := range host.MemPages {
		if p.SizeKB != size {
			continue
		}
		avail := p.Total * p.SizeKB
		if useFree {
			avail = p.FreeKB()
		}
		if p.SizeKB == 0 {
			// Python would raise ZeroDivisionError on the modulo; no real
			// host reports a zero page size.
			return false, nil
		}
		return memKB <= avail && memKB%p.SizeKB == 0, nil
	}
	return false, &pageSizeNotSupported{size: size, cell: host.ID}
}

// pageSizeNotSupported is MemoryPageSizeNotSupported before it is formatted:
// numa_fit_instance_to_host swallows it for every pair it tries, so it must
// be cheap; FitCell, where Nova lets it escape, turns it into the
// pkg/nova error.
type pageSizeNotSupported struct{ size, cell int }

func (e *pageSizeNotSupported) Error() string { return e.novaError().Error() }

func (e *pageSizeNotSupported) novaError() error {
	return nova.Errorf[*nova.MemoryPageSizeNotSupported]("page size %d KiB not offered by host cell %d", e.size, e.cell)
}

// smallestPageSize is _get_smallest_pagesize; the caller ensures the cell
// has mempages.
func smallestPageSize(host *topology.HostCell) int {
	s := host.MemPages[0].SizeKB
	for _, p := range host.MemPages[1:] {
		s = min(s, p.SizeKB)
	}
	return s
}
