package fitter

import (
	"slices"
	"sync"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Pair-cache states. Nova keeps two sets of (host cell id, instance cell id)
// pairs; a pair can only ever be in one of them, so one byte per pair does.
const (
	pairUnknown uint8 = iota
	pairFits
	pairNoFit
)

// fitRun is one numa_fit_instance_to_host call: the host cells in the order
// permutations are taken from, the mutable instance cells, and the caches.
// Its slices are reused through runPool, since a harness fits many guests
// and most of the time of a small fit would otherwise go to allocation.
type fitRun struct {
	hostCells []topology.HostCell
	store     []hostView // one per host cell, in host order
	order     []int      // host_cells order (after sorting), indices into store
	cells     []cellState
	limits    *topology.Limits
	prof      nova.Profile
	isolate   bool
	nm        *topology.NetworkMetadata
	arena     []int // backs the cells' vCPU lists and pinning buffers
	ids       []int // distinct ids, position = compact index
	nIDs      int
	cache     []uint8 // [hostIdx*nIDs + instIdx]
	hostIdx   []int   // compact id index of the i-th host cell in host_cells order
	perm      []int
	used      []bool
	found     bool
	err       error
	chosen    []int     // host_cells positions chosen for the guest cells so far
	memo      []fitMemo // [view index * len(cells) + cell index]
	gen       uint64    // run counter; memo entries of older runs are stale
}

var runPool = sync.Pool{New: func() any { return new(fitRun) }}

// errPageSizeNotSupported stands for a remembered MemoryPageSizeNotSupported
// inside FitInstance, which swallows it.
var errPageSizeNotSupported = &pageSizeNotSupported{}

// resized returns s with length n and zeroed elements, reusing its array.
func resized[T any](s []T, n int) []T {
	s = grown(s, n)
	clear(s)
	return s
}

// grown returns s with length n, reusing its array; elements are stale and
// must all be written before they are read.
func grown[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// release returns r to the pool. Slices keep stale pointers into the last
// caller's topologies (clearing them costs write barriers on every call);
// they are overwritten before use, and the pool drops idle runs at GC.
func (r *fitRun) release() {
	for i := range r.store {
		r.store[i].reset()
	}
	r.hostCells, r.limits, r.nm, r.err, r.found = nil, nil, nil, nil, false
	runPool.Put(r)
}

// index returns the compact index of id, adding it if new. Cache keys are
// ids, which Nova compares by value: every id that can occur (host ids and
// the instance cells' ids before Nova overwrites them with host ids) gets a
// small index.
func (r *fitRun) index(id int) int {
	if i := slices.Index(r.ids, id); i >= 0 {
		return i
	}
	r.ids = append(r.ids, id)
	return len(r.ids) - 1
}

func fitInstance(host *topology.HostTopology, inst *topology.InstanceTopology, limits *topology.Limits, opts Options) (*topology.InstanceTopology, error) {
	n, k := len(host.Cells), len(inst.Cells)
	if n == 0 || k == 0 || n < k {
		return nil, nil
	}
	r := runPool.Get().(*fitRun)
	defer r.release()
	r.hostCells = host.Cells
	r.limits = limits
	r.prof = opts.profile()
	r.isolate = inst.EmulatorThreadsPolicy == topology.EmulatorThreadsIsolate
	if limits != nil {
		r.nm = limits.NetworkMetadata
	}

	if cap(r.store) < n {
		r.store = make([]hostView, n)
	}
	r.store = r.store[:n]
	r.order = grown(r.order, n)
	for i := range host.Cells {
		r.store[i].cell = &host.Cells[i]
		r.order[i] = i
	}
	if n > k {
		sortHostCells(r.store, r.order, inst.Cells[0].CPUPolicy, opts.Pack)
	}
	r.ids = r.ids[:0]
	r.hostIdx = grown(r.hostIdx, n)
	for i, o := range r.order {
		r.hostIdx[i] = r.index(r.store[o].cell.ID)
	}
	r.cells = grown(r.cells, k)
	total := 0
	for i := range inst.Cells {
		total += inst.Cells[i].PCPUSet.Len()
	}
	r.arena = grown(r.arena, 2*total)
	arena := r.arena
	for i := range inst.Cells {
		st := &r.cells[i]
		*st = newCellState(&inst.Cells[i])
		st.idx = r.index(inst.Cells[i].ID)
		n := 2 * inst.Cells[i].PCPUSet.Len()
		st.useArena(arena[:n:n])
		arena = arena[n:]
	}
	r.nIDs = len(r.ids)
	r.cache = resized(r.cache, r.nIDs*r.nIDs)
	r.perm = grown(r.perm, k)
	r.used = resized(r.used, n)
	r.chosen = grown(r.chosen, k)
	r.gen++
	if len(r.memo) < n*k {
		r.memo = append(r.memo, make([]fitMemo, n*k-len(r.memo))...)
	}

	r.permute(0)
	if r.err != nil {
		return nil, r.err
	}
	if !r.found {
		return nil, nil
	}
	out := &topology.InstanceTopology{
		Cells:                 make([]topology.InstanceCell, k),
		EmulatorThreadsPolicy: inst.EmulatorThreadsPolicy,
	}
	for i := range r.cells {
		out.Cells[i] = r.cells[i].result()
	}
	return out, nil
}

// sortHostCells applies Nova's three stable sorts (the last one dominates):
// by free memory, then by shared CPU usage (shared or unset policy) or by
// free dedicated CPUs (pinned policies). The PCI sort never applies: there
// are no PCI requests here. Descending stable sorts keep ties in their
// current order, as Python's sorted(reverse=True) does.
func sortHostCells(views []hostView, order []int, policy topology.CPUPolicy, pack bool) {
	var buf [32]int
	keys := buf[:0]
	if len(views) > len(buf) {
		keys = make([]int, 0, len(views))
	}
	keys = keys[:len(views)]
	for i := range views {
		keys[i] = views[i].cell.AvailMemoryMiB()
	}
	stableSort(order, keys, !pack)
	if policy == "" || policy == topology.CPUPolicyShared {
		for i := range views {
			keys[i] = views[i].cell.CPUUsage
		}
		stableSort(order, keys, pack)
	} else {
		for i := range views {
			keys[i] = views[i].avail()
		}
		stableSort(order, keys, !pack)
	}
}

// stableSort sorts order (indices into keys) by key, stably; host cell
// counts are small, so insertion sort is the fastest stable sort here.
func stableSort(order, keys []int, descending bool) {
	for i := 1; i < len(order); i++ {
		x := order[i]
		j := i
		for j > 0 && before(keys[x], keys[order[j-1]], descending) {
			order[j] = order[j-1]
			j--
		}
		order[j] = x
	}
}

func before(a, b int, descending bool) bool {
	if descending {
		return a > b
	}
	return a < b
}

// permute walks itertools.permutations(host_cells, k) in order, evaluating
// each permutation as Nova does. It returns the depth at which iteration
// should continue. Two shortcuts keep the walk cheap without changing what
// Nova would compute:
//
//   - a permutation that changed nothing (every pair answered from the
//     cache, no id rewritten) and stopped at position j behaves identically
//     for every permutation sharing its first j+1 cells, so those are
//     skipped;
//   - among the permutations that differ only in their last cell, once the
//     shared prefix was answered from the cache without changes it will be
//     again (cache entries never change, and evaluating the last position
//     touches only the last guest cell), so only the last position is
//     evaluated.
func (r *fitRun) permute(depth int) int {
	n, k := len(r.order), len(r.perm)
	cleanPrefix := false
	for c := 0; c < n; c++ {
		if r.used[c] {
			continue
		}
		r.perm[depth] = c
		if depth == k-1 {
			var j int
			if cleanPrefix {
				if r.cache[r.hostIdx[c]*r.nIDs+r.cells[depth].idx] == pairNoFit {
					continue // Nova would change nothing here
				}
				j = r.evaluateLast()
			} else {
				j, cleanPrefix = r.evaluate()
			}
			if r.found || r.err != nil {
				return -1
			}
			if j < depth {
				return j
			}
			continue
		}
		r.used[c] = true
		u := r.permute(depth + 1)
		r.used[c] = false
		if u < depth {
			return u
		}
	}
	return depth
}

// Outcomes of one guest cell on one host cell within a permutation.
const (
	posFits        = iota // answered from the cache, nothing changed
	posFitsChanged        // fits; the cell or the cache changed
	posNoFit              // answered from the cache, nothing changed
	posNoFitChanged
	posError
)

// evalPos is one iteration of the inner loop of numa_fit_instance_to_host:
// guest cell pos on host cell r.perm[pos].
func (r *fitRun) evalPos(pos int) int {
	hi := r.perm[pos]
	hv := &r.store[r.order[hi]]
	st := &r.cells[pos]
	key := r.hostIdx[hi]*r.nIDs + st.idx
	switch r.cache[key] {
	case pairNoFit:
		return posNoFit
	case pairFits:
		// Nova reuses the cell object as it is, with whatever page size
		// and pinning it last got, and only rewrites its id.
		r.chosen[pos] = hi
		if st.id != hv.cell.ID {
			st.id = hv.cell.ID
			st.idx = r.hostIdx[hi]
			return posFitsChanged
		}
		return posFits
	}
	reserved := 0
	if r.isolate && pos == 0 {
		reserved = 1
	}
	ok, err := r.fitCellMemo(hi, pos, hv, st, reserved)
	if err != nil {
		if _, swallowed := err.(*pageSizeNotSupported); !swallowed {
			r.err = err
			return posError
		}
		ok = false
	}
	// fitCell may have rewritten the id, and not only on success: packing
	// sets it before the limits check, which can still fail.
	if st.id == hv.cell.ID {
		st.idx = r.hostIdx[hi]
	}
	if !ok {
		r.cache[key] = pairNoFit
		return posNoFitChanged
	}
	r.cache[key] = pairFits
	r.chosen[pos] = hi
	return posFitsChanged
}

// evaluate runs the body of Nova's permutation loop for r.perm. It returns
// the position to resume iteration at (the failing position when nothing
// changed, else the last position), and whether every position but the
// last was answered from the cache without changes.
func (r *fitRun) evaluate() (int, bool) {
	k := len(r.perm)
	changed, cleanPrefix := false, true
	for pos := 0; pos < k; pos++ {
		res := r.evalPos(pos)
		if pos < k-1 && res != posFits {
			cleanPrefix = false
		}
		switch res {
		case posFits:
		case posFitsChanged:
			changed = true
		case posNoFit:
			if !changed {
				return pos, cleanPrefix
			}
			return k - 1, cleanPrefix
		default: // a failure that changed something, or an error
			return k - 1, cleanPrefix
		}
	}
	r.accept()
	return k - 1, cleanPrefix
}

// evaluateLast is evaluate for a permutation whose prefix is known to be
// answered from the cache without changes: only the last position runs.
func (r *fitRun) evaluateLast() int {
	k := len(r.perm)
	switch r.evalPos(k - 1) {
	case posFits, posFitsChanged:
		r.accept()
	}
	return k - 1
}

// fitMemo is the outcome of one _numa_fit_instance_cell call and the
// changes it made to the instance cell.
type fitMemo struct {
	gen         uint64 // entry is valid when gen == fitRun.gen
	pagesizeIn  int
	ok          bool
	notSupp     bool // MemoryPageSizeNotSupported
	pagesizeOut int  // st.pagesize after the call
	packed      bool
	pcpus       []int
	reserved    cpuset.CPUSet
}

// fitCellMemo is fitCell for guest cell pos on host_cells[hi],
// answered from memory when Nova calls it again with the same page size.
// Nova re-fits a guest cell each time its rewritten id misses the pair
// cache, which on large hosts means thousands of calls with identical
// inputs: the host cell, the guest cell's request and the emulator
// reservation never change during a run, and the page size is the only
// input Nova mutates. The memo replays the call's effects exactly.
func (r *fitRun) fitCellMemo(hi, pos int, hv *hostView, st *cellState, reserved int) (bool, error) {
	m := &r.memo[hi*len(r.cells)+pos]
	if m.gen == r.gen && m.pagesizeIn == st.pagesize {
		st.pagesize = m.pagesizeOut
		if m.packed {
			st.setPinning(m.pcpus)
			st.id = hv.cell.ID
			st.reserved = m.reserved
		}
		if m.ok {
			st.id = hv.cell.ID
		}
		if m.notSupp {
			return false, errPageSizeNotSupported
		}
		return m.ok, nil
	}
	in, packs := st.pagesize, st.packs
	ok, err := fitCell(hv, st, r.limits, reserved, r.prof)
	_, notSupp := err.(*pageSizeNotSupported)
	if err != nil && !notSupp {
		return ok, err // escapes Nova; nothing more will run
	}
	m.gen, m.pagesizeIn, m.ok, m.notSupp, m.pagesizeOut = r.gen, in, ok, notSupp, st.pagesize
	m.packed = st.packs != packs
	if m.packed {
		m.pcpus = append(m.pcpus[:0], st.overlay...)
		m.reserved = st.reserved
	}
	return ok, err
}

// accept ends a permutation whose cells all fit: it is the result unless
// the network affinity check rejects it.
func (r *fitRun) accept() {
	if r.nm != nil && !networkMetadataSupported(r.hostCells, r.store, r.order, r.chosen, r.nm) {
		return
	}
	r.found = true
}

// networkMetadataSupported is _numa_cells_support_network_metadata: the
// chosen cells must cover the requested physnets and tunnel affinity unless
// no cell of the host declares that affinity at all.
// chosen holds positions in host_cells order (order indexes store).
func networkMetadataSupported(hostCells []topology.HostCell, store []hostView, order, chosen []int, nm *topology.NetworkMetadata) bool {
	required := map[string]bool{}
	for _, p := range nm.Physnets {
		required[p] = true
	}
	if len(required) > 0 {
		for _, hi := range chosen {
			hc := store[order[hi]].cell
			if hc.NetworkMetadata == nil {
				continue
			}
			for _, p := range hc.NetworkMetadata.Physnets {
				delete(required, p)
			}
		}
		for i := range hostCells {
			hc := &hostCells[i]
			if hc.NetworkMetadata == nil {
				continue
			}
			for _, p := range hc.NetworkMetadata.Physnets {
				if required[p] {
					return false
				}
			}
		}
	}
	if nm.Tunneled {
		for _, hi := range chosen {
			hc := store[order[hi]].cell
			if hc.NetworkMetadata != nil && hc.NetworkMetadata.Tunneled {
				return true
			}
		}
		for i := range hostCells {
			hc := &hostCells[i]
			if hc.NetworkMetadata != nil && hc.NetworkMetadata.Tunneled {
				return false
			}
		}
	}
	return true
}
