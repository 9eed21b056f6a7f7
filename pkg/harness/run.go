package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/evidence"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Result is everything one fixture's run produced: what was created, what
// Nova answered, the live domain, and the expectation it was checked
// against. The suites assert on it and attach it to reports.
type Result struct {
	Fixture fixtures.Fixture
	// Want is the fixture's expected outcome for the cloud's Nova release.
	Want fixtures.Expect
	// Predicted is the expectation per configured host before anything
	// was created, from the usage then on the host.
	Predicted map[string]*expect.Expected
	Flavor    *openstack.Flavor
	Image     *openstack.Image
	Server    *openstack.Server
	// BootImage is the image the server booted from (a rebuild reuses it).
	BootImage string
	// FlavorErr is the extra-spec rejection; CreateErr the server create
	// failure; BootErr why the server did not become ACTIVE.
	FlavorErr, CreateErr, BootErr error
	// Host is the compute host the server landed on.
	Host string
	// Expected is the expectation the domain is checked against: the
	// candidate that matches, else the one predicted before the boot.
	Expected *expect.Expected
	// Candidates are the expectations considered for the landed host; more
	// than one when other servers came or went on the host while this one
	// booted, so the order of claims (which Nova does not expose) matters.
	Candidates []Candidate
	// Domain and DomainXML are the live domain as libvirt returned it.
	Domain    *libvirtxml.Domain
	DomainXML string
	// Differences between Expected and Domain; empty means it conforms.
	Differences []domain.Difference
	// NovaTopology is GET /servers/{id}/topology, when the cloud has it.
	NovaTopology *openstack.Topology
	// Services is the nova-compute service of each configured host, read
	// right after the server failed: a NoValidHost only reflects Nova's
	// NUMA verdict if the scheduler could consider the hosts at all.
	Services map[string]*openstack.ComputeService
	// Notes are things a reader of the report should know.
	Notes []string
}

// Candidate is one expectation for the landed host (see evidence.Candidate).
type Candidate = evidence.Candidate

// HTTPStatus returns the status of an API error, or 0.
func HTTPStatus(err error) int {
	var e gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &e) {
		return e.Actual
	}
	return 0
}

// APIMessage returns the message of an API error's JSON body
// ({"badRequest": {"message": ...}}), or "" when there is none.
func APIMessage(err error) string {
	var e gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &e) {
		return ""
	}
	var body map[string]struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(e.Body, &body) != nil {
		return ""
	}
	for _, v := range body {
		if v.Message != "" {
			return v.Message
		}
	}
	return ""
}

// Run executes one fixture: predict, create the flavor (and image), boot,
// wait, read the domain, and compute the expectation for where it landed.
// Every resource is registered with run's cleanup registrar as it is
// created. baseImage boots fixtures without image properties. The error is
// for failures of the harness or the cloud's plumbing; Nova's answers
// (400s, faults, wrong domains) are in the Result.
func (env *Env) Run(ctx context.Context, run *openstack.Run, baseImage string, fx fixtures.Fixture) (*Result, error) {
	res := &Result{Fixture: fx, Want: fx.Expect.For(env.Profile.Major), Predicted: map[string]*expect.Expected{}}
	flavor := topology.Flavor{VCPUs: fx.Flavor.VCPUs, MemoryMB: fx.Flavor.RAMMB, ExtraSpecs: fx.Flavor.ExtraSpecs}
	var image topology.ImageProps
	if fx.Image != nil {
		image = topology.ImageProps(fx.Image.Properties)
	}
	befores := map[string]*Snapshot{}
	for name := range env.Hosts {
		snap, err := env.Snapshot(ctx, name, "")
		if err != nil {
			return res, err
		}
		exp, err := env.Expect(name, flavor, image, guestsOf(snap))
		if err != nil {
			return res, err
		}
		befores[name], res.Predicted[name] = snap, exp
	}

	f, err := run.CreateFlavor(ctx, openstack.FlavorSpec{
		Name: fx.Name, VCPUs: fx.Flavor.VCPUs, RAMMB: fx.Flavor.RAMMB, DiskGB: fx.Flavor.DiskGB,
		ExtraSpecs: fx.Flavor.ExtraSpecs, Microversion: fx.Microversion,
	})
	if err != nil {
		var ese *openstack.ExtraSpecsError
		if errors.As(err, &ese) && HTTPStatus(err) != 0 {
			res.FlavorErr = err
			return res, nil
		}
		return res, err
	}
	res.Flavor = f

	imageID := baseImage
	if fx.Image != nil {
		file, err := BlankImageFile()
		if err != nil {
			return res, err
		}
		img, err := run.CreateImage(ctx, openstack.ImageSpec{Name: fx.Name, Properties: fx.Image.Properties, File: file, DiskFormat: "raw"}, env.Config.Timeouts.Image)
		if err != nil {
			return res, err
		}
		res.Image = img
		imageID = img.ID
	}

	res.BootImage = imageID
	created := time.Now()
	srv, err := run.CreateServer(ctx, openstack.ServerSpec{Name: fx.ServerName(), FlavorID: f.ID, ImageID: imageID,
		Metadata: map[string]string{"numa-conformance-fixture": fx.Name}})
	if err != nil {
		if HTTPStatus(err) >= 400 && HTTPStatus(err) < 500 {
			res.CreateErr = err
			return res, nil
		}
		return res, err
	}
	res.Server = srv
	if err := env.Cloud.WaitActive(ctx, srv.ID, env.Config.Timeouts.Boot); err != nil {
		var fault *openstack.ServerFaultError
		if errors.As(err, &fault) {
			res.BootErr = err
			res.Services, err = env.computeServices(ctx)
			return res, err
		}
		return res, err
	}

	sh, err := env.Cloud.ServerHost(ctx, srv.ID)
	if err != nil {
		return res, err
	}
	res.Host = sh.Host
	if _, ok := env.Hosts[sh.Host]; !ok {
		return res, fmt.Errorf("server %s landed on compute host %q, which is not in %s (hosts: %s): add it so the harness can read its libvirt",
			srv.ID, sh.Host, env.Config.File, strings.Join(env.Pool.Hosts(), ", "))
	}
	conn, err := env.Pool.Conn(ctx, sh.Host)
	if err != nil {
		return res, err
	}
	res.Domain, res.DomainXML, err = conn.DomainXML(ctx, srv.ID)
	if err != nil {
		return res, err
	}
	if env.Cloud.Supports(openstack.MicroversionTopology) {
		if res.NovaTopology, err = env.Cloud.ServerTopology(ctx, srv.ID); err != nil {
			return res, err
		}
	} else {
		res.Notes = append(res.Notes, "the cloud's compute API has no server topology (needs "+openstack.MicroversionTopology+"): Nova's own view is not compared")
	}

	// The usage before the boot is the prediction; servers that came or
	// went meanwhile make the order of claims matter (claimCandidates).
	after, err := env.Snapshot(ctx, sh.Host, srv.ID)
	if err != nil {
		return res, err
	}
	if res.NovaTopology != nil && len(res.NovaTopology.Nodes) > 0 {
		if inst, err := res.NovaTopology.Instance(); err == nil {
			if err := env.Journal.Record(JournalEntry{Guest: Guest{ID: srv.ID, Name: srv.Name, Host: sh.Host, Topology: inst}, Created: created}); err != nil {
				return res, fmt.Errorf("claim journal: %w", err)
			}
		}
	}
	journal, err := env.Journal.Entries()
	if err != nil {
		return res, fmt.Errorf("claim journal: %w", err)
	}
	cands, notes, err := env.claimCandidates(sh.Host, flavor, image, srv.ID, befores[sh.Host], after, journal)
	if err != nil {
		return res, err
	}
	res.Notes = append(res.Notes, notes...)
	for i := range cands {
		c := &cands[i]
		if c.Expected.Outcome != expect.Fits {
			continue
		}
		if c.Differences, err = expect.Check(c.Expected, res.Domain); err != nil {
			return res, fmt.Errorf("server %s on %s: %w", srv.ID, sh.Host, err)
		}
	}
	res.Candidates = cands
	res.Expected, res.Differences = cands[0].Expected, cands[0].Differences
	for _, c := range cands {
		if c.Expected.Outcome == expect.Fits && len(c.Differences) == 0 {
			res.Expected, res.Differences = c.Expected, nil
			break
		}
	}
	res.Notes = append(res.Notes, res.Expected.Choices...)
	return res, nil
}

// Predict computes the expectation for a request on one host from the
// host's current usage, leaving out the server exclude (the one being
// checked). It returns the servers whose usage it counted.
func (env *Env) Predict(ctx context.Context, host string, flavor topology.Flavor, image topology.ImageProps, exclude string) (*expect.Expected, []string, error) {
	snap, err := env.Snapshot(ctx, host, exclude)
	if err != nil {
		return nil, nil, err
	}
	guests := guestsOf(snap)
	exp, err := env.Expect(host, flavor, image, guests)
	if err != nil {
		return nil, nil, err
	}
	return exp, names(guests), nil
}

// guestsOf lists a snapshot's guests in a stable order.
func guestsOf(s *Snapshot) []Guest {
	var out []Guest
	for _, g := range s.Guests {
		out = append(out, g)
	}
	sortGuests(out)
	return out
}

var blankImage struct {
	once sync.Once
	path string
	err  error
}

// BlankImageFile returns a 1 MiB raw disk of zeros: the test servers never
// boot an operating system (they sit in the firmware), so the smallest
// image any cloud accepts is enough, and the harness needs no download.
func BlankImageFile() (string, error) {
	blankImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "numa-conformance-image-")
		if err != nil {
			blankImage.err = err
			return
		}
		p := filepath.Join(dir, "blank.raw")
		blankImage.err = os.WriteFile(p, make([]byte, 1<<20), 0o644)
		blankImage.path = p
	})
	return blankImage.path, blankImage.err
}

// computeServices reads the nova-compute service of every configured host.
func (env *Env) computeServices(ctx context.Context) (map[string]*openstack.ComputeService, error) {
	out := map[string]*openstack.ComputeService{}
	for _, h := range env.Pool.Hosts() {
		s, err := env.Cloud.ComputeServiceOf(ctx, h)
		if err != nil {
			return out, err
		}
		out[h] = s
	}
	return out, nil
}

// Unschedulable lists the configured hosts whose nova-compute service the
// scheduler would have dropped when the server failed, each with its
// state; empty when every host could be considered (or nothing failed).
func (r *Result) Unschedulable() []string {
	var out []string
	for _, s := range r.Services {
		if !s.Schedulable() {
			out = append(out, s.String())
		}
	}
	sort.Strings(out)
	return out
}
