// Package fitter places a guest NUMA topology onto a host the way Nova does
// (nova/virt/hardware.py numa_fit_instance_to_host and what it calls), and
// accounts the usage a placement leaves so placements can be chained.
//
// Unlike Nova, it never mutates its inputs: callers keep their topologies.
package fitter

import (
	"errors"

	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

var errTODO = errors.New("fitter: not implemented yet")

// Options are the compute-host settings that change fitting.
type Options struct {
	// Profile selects release-specific behaviour; the zero value means
	// nova.Zed.
	Profile nova.Profile
	// Pack is [compute] packing_host_numa_cells_allocation_strategy.
	Pack bool
}

// FitInstance is numa_fit_instance_to_host: where each guest cell lands,
// with pinning and concrete page sizes filled in, or nil when the guest does
// not fit. limits may be nil.
func FitInstance(host topology.HostTopology, inst topology.InstanceTopology, limits *topology.Limits, opts Options) (*topology.InstanceTopology, error) {
	return nil, errTODO
}

// FitCell is _numa_fit_instance_cell for one guest cell on one host cell,
// with reserved extra host CPUs for emulator threads (0 or 1); nil when it
// does not fit.
func FitCell(host topology.HostCell, cell topology.InstanceCell, limits *topology.Limits, reserved int, opts Options) (*topology.InstanceCell, error) {
	return nil, errTODO
}

// Usage is numa_usage_from_instance_numa: the host after adding (free=false)
// or removing (free=true) a fitted guest.
func Usage(host topology.HostTopology, inst topology.InstanceTopology, free bool) (topology.HostTopology, error) {
	return topology.HostTopology{}, errTODO
}
