package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// HostServer is one server on a compute host as an admin sees it: enough
// to tell which guests hold the host's CPUs and memory, and where their
// NUMA cells landed, so that the reference fitter can start from the
// host's real usage instead of an empty host.
type HostServer struct {
	ID        string
	Name      string
	ProjectID string
	Status    string
	// TaskState and VMState are Nova's OS-EXT-STS attributes; a server
	// being deleted or migrated still holds its resources.
	TaskState string
	VMState   string
	// InstanceName is the libvirt domain name.
	InstanceName string
	// Topology is Nova's NUMA topology of the server; nil when the server
	// has none (Nova answers with no nodes), i.e. it floats over the host.
	Topology *Topology
}

// HostServers lists the servers of all projects whose compute host
// (OS-EXT-SRV-ATTR:host) is host, each with its Nova NUMA topology. It needs
// admin credentials: Nova silently ignores the host filter for other users,
// which is detected (servers without a host in the answer) and reported as
// an error rather than returned as if they ran on host. A server deleted
// between the listing and the topology call is left out. A host without
// servers, or a name that is not a compute host, gives an empty list.
func (c *Cloud) HostServers(ctx context.Context, host string) ([]HostServer, error) {
	if host == "" {
		return nil, errors.New("openstack: HostServers needs a compute host name")
	}
	if !c.Supports(MicroversionTopology) {
		return nil, &MicroversionError{Operation: "server topology", Need: MicroversionTopology, Have: c.Microversion()}
	}
	sc := c.computeAt(MicroversionServerDefault)
	pages, err := servers.List(sc, servers.ListOpts{AllTenants: true, Host: host}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list servers of all projects on host %s: %w", c.Name, host, err)
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list servers of all projects on host %s: %w", c.Name, host, err)
	}
	out := make([]HostServer, 0, len(all))
	for _, s := range all {
		if s.Host != host {
			return nil, fmt.Errorf("openstack: cloud %q: list servers on host %s: expected only servers with OS-EXT-SRV-ATTR:host=%s, observed server %s (%s) with host %q (admin credentials needed: Nova ignores the host filter otherwise)",
				c.Name, host, host, s.ID, s.Name, s.Host)
		}
		t, err := c.ServerTopology(ctx, s.ID)
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("openstack: cloud %q: host %s: %w", c.Name, host, err)
		}
		if len(t.Nodes) == 0 {
			t = nil
		}
		out = append(out, HostServer{
			ID: s.ID, Name: s.Name, ProjectID: s.TenantID,
			Status: s.Status, TaskState: s.TaskState, VMState: s.VmState,
			InstanceName: s.InstanceName, Topology: t,
		})
	}
	return out, nil
}
