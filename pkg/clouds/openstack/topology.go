package openstack

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Topology is Nova's view of a server's guest NUMA topology (GET
// /servers/{id}/topology, microversion 2.78); it is the "expected" side that
// the harness compares with the libvirt domain XML.
type Topology struct {
	Nodes []TopologyNode `json:"nodes"`
	// PageSizeKB is the page size backing guest memory; nil when the
	// flavor requested no specific page size.
	PageSizeKB *int `json:"pagesize_kb"`
}

// TopologyNode is one guest NUMA node. HostNode, CPUPinning and Siblings
// are only shown to admins (and pinning only for dedicated CPUs), hence
// pointers/maps that may be nil.
type TopologyNode struct {
	VCPUSet    []int       `json:"vcpu_set"`
	MemoryMB   int         `json:"memory_mb"`
	HostNode   *int        `json:"host_node"`
	CPUPinning map[int]int `json:"cpu_pinning"`
	Siblings   [][]int     `json:"siblings"`
}

// ServerTopology returns Nova's recorded NUMA topology for a server. It
// returns a *MicroversionError when the cloud is older than 2.78 so that
// callers can skip rather than fail.
func (c *Cloud) ServerTopology(ctx context.Context, id string) (*Topology, error) {
	if !c.Supports(MicroversionTopology) {
		return nil, &MicroversionError{Operation: "server topology", Need: MicroversionTopology, Have: c.Microversion()}
	}
	sc := *c.compute
	sc.Microversion = MicroversionTopology
	var t Topology
	if _, err := sc.Get(ctx, sc.ServiceURL("servers", id, "topology"), &t, nil); err != nil {
		return nil, fmt.Errorf("openstack: get topology of server %s: %w", id, err)
	}
	return &t, nil
}

// Instance converts Nova's API view of the topology into the fitter's
// InstanceTopology as Nova holds it after fitting, so that the guests
// already on a host can be accounted with fitter.Usage: one cell per node,
// in Nova's order, with ID set to the host cell the node landed on
// (host_node), the pinned vCPUs (the keys of cpu_pinning) in PCPUSet and
// the others in CPUSet, MemoryMiB = memory_mb and PageSizeKB = pagesize_kb
// (0 when Nova shows none). CPUPinning is copied as Nova shows it.
//
// The API does not say which CPU policy the guest asked for, so it is
// derived from the pinning, as one policy for the whole guest the way Nova
// stores it: dedicated when every vCPU is pinned, mixed when only some are,
// unset when none is. CPUThreadPolicy, CPUSetReserved and the emulator
// threads policy are not in the API either and stay zero: callers that
// account hw:cpu_thread_policy=isolate or hw:emulator_threads_policy=isolate
// guests must fill them in from the flavor.
//
// It returns an error when a node has no host_node (the topology was read
// with non-admin credentials, which hide it), or when the answer is
// inconsistent: a pinned vCPU outside the node's vcpu_set, or a CPU number
// outside 0..cpuset.MaxCPU.
func (t *Topology) Instance() (topology.InstanceTopology, error) {
	var out topology.InstanceTopology
	if t == nil {
		return out, errors.New("openstack: no topology to convert (the server has no NUMA topology)")
	}
	inRange := func(m int) bool { return m >= 0 && m <= cpuset.MaxCPU }
	pinnedAny, floatingAny := false, false
	for i, n := range t.Nodes {
		if n.HostNode == nil {
			return topology.InstanceTopology{}, fmt.Errorf("openstack: topology node %d (vcpu_set %v): expected host_node, observed none (admin credentials needed)", i, n.VCPUSet)
		}
		var floating, pinned []int
		for _, v := range n.VCPUSet {
			if !inRange(v) {
				return topology.InstanceTopology{}, fmt.Errorf("openstack: topology node %d: vCPU %d outside 0-%d", i, v, cpuset.MaxCPU)
			}
			if _, ok := n.CPUPinning[v]; ok {
				pinned = append(pinned, v)
			} else {
				floating = append(floating, v)
			}
		}
		vcpus := cpuset.New(n.VCPUSet...)
		for v, p := range n.CPUPinning {
			if !vcpus.Contains(v) {
				return topology.InstanceTopology{}, fmt.Errorf("openstack: topology node %d: cpu_pinning pins vCPU %d, expected only vCPUs of vcpu_set %v", i, v, n.VCPUSet)
			}
			if !inRange(p) {
				return topology.InstanceTopology{}, fmt.Errorf("openstack: topology node %d: vCPU %d pinned to host CPU %d, outside 0-%d", i, v, p, cpuset.MaxCPU)
			}
		}
		pinnedAny = pinnedAny || len(pinned) > 0
		floatingAny = floatingAny || len(floating) > 0
		cell := topology.InstanceCell{
			ID:        *n.HostNode,
			CPUSet:    cpuset.New(floating...),
			PCPUSet:   cpuset.New(pinned...),
			MemoryMiB: n.MemoryMB,
		}
		if n.CPUPinning != nil {
			cell.CPUPinning = maps.Clone(n.CPUPinning)
		}
		if t.PageSizeKB != nil {
			cell.PageSizeKB = *t.PageSizeKB
		}
		out.Cells = append(out.Cells, cell)
	}
	var policy topology.CPUPolicy
	switch {
	case pinnedAny && floatingAny:
		policy = topology.CPUPolicyMixed
	case pinnedAny:
		policy = topology.CPUPolicyDedicated
	}
	for i := range out.Cells {
		out.Cells[i].CPUPolicy = policy
	}
	return out, nil
}
