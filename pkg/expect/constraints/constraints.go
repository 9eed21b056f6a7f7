// Package constraints turns what a user asked for (flavor extra specs and
// image properties) into the guest NUMA topology Nova derives, following
// nova/virt/hardware.py numa_get_constraints and its helpers, or into the
// exception Nova raises.
package constraints

import (
	"errors"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

var errTODO = errors.New("constraints: not implemented yet")

// Get is numa_get_constraints: the guest NUMA topology for flavor + image,
// nil when the request does not ask for one, or a nova.Exception.
func Get(flavor topology.Flavor, image topology.ImageProps) (*topology.InstanceTopology, error) {
	return nil, errTODO
}

// CPUPolicy is get_cpu_policy_constraint: the effective CPU policy, "" when
// neither flavor nor image sets one.
func CPUPolicy(flavor topology.Flavor, image topology.ImageProps) (topology.CPUPolicy, error) {
	return "", errTODO
}

// RealtimeCPUs is get_realtime_cpu_constraint: the realtime vCPUs, with ok
// false when realtime is not enabled (Nova returns None).
func RealtimeCPUs(flavor topology.Flavor, image topology.ImageProps) (rt cpuset.CPUSet, ok bool, err error) {
	return cpuset.CPUSet{}, false, errTODO
}

// PageSize is _get_numa_pagesize_constraint: 0 when no page size is
// requested, a topology.PageSize* constant, or a size in KiB.
func PageSize(flavor topology.Flavor, image topology.ImageProps) (int, error) {
	return 0, errTODO
}

// EmulatorThreadsPolicy is get_emulator_thread_policy_constraint.
func EmulatorThreadsPolicy(flavor topology.Flavor) (topology.EmulatorThreadsPolicy, error) {
	return "", errTODO
}

// RealtimeEnabled is is_realtime_enabled: hw:cpu_realtime read as an
// oslo boolean.
func RealtimeEnabled(flavor topology.Flavor) bool { return false }

// DesirableCPUTopologies is _get_desirable_cpu_topologies: every guest
// <cpu><topology> Nova would accept, best first.
func DesirableCPUTopologies(flavor topology.Flavor, image topology.ImageProps, allowThreads bool) ([]topology.GuestCPUTopology, error) {
	return nil, errTODO
}

// BestCPUTopology is get_best_cpu_topology: the first desirable topology.
func BestCPUTopology(flavor topology.Flavor, image topology.ImageProps, allowThreads bool) (topology.GuestCPUTopology, error) {
	return topology.GuestCPUTopology{}, errTODO
}
