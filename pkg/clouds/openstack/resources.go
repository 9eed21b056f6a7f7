package openstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

// NamePrefix starts the name of every resource the harness creates, so
// that leftovers from crashed runs can be found and removed by name.
const NamePrefix = "numa-conformance"

// DefaultDeleteTimeout bounds each delete a registered cleanup makes when
// the Run's spec sets no DeleteTimeout.
const DefaultDeleteTimeout = 5 * time.Minute

const pollInterval = 2 * time.Second

// CleanupRegistrar receives a cleanup for every resource created, e.g.
// ginkgo.DeferCleanup or a wrapper around testing.T.Cleanup. Registering at
// creation time (not at the end of a test) means a failed assertion can
// never leak a resource.
type CleanupRegistrar func(cleanup func(ctx context.Context) error)

// Run scopes resource creation to one conformance run: names carry the run
// ID, servers are tagged with it, and every create registers a cleanup.
type Run struct {
	*Cloud
	// ID is the run identifier embedded in resource names and tags.
	ID            string
	register      CleanupRegistrar
	deleteTimeout time.Duration
}

// RunSpec is what NewRun needs.
type RunSpec struct {
	// ID is the run ID, of NewRunID's form (8 lowercase hex digits): the
	// only form a sweep recognises, so any other would leave leftovers no
	// sweep can find.
	ID string
	// Register receives a cleanup for every resource created; required:
	// a Run that cannot clean up after itself would leak flavors and
	// servers into shared clouds.
	Register CleanupRegistrar
	// DeleteTimeout bounds each delete of a registered cleanup (and of a
	// half-made resource); 0 means DefaultDeleteTimeout.
	DeleteTimeout time.Duration
}

// RunSpecError is a RunSpec that NewRun refuses.
type RunSpecError struct {
	Field    string // "ID", "Register", "DeleteTimeout"
	Value    string
	Expected string
}

// Error names the field, its value and what was expected.
func (e *RunSpecError) Error() string {
	return fmt.Sprintf("openstack: run %s %s: want %s", e.Field, e.Value, e.Expected)
}

// NewRunID returns a short random identifier, unique enough to tell
// concurrent runs on one cloud apart.
func NewRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewRun starts a run on c, after checking spec.
func (c *Cloud) NewRun(spec RunSpec) (*Run, error) {
	switch {
	case !IsRunID(spec.ID):
		return nil, &RunSpecError{Field: "ID", Value: fmt.Sprintf("%q", spec.ID), Expected: "8 lowercase hex digits like " + NewRunID() + " (the only run IDs sweep recognises)"}
	case spec.Register == nil:
		return nil, &RunSpecError{Field: "Register", Value: "nil", Expected: "a cleanup registrar"}
	case spec.DeleteTimeout < 0:
		return nil, &RunSpecError{Field: "DeleteTimeout", Value: spec.DeleteTimeout.String(), Expected: "a positive duration, or 0 for the default " + DefaultDeleteTimeout.String()}
	}
	if spec.DeleteTimeout == 0 {
		spec.DeleteTimeout = DefaultDeleteTimeout
	}
	return &Run{Cloud: c, ID: spec.ID, register: spec.Register, deleteTimeout: spec.DeleteTimeout}, nil
}

// ResourceName returns the run-scoped name numa-conformance-<runid>-<name>.
func (r *Run) ResourceName(name string) string {
	return fmt.Sprintf("%s-%s-%s", NamePrefix, r.ID, name)
}

// RunMetadataKey is the server metadata key whose value is the run ID; a
// sweep finds servers by it even when their name no longer says the run.
const RunMetadataKey = "numa-conformance-run"

// Tag is the server tag (and metadata value) identifying this run.
func (r *Run) Tag() string { return NamePrefix + "-" + r.ID }

// FlavorSpec describes a flavor to create; Name is the short name, the run
// prefix is added by CreateFlavor.
type FlavorSpec struct {
	Name       string
	VCPUs      int
	RAMMB      int
	DiskGB     int
	ExtraSpecs map[string]string
	// Microversion, when set, is the compute microversion the extra specs
	// are set at instead of the cloud's max. Nova validates extra specs
	// only from 2.86 on, so "2.85" stores keys that newer microversions
	// reject (e.g. hw:numa_mempolicy, which Nova then ignores); tests use it
	// to show that a key is accepted but has no effect.
	Microversion string
}

// Flavor is a flavor created by the harness, with the extra specs Nova
// accepted.
type Flavor struct {
	ID         string
	Name       string
	VCPUs      int
	RAMMB      int
	DiskGB     int
	ExtraSpecs map[string]string
}

// CreateFlavor creates a private flavor and sets its extra specs at the
// cloud's max microversion (so Nova >= 2.86 validates them), or at
// spec.Microversion when set. If setting the extra specs fails, the flavor
// is deleted before an *ExtraSpecsError is returned: a half-configured
// flavor must never outlive the call. A spec.Microversion the cloud does
// not offer is refused before anything is created (a *MicroversionError
// when it is above the cloud's max).
func (r *Run) CreateFlavor(ctx context.Context, spec FlavorSpec) (*Flavor, error) {
	sc := r.computeMax()
	name := r.ResourceName(spec.Name)
	specsClient := sc
	if spec.Microversion != "" {
		if err := r.checkMicroversion("setting extra specs of flavor "+name, spec.Microversion); err != nil {
			return nil, err
		}
		pinned := *r.compute
		pinned.Microversion = spec.Microversion
		specsClient = &pinned
	}
	disk := spec.DiskGB
	public := false
	f, err := flavors.Create(ctx, sc, flavors.CreateOpts{
		Name: name, VCPUs: spec.VCPUs, RAM: spec.RAMMB, Disk: &disk, IsPublic: &public,
	}).Extract()
	if err != nil {
		return nil, fmt.Errorf("openstack: create flavor %s (vcpus=%d ram=%dMB disk=%dGB): %w", name, spec.VCPUs, spec.RAMMB, spec.DiskGB, err)
	}
	id := f.ID
	r.register(func(ctx context.Context) error {
		return r.DeleteFlavor(ctx, id, r.deleteTimeout)
	})
	out := &Flavor{ID: id, Name: name, VCPUs: f.VCPUs, RAMMB: f.RAM, DiskGB: f.Disk, ExtraSpecs: map[string]string{}}
	if len(spec.ExtraSpecs) == 0 {
		return out, nil
	}
	got, err := flavors.CreateExtraSpecs(ctx, specsClient, id, flavors.ExtraSpecsOpts(spec.ExtraSpecs)).Extract()
	if err != nil {
		derr := r.DeleteFlavor(context.WithoutCancel(ctx), id, r.deleteTimeout)
		if derr != nil {
			err = errors.Join(err, fmt.Errorf("delete after failure: %w", derr))
		}
		return nil, &ExtraSpecsError{Flavor: name, FlavorID: id, ExtraSpecs: spec.ExtraSpecs, Microversion: specsClient.Microversion, FlavorDeleted: derr == nil, Err: err}
	}
	out.ExtraSpecs = got
	return out, nil
}

// DeleteFlavor deletes a flavor and confirms it is gone; 404 counts as
// success so cleanups are idempotent.
func (c *Cloud) DeleteFlavor(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sc := c.computeMax()
	if err := flavors.Delete(ctx, sc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return fmt.Errorf("openstack: delete flavor %s: %w", id, err)
	}
	return waitGone(ctx, "flavor", id, timeout, func(ctx context.Context) (string, error) {
		f, err := flavors.Get(ctx, sc, id).Extract()
		if err != nil {
			return "", err
		}
		return "present (" + f.Name + ")", nil
	})
}

// waitGone polls get until it returns 404.
func waitGone(ctx context.Context, what, id string, timeout time.Duration, get func(context.Context) (string, error)) error {
	observed := "not checked"
	var lastErr error
	for {
		state, err := get(ctx)
		switch {
		case gophercloud.ResponseCodeIs(err, http.StatusNotFound):
			return nil
		case err != nil:
			lastErr = err
		default:
			observed, lastErr = state, nil
		}
		select {
		case <-ctx.Done():
			return &TimeoutError{What: what, ID: id, Timeout: timeout, Expected: "404 (deleted)", Observed: observed, Err: lastErr}
		case <-time.After(pollInterval):
		}
	}
}

// FindImage returns the ID of the single image named name; ambiguity is an
// error because booting the wrong image silently changes what is tested.
func (c *Cloud) FindImage(ctx context.Context, name string) (string, error) {
	pages, err := images.List(c.image, images.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return "", fmt.Errorf("openstack: list images named %q: %w", name, err)
	}
	all, err := images.ExtractImages(pages)
	if err != nil {
		return "", fmt.Errorf("openstack: list images named %q: %w", name, err)
	}
	switch len(all) {
	case 0:
		return "", fmt.Errorf("openstack: no image named %q on cloud %q", name, c.Name)
	case 1:
		return all[0].ID, nil
	default:
		return "", fmt.Errorf("openstack: %d images named %q on cloud %q, expected exactly 1", len(all), name, c.Name)
	}
}

// ServerSpec describes a server to boot without networking; Name is the
// short name, the run prefix is added by CreateServer.
type ServerSpec struct {
	Name     string
	FlavorID string
	ImageID  string
	// Metadata is merged with the run metadata.
	Metadata map[string]string
}

// Server is the identity of a server created by the harness.
type Server struct {
	ID   string
	Name string
}

// CreateServer boots a server with networks "none", tagged (2.52+) and
// labelled in metadata with the run ID, and registers its deletion. It does
// not wait; call WaitActive.
func (r *Run) CreateServer(ctx context.Context, spec ServerSpec) (*Server, error) {
	sc := r.computeAt(MicroversionServerDefault)
	name := r.ResourceName(spec.Name)
	md := map[string]string{RunMetadataKey: r.ID}
	for k, v := range spec.Metadata {
		md[k] = v
	}
	opts := servers.CreateOpts{
		Name: name, FlavorRef: spec.FlavorID, ImageRef: spec.ImageID,
		Networks: "none", Metadata: md,
	}
	if r.Supports(MicroversionTags) {
		opts.Tags = []string{r.Tag()}
	}
	s, err := servers.Create(ctx, sc, opts, nil).Extract()
	if err != nil {
		return nil, fmt.Errorf("openstack: create server %s (flavor %s, image %s): %w", name, spec.FlavorID, spec.ImageID, err)
	}
	id := s.ID
	r.register(func(ctx context.Context) error {
		return r.DeleteServer(ctx, id, r.deleteTimeout)
	})
	return &Server{ID: id, Name: name}, nil
}

// WaitActive waits until the server is ACTIVE. It fails fast with a
// *ServerFaultError carrying Nova's fault when the server goes to ERROR,
// and with a *TimeoutError showing the last status/task state otherwise.
func (c *Cloud) WaitActive(ctx context.Context, id string, timeout time.Duration) error {
	return c.WaitStatus(ctx, id, timeout, "ACTIVE")
}

// DeleteServer deletes a server and waits until Nova returns 404 for it;
// 404 on delete counts as success so cleanups are idempotent.
func (c *Cloud) DeleteServer(ctx context.Context, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sc := c.computeAt(MicroversionServerDefault)
	if err := servers.Delete(ctx, sc, id).ExtractErr(); err != nil && !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		return fmt.Errorf("openstack: delete server %s: %w", id, err)
	}
	return waitGone(ctx, "server", id, timeout, func(ctx context.Context) (string, error) {
		s, err := servers.Get(ctx, sc, id).Extract()
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("status=%s task_state=%q", s.Status, s.TaskState), nil
	})
}

// ServerHost is where Nova says a server runs: the compute service host,
// the hypervisor node, and the libvirt domain name to look up.
type ServerHost struct {
	Host               string
	HypervisorHostname string
	InstanceName       string
}

// ServerHost returns the admin-only placement attributes of a server; an
// empty host means the credentials are not admin or the server is not yet
// scheduled, which is reported as an error rather than silently accepted.
func (c *Cloud) ServerHost(ctx context.Context, id string) (*ServerHost, error) {
	s, err := servers.Get(ctx, c.computeAt(MicroversionServerDefault), id).Extract()
	if err != nil {
		return nil, fmt.Errorf("openstack: get server %s: %w", id, err)
	}
	h := &ServerHost{Host: s.Host, HypervisorHostname: s.HypervisorHostname, InstanceName: s.InstanceName}
	if h.Host == "" || h.InstanceName == "" {
		return nil, fmt.Errorf("openstack: server %s (status %s): expected OS-EXT-SRV-ATTR:host and instance_name, observed host=%q instance_name=%q (admin credentials needed, and the server must be scheduled)",
			id, s.Status, h.Host, h.InstanceName)
	}
	return h, nil
}
