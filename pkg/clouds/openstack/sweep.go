package openstack

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// Leftovers lists resources of one run that still exist, by kind. It is
// what a crashed or killed run leaves behind, since registered cleanups
// never ran.
type Leftovers struct {
	Servers []Server
	Flavors []Flavor
	Images  []Image
}

// Empty reports whether nothing of the run is left.
func (l *Leftovers) Empty() bool {
	return len(l.Servers) == 0 && len(l.Flavors) == 0 && len(l.Images) == 0
}

// String lists the leftovers as evidence for a failure message.
func (l *Leftovers) String() string {
	var parts []string
	for _, s := range l.Servers {
		parts = append(parts, "server "+s.Name+" ("+s.ID+")")
	}
	for _, f := range l.Flavors {
		parts = append(parts, "flavor "+f.Name+" ("+f.ID+")")
	}
	for _, i := range l.Images {
		parts = append(parts, "image "+i.Name+" ("+i.ID+")")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// FindLeftovers lists the servers, flavors and images (in the current
// project) whose names carry run runID's prefix. runID must be non-empty so
// that a sweep can never match resources of other runs or the shared test
// image.
func (c *Cloud) FindLeftovers(ctx context.Context, runID string) (*Leftovers, error) {
	if runID == "" {
		return nil, errors.New("openstack: FindLeftovers needs a run ID")
	}
	prefix := NamePrefix + "-" + runID + "-"
	out := &Leftovers{}

	sc := c.computeAt(MicroversionServerDefault)
	sp, err := servers.List(sc, servers.ListOpts{Name: "^" + regexp.QuoteMeta(prefix)}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: list servers %s*: %w", prefix, err)
	}
	ss, err := servers.ExtractServers(sp)
	if err != nil {
		return nil, fmt.Errorf("openstack: list servers %s*: %w", prefix, err)
	}
	for _, s := range ss {
		if strings.HasPrefix(s.Name, prefix) {
			out.Servers = append(out.Servers, Server{ID: s.ID, Name: s.Name})
		}
	}

	fp, err := flavors.ListDetail(c.computeMax(), flavors.ListOpts{AccessType: flavors.AllAccess}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: list flavors %s*: %w", prefix, err)
	}
	fs, err := flavors.ExtractFlavors(fp)
	if err != nil {
		return nil, fmt.Errorf("openstack: list flavors %s*: %w", prefix, err)
	}
	for _, f := range fs {
		if strings.HasPrefix(f.Name, prefix) {
			out.Flavors = append(out.Flavors, Flavor{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAMMB: f.RAM, DiskGB: f.Disk})
		}
	}

	ip, err := images.List(c.image, images.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("openstack: list images %s*: %w", prefix, err)
	}
	is, err := images.ExtractImages(ip)
	if err != nil {
		return nil, fmt.Errorf("openstack: list images %s*: %w", prefix, err)
	}
	for _, i := range is {
		if strings.HasPrefix(i.Name, prefix) {
			out.Images = append(out.Images, Image{ID: i.ID, Name: i.Name})
		}
	}
	return out, nil
}

// DeleteLeftovers deletes everything FindLeftovers reports for runID,
// servers first (they hold flavors and images in use), waiting for each to
// be gone. It keeps going after errors and returns them all joined.
func (c *Cloud) DeleteLeftovers(ctx context.Context, runID string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	l, err := c.FindLeftovers(ctx, runID)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range l.Servers {
		errs = append(errs, c.DeleteServer(ctx, s.ID, timeout))
	}
	for _, f := range l.Flavors {
		errs = append(errs, c.DeleteFlavor(ctx, f.ID, timeout))
	}
	for _, i := range l.Images {
		errs = append(errs, c.DeleteImage(ctx, i.ID, timeout))
	}
	return errors.Join(errs...)
}
