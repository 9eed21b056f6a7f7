package harness

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Step is the outcome of one lifecycle operation on a fixture's server.
type Step struct {
	Operation openstack.Operation `json:"operation"`
	// Flavor is the flavor the server has after the step.
	Flavor string `json:"flavor"`
	Host   string `json:"host"`
	// Expected is the candidate the domain matched, else the first one.
	Expected    *expect.Expected    `json:"expected"`
	Candidates  []Candidate         `json:"candidates"`
	Differences []domain.Difference `json:"differences"`
	Domain      *libvirtxml.Domain  `json:"-"`
	DomainXML   string              `json:"-"`
	Notes       []string            `json:"notes,omitempty"`
}

// NeedsHostsError says a migration was asked for on a configuration with a
// single compute host: there is nowhere to move the server to.
type NeedsHostsError struct {
	Operation openstack.Operation
	Hosts     []string
}

// Error names the operation and the hosts there are.
func (e *NeedsHostsError) Error() string {
	return fmt.Sprintf("%s needs a second compute host in the harness configuration; configured: %v", e.Operation, e.Hosts)
}

// Lifecycle applies op to the fixture's server and computes what its
// domain must look like afterwards. Operations that reuse the stored NUMA
// topology (reboots, stop/start, suspend, pause, rebuild) must leave the
// placement of the last step untouched; those that claim again
// (unshelve, resize) are fitted anew against the host's usage: without
// the server itself for unshelve (it was offloaded), with its old claim
// still counted for a resize on the same host (Nova holds both claims
// until the resize is confirmed). For a resize, to is the fixture whose
// flavor to resize to (its flavor is created under run). last is the
// previous step (nil for the first), whose placement the next one starts
// from.
func (env *Env) Lifecycle(ctx context.Context, run *openstack.Run, res *Result, last *Step, op openstack.Operation, to *fixtures.Fixture) (*Step, error) {
	if res.Server == nil || res.Expected == nil {
		return nil, fmt.Errorf("fixture %s has no running server to apply %s to", res.Fixture.Name, op)
	}
	step := &Step{Operation: op, Flavor: res.Flavor.Name}
	prev, from := res.Expected, res.Host
	if last != nil {
		prev, from = last.Expected, last.Host
		step.Flavor = last.Flavor
	}
	if op.Migrates() && len(env.Hosts) < 2 {
		return nil, &NeedsHostsError{Operation: op, Hosts: slices.Sorted(maps.Keys(env.Hosts))}
	}
	flavor := topology.Flavor{VCPUs: res.Fixture.Flavor.VCPUs, MemoryMB: res.Fixture.Flavor.RAMMB, ExtraSpecs: res.Fixture.Flavor.ExtraSpecs}
	var image topology.ImageProps
	if res.Fixture.Image != nil {
		image = topology.ImageProps(res.Fixture.Image.Properties)
	}
	flavorID := ""
	if op == openstack.OpResize {
		if to == nil {
			return nil, fmt.Errorf("fixture %s: resize needs a target fixture", res.Fixture.Name)
		}
		if to.Name == res.Fixture.Name {
			flavorID, step.Flavor = res.Flavor.ID, res.Flavor.Name
		} else {
			f, err := run.CreateFlavor(ctx, openstack.FlavorSpec{Name: res.Fixture.Name + "-to-" + to.Name,
				VCPUs: to.Flavor.VCPUs, RAMMB: to.Flavor.RAMMB, DiskGB: to.Flavor.DiskGB, ExtraSpecs: to.Flavor.ExtraSpecs})
			if err != nil {
				return nil, err
			}
			flavorID, step.Flavor = f.ID, f.Name
		}
		flavor = topology.Flavor{VCPUs: to.Flavor.VCPUs, MemoryMB: to.Flavor.RAMMB, ExtraSpecs: to.Flavor.ExtraSpecs}
	}

	var cands []Candidate
	switch {
	case op.Migrates():
		// The scheduler picks the destination: the expectation is fitted
		// once the server is there (below).
	case op.Reclaims():
		exclude := res.Server.ID
		snapshot := "before " + string(op) + ", without this server"
		if op == openstack.OpResize {
			exclude, snapshot = "", "before resize, with this server's old claim"
		}
		exp, others, err := env.Predict(ctx, from, flavor, image, exclude)
		if err != nil {
			return nil, err
		}
		cands = append(cands, Candidate{Snapshot: snapshot, Others: others, Expected: exp})
	default:
		cands = append(cands, Candidate{Snapshot: "the placement before " + string(op), Expected: prev})
	}

	if err := env.Cloud.Apply(ctx, res.Server.ID, op, res.BootImage, flavorID, env.Config.Timeouts.Boot); err != nil {
		return nil, err
	}
	sh, err := env.Cloud.ServerHost(ctx, res.Server.ID)
	if err != nil {
		return nil, err
	}
	step.Host = sh.Host
	if _, ok := env.Hosts[sh.Host]; !ok {
		return nil, fmt.Errorf("after %s, server %s is on compute host %q, which is not in %s", op, res.Server.ID, sh.Host, env.Config.File)
	}
	if op.Migrates() && sh.Host == from {
		return nil, fmt.Errorf("after %s, server %s: expected it on another compute host than %s, observed it still there (Nova rolled the migration back; see GET /servers/%s/migrations)", op, res.Server.ID, from, res.Server.ID)
	}
	if op.Reclaims() {
		exp, others, err := env.Predict(ctx, sh.Host, flavor, image, res.Server.ID)
		if err != nil {
			return nil, err
		}
		if len(cands) == 0 || exp.FragmentsXML != cands[0].Expected.FragmentsXML || sh.Host != from {
			cands = append(cands, Candidate{Snapshot: "after " + string(op) + " to " + sh.Host + ", without this server", Others: others, Expected: exp})
		}
	}
	conn, err := env.Pool.Conn(ctx, sh.Host)
	if err != nil {
		return nil, err
	}
	if step.Domain, step.DomainXML, err = conn.DomainXML(ctx, res.Server.ID); err != nil {
		return nil, err
	}
	for i := range cands {
		c := &cands[i]
		if c.Expected.Outcome != expect.Fits {
			continue
		}
		if c.Differences, err = expect.Check(c.Expected, step.Domain); err != nil {
			return nil, err
		}
	}
	step.Candidates = cands
	step.Expected, step.Differences = cands[0].Expected, cands[0].Differences
	for _, c := range cands {
		if c.Expected.Outcome == expect.Fits && len(c.Differences) == 0 {
			step.Expected, step.Differences = c.Expected, nil
			if len(cands) > 1 {
				step.Notes = append(step.Notes, "matched the expectation "+c.Snapshot)
			}
			break
		}
	}
	if step.Expected.Outcome != expect.Fits {
		step.Notes = append(step.Notes, fmt.Sprintf("the fitter predicts %s for the %s (%s), yet Nova completed it", step.Expected.Outcome, op, step.Expected.ReasonText))
	}
	return step, nil
}
