package openstack

import (
	"context"
	"fmt"
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
