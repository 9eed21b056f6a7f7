// Package fitter places a guest NUMA topology onto a host the way Nova does
// (nova/virt/hardware.py numa_fit_instance_to_host and what it calls), and
// accounts the usage a placement leaves so placements can be chained.
//
// The reference is Nova 26.2.2 (Zed). Every branch of Nova's code is
// reproduced, including the ones that are arguably bugs, because the harness
// compares against what a real Zed cloud does:
//
//   - pinning follows CPython's set iteration order (pkg/cpython, and
//     siblings.go for how Nova builds the sets);
//   - numa_fit_instance_to_host mutates the instance cells while it tries
//     host-cell permutations (page size, id, pinning), and its fit/no-fit
//     cache is keyed on the mutated id; both change results and are
//     simulated here;
//   - errors Nova lets escape (ValueError for a host cell without sibling
//     information, MemoryPageSizeNotSupported from a single-cell fit) are
//     returned as the matching pkg/nova error.
//
// Unlike Nova, it never mutates its inputs: callers keep their topologies.
// All functions are safe for concurrent use.
package fitter

import (
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Options are the compute-host settings that change fitting.
type Options struct {
	// Profile selects release-specific behaviour; the zero value means
	// nova.Zed.
	Profile nova.Profile
	// Pack is [compute] packing_host_numa_cells_allocation_strategy.
	Pack bool
}

func (o Options) profile() nova.Profile {
	if o.Profile.Major == 0 {
		return nova.Zed
	}
	return o.Profile
}

// FitInstance is numa_fit_instance_to_host: where each guest cell lands,
// with pinning and concrete page sizes filled in, or nil when the guest does
// not fit. limits may be nil.
//
// The result's cells are in guest order; each cell's ID is the id of the
// host cell it landed on. A non-nil error is an exception Nova would let
// escape (for example ValueError when a pinned guest meets a host cell
// without sibling information).
func FitInstance(host topology.HostTopology, inst topology.InstanceTopology, limits *topology.Limits, opts Options) (*topology.InstanceTopology, error) {
	return fitInstance(&host, &inst, limits, opts)
}

// FitCell is _numa_fit_instance_cell for one guest cell on one host cell,
// with reserved extra host CPUs for emulator threads (0 or 1); nil when it
// does not fit.
//
// Called on its own, as here, Nova lets MemoryPageSizeNotSupported escape
// when the guest asks for an explicit page size the host cell lacks, so
// FitCell returns that error (FitInstance treats it as "does not fit").
func FitCell(host topology.HostCell, cell topology.InstanceCell, limits *topology.Limits, reserved int, opts Options) (*topology.InstanceCell, error) {
	r := runPool.Get().(*fitRun)
	defer r.release()
	r.store = grown(r.store, 1)
	hv := &r.store[0]
	hv.cell = &host
	st := newCellState(&cell)
	n := 2 * cell.PCPUSet.Len()
	r.arena = grown(r.arena, n)
	st.useArena(r.arena[:n:n])
	ok, err := fitCell(hv, &st, limits, reserved, opts.profile())
	if e, isPS := err.(*pageSizeNotSupported); isPS {
		return nil, e.novaError()
	}
	if err != nil || !ok {
		return nil, err
	}
	out := st.result()
	return &out, nil
}

// Usage is numa_usage_from_instance_numa: the host after adding (free=false)
// or removing (free=true) a fitted guest.
//
// The instance cells' IDs must be host cell ids (as FitInstance returns
// them). Errors are the exceptions Nova raises: CPUPinningInvalid when a
// host CPU would be pinned twice, CPUUnpinningInvalid when freeing a CPU
// that is not pinned, CPUPinningUnknown / CPUUnpinningUnknown for CPUs
// outside the cell's pcpuset, AttributeError for a pinned cell whose
// cpu_pinning is unset (before 27.1.0; later releases pin nothing for it),
// IndexError for a cell without mempages when the guest requested no page
// size.
func Usage(host topology.HostTopology, inst topology.InstanceTopology, free bool, opts Options) (topology.HostTopology, error) {
	return usage(&host, &inst, free, opts.profile())
}
