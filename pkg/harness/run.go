package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gophercloud/gophercloud/v2"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
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
	// Predicted is the expectation per configured host before anything
	// was created, from the usage then on the host.
	Predicted map[string]*expect.Expected
	Flavor    *openstack.Flavor
	Image     *openstack.Image
	Server    *openstack.Server
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
	// Notes are things a reader of the report should know.
	Notes []string
}

// Candidate is one expectation for the landed host, computed from one
// snapshot of the other servers on it.
type Candidate struct {
	// Snapshot says which: "before boot" or "after boot".
	Snapshot string `json:"snapshot"`
	// Others are the servers on the host that the usage counted.
	Others      []string            `json:"others"`
	Expected    *expect.Expected    `json:"expected"`
	Differences []domain.Difference `json:"differences"`
}

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
	res := &Result{Fixture: fx, Predicted: map[string]*expect.Expected{}}
	flavor := topology.Flavor{VCPUs: fx.Flavor.VCPUs, MemoryMB: fx.Flavor.RAMMB, ExtraSpecs: fx.Flavor.ExtraSpecs}
	var image topology.ImageProps
	if fx.Image != nil {
		image = topology.ImageProps(fx.Image.Properties)
	}
	for name := range env.Hosts {
		exp, _, err := env.Predict(ctx, name, flavor, image, "")
		if err != nil {
			return res, err
		}
		res.Predicted[name] = exp
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
			return res, nil
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

	// The usage before the boot is the prediction; if other servers came
	// or went meanwhile, the usage after the boot (without this server) is
	// the other order of claims.
	before := Candidate{Snapshot: "before boot", Expected: res.Predicted[sh.Host]}
	after := Candidate{Snapshot: "after boot"}
	after.Expected, after.Others, err = env.Predict(ctx, sh.Host, flavor, image, srv.ID)
	if err != nil {
		return res, err
	}
	cands := []Candidate{before}
	if after.Expected.FragmentsXML != before.Expected.FragmentsXML || after.Expected.Outcome != before.Expected.Outcome {
		cands = append(cands, after)
		res.Notes = append(res.Notes, fmt.Sprintf("other servers changed on %s while this one booted (now counted: %s); Nova's order of claims is not visible, so the expectations before and after are both accepted",
			sh.Host, strings.Join(after.Others, ", ")))
	}
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
	res.Expected, res.Differences = before.Expected, cands[0].Differences
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
	h := env.Hosts[host]
	req := expect.Request{Flavor: flavor, Image: image, HostOnlineCPUs: h.Info.OnlineCPUs, Config: h.Domain,
		Limits: h.Limits, Options: env.FitterOptions()}
	var counted []string
	if h.Info.Topology != nil {
		servers, err := env.Cloud.HostServers(ctx, host)
		if err != nil {
			return nil, nil, err
		}
		var guests []topology.InstanceTopology
		for _, s := range servers {
			if s.ID == exclude || s.Topology == nil || len(s.Topology.Nodes) == 0 {
				continue
			}
			inst, err := s.Topology.Instance()
			if err != nil {
				return nil, nil, fmt.Errorf("server %s on %s: %w", s.ID, host, err)
			}
			guests = append(guests, inst)
			counted = append(counted, s.Name+" ("+s.ID+")")
		}
		used, err := expect.AccountUsage(*h.Info.Topology, guests)
		if err != nil {
			return nil, nil, fmt.Errorf("host %s: %w", host, err)
		}
		req.Host = &used
	}
	slices.Sort(counted)
	exp, err := expect.Compute(req)
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", host, err)
	}
	return exp, counted, nil
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
