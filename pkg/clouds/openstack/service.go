package openstack

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"
)

// ComputeService is what Nova's os-services API says about the
// nova-compute service of one host. The scheduler's ComputeFilter drops a
// host whose service is disabled, forced down or has not sent a heartbeat
// within service_down_time; such a host turns every boot into
// NoValidHost, which a conformance run must not read as Nova's NUMA verdict.
type ComputeService struct {
	Host           string
	Status         string // "enabled" or "disabled"
	State          string // "up" or "down", Nova's servicegroup verdict
	ForcedDown     bool
	DisabledReason string
	// UpdatedAt is the time of the last heartbeat Nova recorded.
	UpdatedAt time.Time
}

// Schedulable tells whether the scheduler's ComputeFilter would keep the
// host: enabled, not forced down, and up.
func (s *ComputeService) Schedulable() bool {
	return s.Status == "enabled" && !s.ForcedDown && s.State == "up"
}

// String describes the service's state in the words of the API.
func (s *ComputeService) String() string {
	out := fmt.Sprintf("nova-compute on %s: status %s, state %s", s.Host, s.Status, s.State)
	if s.ForcedDown {
		out += ", forced down"
	}
	if s.DisabledReason != "" {
		out += fmt.Sprintf(", disabled reason %q", s.DisabledReason)
	}
	if !s.UpdatedAt.IsZero() {
		out += ", last heartbeat " + s.UpdatedAt.UTC().Format(time.RFC3339)
	}
	return out
}

// ComputeServiceOf returns the nova-compute service of host. A host with
// no such service is an error naming the host (the harness configuration
// names a host Nova does not know).
func (c *Cloud) ComputeServiceOf(ctx context.Context, host string) (*ComputeService, error) {
	pages, err := services.List(c.computeMax(), services.ListOpts{Binary: "nova-compute", Host: host}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list the nova-compute service of host %s: %w", c.Name, host, err)
	}
	all, err := services.ExtractServices(pages)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list the nova-compute service of host %s: %w", c.Name, host, err)
	}
	for _, s := range all {
		if s.Host != host || s.Binary != "nova-compute" {
			continue
		}
		return &ComputeService{
			Host: s.Host, Status: s.Status, State: s.State, ForcedDown: s.ForcedDown,
			DisabledReason: s.DisabledReason, UpdatedAt: s.UpdatedAt,
		}, nil
	}
	return nil, fmt.Errorf("openstack: cloud %q: expected a nova-compute service on host %s, observed none (os-services lists %d matching services)", c.Name, host, len(all))
}

// ComputeServices lists every nova-compute service of the cloud, sorted by
// host.
func (c *Cloud) ComputeServices(ctx context.Context) ([]ComputeService, error) {
	pages, err := services.List(c.computeMax(), services.ListOpts{Binary: "nova-compute"}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list the nova-compute services: %w", c.Name, err)
	}
	all, err := services.ExtractServices(pages)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list the nova-compute services: %w", c.Name, err)
	}
	var out []ComputeService
	for _, s := range all {
		if s.Binary == "nova-compute" {
			out = append(out, ComputeService{Host: s.Host, Status: s.Status, State: s.State, ForcedDown: s.ForcedDown,
				DisabledReason: s.DisabledReason, UpdatedAt: s.UpdatedAt})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out, nil
}
