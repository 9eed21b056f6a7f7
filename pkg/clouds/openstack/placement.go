package openstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/placement/v1/resourceproviders"
)

// InventoryEntry is one resource class of a resource provider's placement
// inventory. The scheduler lets allocations of the class grow up to
// (Total - Reserved) * AllocationRatio, each between MinUnit and MaxUnit
// in multiples of StepSize.
type InventoryEntry struct {
	Total    int `json:"total"`
	Reserved int `json:"reserved"`
	// AllocationRatio is decoded as float64 here rather than through
	// gophercloud's float32 field, so that ratios such as 0.9 or 1.1 keep
	// the value placement returned.
	AllocationRatio float64 `json:"allocation_ratio"`
	MinUnit         int     `json:"min_unit"`
	MaxUnit         int     `json:"max_unit"`
	StepSize        int     `json:"step_size"`
}

// Inventory is the placement inventory of a compute host's compute node
// resource provider: what the scheduler believes the host offers, which
// decides whether a guest reaches the NUMA fitter at all.
type Inventory struct {
	// Host is the compute service host that was asked for.
	Host string
	// HypervisorHostname is the compute node's name, which is also the
	// resource provider's name.
	HypervisorHostname string
	ProviderUUID       string
	// Generation is the provider's generation when the inventory was read.
	Generation int
	// Resources is keyed by resource class (VCPU, PCPU, MEMORY_MB,
	// DISK_GB, ...); a class the provider has no inventory of is absent.
	Resources map[string]InventoryEntry
}

// ComputeInventory returns the placement inventory of host's compute node:
// it finds the hypervisor whose service host is host (os-hypervisors, admin
// only), then the placement resource provider named after its
// hypervisor_hostname, then that provider's inventories. A host with no
// hypervisor, or a hypervisor with no provider, is a *ProviderNotFoundError;
// a host with several hypervisors (not a libvirt host) is an error too,
// because one host topology cannot describe several compute nodes.
func (c *Cloud) ComputeInventory(ctx context.Context, host string) (*Inventory, error) {
	if host == "" {
		return nil, errors.New("openstack: ComputeInventory needs a compute host name")
	}
	if c.placement == nil {
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: %w", c.Name, host, c.placementErr)
	}
	pages, err := hypervisors.List(c.computeAt(MicroversionServerDefault), nil).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: list hypervisors: %w", c.Name, host, err)
	}
	hvs, err := hypervisors.ExtractHypervisors(pages)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: list hypervisors: %w", c.Name, host, err)
	}
	var names, known []string
	for _, h := range hvs {
		known = append(known, h.Service.Host)
		if h.Service.Host == host {
			names = append(names, h.HypervisorHostname)
		}
	}
	switch len(names) {
	case 0:
		sort.Strings(known)
		return nil, &ProviderNotFoundError{Cloud: c.Name, Host: host, KnownHosts: known}
	case 1:
	default:
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: expected exactly 1 hypervisor with that service host, observed %d: [%s]",
			c.Name, host, len(names), strings.Join(names, ", "))
	}
	node := names[0]

	rpPages, err := resourceproviders.List(c.placement, resourceproviders.ListOpts{Name: node}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: list resource providers named %q: %w", c.Name, host, node, err)
	}
	rps, err := resourceproviders.ExtractResourceProviders(rpPages)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: list resource providers named %q: %w", c.Name, host, node, err)
	}
	var rp *resourceproviders.ResourceProvider
	for i := range rps {
		// Placement's name filter is exact; check anyway, so that a
		// filter ignored on the way can never hand us another host's
		// provider.
		if rps[i].Name == node {
			if rp != nil {
				return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: expected 1 resource provider named %q, observed several (%s, %s)",
					c.Name, host, node, rp.UUID, rps[i].UUID)
			}
			rp = &rps[i]
		}
	}
	if rp == nil {
		return nil, &ProviderNotFoundError{Cloud: c.Name, Host: host, HypervisorHostname: node}
	}

	// Read the inventories directly rather than with
	// resourceproviders.GetInventories, whose float32 allocation ratio
	// would turn 1.1 into 1.100000023841858.
	var body struct {
		Generation  int                       `json:"resource_provider_generation"`
		Inventories map[string]InventoryEntry `json:"inventories"`
	}
	url := c.placement.ServiceURL("resource_providers", rp.UUID, "inventories")
	if _, err := c.placement.Get(ctx, url, &body, nil); err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: inventory of host %s: get inventories of resource provider %s (%s): %w", c.Name, host, node, rp.UUID, err)
	}
	if body.Inventories == nil {
		body.Inventories = map[string]InventoryEntry{}
	}
	return &Inventory{
		Host: host, HypervisorHostname: node, ProviderUUID: rp.UUID,
		Generation: body.Generation, Resources: body.Inventories,
	}, nil
}
