package openstack

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// ServerDetails is what an audit needs of an existing server: where it
// runs and what it asked for, as Nova recorded it at boot (the flavor
// embedded in the server, so later flavor changes do not matter).
type ServerDetails struct {
	ID, Name, Status, Host string
	// FlavorName is the flavor's name when the server was created.
	FlavorName string
	VCPUs      int
	RAMMB      int
	ExtraSpecs map[string]string
	// ImageID is empty for a server booted from a volume.
	ImageID string
}

// GetServerDetails reads a server at microversion 2.79, where the server
// embeds its flavor with extra specs (2.47+).
func (c *Cloud) GetServerDetails(ctx context.Context, id string) (*ServerDetails, error) {
	s, err := servers.Get(ctx, c.computeAt(MicroversionServerDefault), id).Extract()
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: get server %s: %w", c.Name, id, err)
	}
	d := &ServerDetails{ID: s.ID, Name: s.Name, Status: s.Status, Host: s.Host, ExtraSpecs: map[string]string{}}
	d.FlavorName, _ = s.Flavor["original_name"].(string)
	if v, ok := s.Flavor["vcpus"].(float64); ok {
		d.VCPUs = int(v)
	}
	if v, ok := s.Flavor["ram"].(float64); ok {
		d.RAMMB = int(v)
	}
	if es, ok := s.Flavor["extra_specs"].(map[string]any); ok {
		for k, v := range es {
			d.ExtraSpecs[k] = fmt.Sprint(v)
		}
	}
	if d.VCPUs == 0 {
		return nil, fmt.Errorf("openstack: cloud %q: server %s: expected an embedded flavor with vcpus (microversion %s), observed %v", c.Name, id, MicroversionServerDefault, s.Flavor)
	}
	if s.Image != nil {
		d.ImageID, _ = s.Image["id"].(string)
	}
	return d, nil
}

// ImageProperties returns an image's hw_* properties, the ones NUMA
// placement reads. found is false when the image no longer exists.
func (c *Cloud) ImageProperties(ctx context.Context, id string) (props map[string]string, found bool, err error) {
	img, err := images.Get(ctx, c.image, id).Extract()
	if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("openstack: cloud %q: get image %s: %w", c.Name, id, err)
	}
	props = map[string]string{}
	for k, v := range img.Properties {
		if strings.HasPrefix(k, "hw_") {
			props[k] = fmt.Sprint(v)
		}
	}
	return props, true, nil
}

// AllServers lists the IDs and hosts of every server in every project
// (admin), for an audit of the whole cloud.
func (c *Cloud) AllServers(ctx context.Context) ([]ServerDetails, error) {
	pages, err := servers.List(c.computeAt(MicroversionServerDefault), servers.ListOpts{AllTenants: true}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list servers of all projects: %w", c.Name, err)
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, fmt.Errorf("openstack: cloud %q: list servers of all projects: %w", c.Name, err)
	}
	out := make([]ServerDetails, 0, len(all))
	for _, s := range all {
		out = append(out, ServerDetails{ID: s.ID, Name: s.Name, Status: s.Status, Host: s.Host})
	}
	return out, nil
}
