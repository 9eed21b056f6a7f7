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

// Count is the number of resources left.
func (l *Leftovers) Count() int {
	return len(l.Servers) + len(l.Flavors) + len(l.Images)
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

// runName matches a harness resource name numa-conformance-<runid>-<rest>
// where runid is exactly what NewRunID produces. The exact form is what
// keeps a sweep of every run away from shared resources such as the
// numa-conformance-blank image.
var runName = regexp.MustCompile(`^` + regexp.QuoteMeta(NamePrefix) + `-([0-9a-f]{8})-.`)

// runIDForm is the form of NewRunID's output.
var runIDForm = regexp.MustCompile(`^[0-9a-f]{8}$`)

// IsRunID reports whether id has the form NewRunID produces (8 lowercase
// hex digits), the only run IDs a sweep of all runs recognises.
func IsRunID(id string) bool { return runIDForm.MatchString(id) }

// runOfName returns the run ID in a harness resource name, or "".
func runOfName(name string) string {
	if m := runName.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// FindLeftovers lists the servers (in the current project), flavors and
// images whose names carry run runID's prefix, and the servers whose
// RunMetadataKey metadata is runID. runID must be non-empty so that a sweep
// can never match resources of other runs or the shared test image.
func (c *Cloud) FindLeftovers(ctx context.Context, runID string) (*Leftovers, error) {
	if runID == "" {
		return nil, errors.New("openstack: FindLeftovers needs a run ID")
	}
	prefix := NamePrefix + "-" + runID + "-"
	byRun, err := c.findLeftovers(ctx, "run "+runID, func(name, metaRun string) string {
		if strings.HasPrefix(name, prefix) || metaRun == runID {
			return runID
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	if l := byRun[runID]; l != nil {
		return l, nil
	}
	return &Leftovers{}, nil
}

// FindAllLeftovers lists the leftovers of every run, keyed by run ID: the
// servers (in the current project), flavors and images whose names are
// numa-conformance-<runid>-<rest> with runid of NewRunID's form (see
// IsRunID), and the servers whose RunMetadataKey metadata is such a run ID.
// Runs with nothing left are absent.
func (c *Cloud) FindAllLeftovers(ctx context.Context) (map[string]*Leftovers, error) {
	return c.findLeftovers(ctx, "all runs", func(name, metaRun string) string {
		if id := runOfName(name); id != "" {
			return id
		}
		if IsRunID(metaRun) {
			return metaRun
		}
		return ""
	})
}

// findLeftovers lists the project's servers, all flavors and the visible
// images once, and sorts those runOf assigns to a run (given the name and,
// for servers, the RunMetadataKey metadata; "" for none) by run ID. what
// names the sweep in errors.
func (c *Cloud) findLeftovers(ctx context.Context, what string, runOf func(name, metaRun string) string) (map[string]*Leftovers, error) {
	out := map[string]*Leftovers{}
	get := func(run string) *Leftovers {
		l := out[run]
		if l == nil {
			l = &Leftovers{}
			out[run] = l
		}
		return l
	}
	fail := func(kind string, err error) error {
		return fmt.Errorf("openstack: cloud %q: find leftovers of %s: list %s: %w", c.Name, what, kind, err)
	}

	// All servers of the project, not a name-filtered list: a server is
	// also recognised by its run metadata.
	sp, err := servers.List(c.computeAt(MicroversionServerDefault), servers.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, fail("servers", err)
	}
	ss, err := servers.ExtractServers(sp)
	if err != nil {
		return nil, fail("servers", err)
	}
	for _, s := range ss {
		if run := runOf(s.Name, s.Metadata[RunMetadataKey]); run != "" {
			l := get(run)
			l.Servers = append(l.Servers, Server{ID: s.ID, Name: s.Name})
		}
	}

	fp, err := flavors.ListDetail(c.computeMax(), flavors.ListOpts{AccessType: flavors.AllAccess}).AllPages(ctx)
	if err != nil {
		return nil, fail("flavors", err)
	}
	fs, err := flavors.ExtractFlavors(fp)
	if err != nil {
		return nil, fail("flavors", err)
	}
	for _, f := range fs {
		if run := runOf(f.Name, ""); run != "" {
			l := get(run)
			l.Flavors = append(l.Flavors, Flavor{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAMMB: f.RAM, DiskGB: f.Disk})
		}
	}

	ip, err := images.List(c.image, images.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, fail("images", err)
	}
	is, err := images.ExtractImages(ip)
	if err != nil {
		return nil, fail("images", err)
	}
	for _, i := range is {
		if run := runOf(i.Name, ""); run != "" {
			l := get(run)
			l.Images = append(l.Images, Image{ID: i.ID, Name: i.Name})
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
