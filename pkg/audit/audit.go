// Package audit checks servers that already exist, without creating,
// changing or deleting anything: for each server it rebuilds the domain
// Nova's libvirt driver must have written from what Nova recorded (the
// flavor embedded in the server, the image's properties, the server
// topology API's placement and pinning) and compares it with the live
// domain read over a read-only libvirt connection.
//
// It is what an operator runs on a production cloud before and after an
// upgrade, where booting test servers is not allowed.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Verdict is the outcome for one server.
type Verdict string

const (
	// Conforms: the live domain is what Nova's driver writes for the
	// server's recorded request and placement.
	Conforms Verdict = "conforms"
	// Differs: it is not; Differences say where.
	Differs Verdict = "differs"
	// CannotTell: the check could not be made; Reason says why.
	CannotTell Verdict = "cannot-tell"
)

// Server is one server's result.
type Server struct {
	ID      string              `json:"id"`
	Name    string              `json:"name"`
	Host    string              `json:"host"`
	Verdict Verdict             `json:"verdict"`
	Reason  string              `json:"reason,omitempty"`
	Diffs   []domain.Difference `json:"differences,omitempty"`
	// Expected is the fragments the domain was checked against.
	Expected string   `json:"expected_xml,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// Report is an audit's result.
type Report struct {
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Facts    harness.Facts  `json:"facts"`
	Servers  []Server       `json:"servers"`
	Counts   map[string]int `json:"counts"`
	// Skipped counts servers without NUMA-relevant requests.
	Skipped int `json:"skipped_not_numa"`
	// Interrupted is set when the audit stopped before every server was
	// checked; the servers not reached are CannotTell.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Options select what to audit.
type Options struct {
	// Servers are IDs to audit; empty with All audits every server.
	Servers []string
	All     bool
	// Host limits the audit to one compute host.
	Host string
	// PerHost bounds concurrent checks per host (default 2): each check
	// is a few API calls and one libvirt call on the host's shared
	// connection.
	PerHost int
	// Progress receives one line per finished server; nil for none.
	Progress io.Writer
}

// Run audits the selected servers. Hosts in unreachable (from
// harness.PreflightReachable) give CannotTell for their servers while the
// others complete. When ctx ends, the servers not yet checked are
// CannotTell and the report is returned with Interrupted set.
func Run(ctx context.Context, env *harness.Env, unreachable map[string]error, opts Options) (*Report, error) {
	rep := &Report{Started: time.Now(), Facts: env.Facts, Counts: map[string]int{}}
	targets, err := selectServers(ctx, env, opts)
	if err != nil {
		return nil, err
	}
	per := opts.PerHost
	if per <= 0 {
		per = 2
	}
	sems := map[string]chan struct{}{}
	for _, t := range targets {
		if sems[t.Host] == nil {
			sems[t.Host] = make(chan struct{}, per)
		}
	}
	results := make([]*Server, len(targets))
	skipped := make([]bool, len(targets))
	var (
		mu          sync.Mutex
		done        int
		donePerHost = map[string]int{}
		totalByHost = map[string]int{}
		wg          sync.WaitGroup
	)
	for _, t := range targets {
		totalByHost[t.Host]++
	}
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := sems[t.Host]
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = &Server{ID: t.ID, Name: t.Name, Host: t.Host, Verdict: CannotTell, Reason: "interrupted before this server was checked"}
				return
			}
			r, skip := check(ctx, env, unreachable, t)
			results[i], skipped[i] = r, skip
			mu.Lock()
			done++
			donePerHost[t.Host]++
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, "audit: %d/%d servers (%s: %d/%d): %s %s: %s\n",
					done, len(targets), t.Host, donePerHost[t.Host], totalByHost[t.Host], r.ID, r.Name, verdictOrSkipped(r, skip))
			}
			mu.Unlock()
			// Released after the progress line: a server of this host
			// checked next starts after whatever the line caused.
			<-sem
		}()
	}
	wg.Wait()
	rep.Interrupted = ctx.Err() != nil
	for i, r := range results {
		if skipped[i] {
			rep.Skipped++
			continue
		}
		rep.Servers = append(rep.Servers, *r)
		rep.Counts[string(r.Verdict)]++
	}
	sort.Slice(rep.Servers, func(i, j int) bool {
		a, b := rep.Servers[i], rep.Servers[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		return a.ID < b.ID
	})
	rep.Finished = time.Now()
	return rep, nil
}

func verdictOrSkipped(r *Server, skip bool) string {
	if skip {
		return "skipped (nothing NUMA-related requested)"
	}
	return string(r.Verdict)
}

// selectServers resolves the options to servers with their hosts.
func selectServers(ctx context.Context, env *harness.Env, opts Options) ([]openstack.ServerDetails, error) {
	var out []openstack.ServerDetails
	switch {
	case len(opts.Servers) > 0:
		for _, id := range opts.Servers {
			d, err := env.Cloud.GetServerDetails(ctx, id)
			if err != nil {
				return nil, err
			}
			out = append(out, *d)
		}
	case opts.All:
		all, err := env.Cloud.AllServers(ctx)
		if err != nil {
			return nil, err
		}
		out = all
	default:
		return nil, errors.New("audit: name servers (--servers) or ask for --all")
	}
	if opts.Host != "" {
		var kept []openstack.ServerDetails
		for _, s := range out {
			if s.Host == opts.Host {
				kept = append(kept, s)
			}
		}
		out = kept
	}
	return out, nil
}

// check audits one server; it never returns an error, only a verdict.
// skip is set for a server whose request has nothing NUMA-related.
func check(ctx context.Context, env *harness.Env, unreachable map[string]error, t openstack.ServerDetails) (_ *Server, skip bool) {
	r := &Server{ID: t.ID, Name: t.Name, Host: t.Host}
	cannot := func(format string, args ...any) (*Server, bool) {
		r.Verdict, r.Reason = CannotTell, fmt.Sprintf(format, args...)
		return r, false
	}
	if ctx.Err() != nil {
		return cannot("interrupted before this server was checked")
	}
	d, err := env.Cloud.GetServerDetails(ctx, t.ID)
	if err != nil {
		return cannot("%v", err)
	}
	r.Host = d.Host
	flavor := topology.Flavor{Name: d.FlavorName, VCPUs: d.VCPUs, MemoryMB: d.RAMMB, ExtraSpecs: d.ExtraSpecs}
	var image topology.ImageProps
	if d.ImageID != "" {
		props, found, err := env.Cloud.ImageProperties(ctx, d.ImageID)
		if err != nil {
			return cannot("%v", err)
		}
		if !found {
			r.Notes = append(r.Notes, "the server's image "+d.ImageID+" no longer exists: its hw_* properties are unknown, the flavor alone is used")
		}
		image = topology.ImageProps(props)
	}
	requested, err := constraints.Get(flavor, image)
	if err != nil {
		return cannot("Nova's rules refuse this request (%v), yet the server exists: created under other rules?", err)
	}
	if requested == nil && !numaRelevant(flavor, image) {
		return r, true
	}
	if d.Host == "" {
		return cannot("the server has no compute host (status %s)", d.Status)
	}
	if herr, ok := unreachable[d.Host]; ok {
		return cannot("host %s is unreachable: %v", d.Host, herr)
	}
	h, ok := env.Hosts[d.Host]
	if !ok {
		return cannot("host %s is not in the harness configuration %s", d.Host, env.Config.File)
	}
	if d.Status != "ACTIVE" && d.Status != "PAUSED" && d.Status != "SHUTOFF" && d.Status != "SUSPENDED" {
		return cannot("the server is %s: no domain to check", d.Status)
	}

	var placed *topology.InstanceTopology
	if requested != nil {
		nv, err := env.Cloud.ServerTopology(ctx, d.ID)
		if err != nil {
			return cannot("%v", err)
		}
		inst, err := nv.Instance()
		if err != nil {
			return cannot("Nova's topology of the server: %v", err)
		}
		if len(inst.Cells) != len(requested.Cells) {
			return cannot("Nova records %d NUMA cells, the request asks for %d", len(inst.Cells), len(requested.Cells))
		}
		// The request says the policies; Nova's record says where each
		// cell went, the pinning and the page size.
		p := requested.Clone()
		for i := range p.Cells {
			c := &p.Cells[i]
			c.ID, c.CPUPinning = inst.Cells[i].ID, inst.Cells[i].CPUPinning
			if inst.Cells[i].PageSizeKB != 0 {
				c.PageSizeKB = inst.Cells[i].PageSizeKB
			}
		}
		placed = &p
		if p.EmulatorThreadsPolicy == topology.EmulatorThreadsIsolate {
			r.Notes = append(r.Notes, "emulator threads isolated: Nova's API does not show the reserved host CPU, so the emulatorpin is not checked")
		}
	}
	frags, err := domain.Build(domain.Input{Instance: placed, Flavor: flavor, Image: image, Host: h.Info.Topology,
		HostOnlineCPUs: h.Info.OnlineCPUs, Config: h.Domain, Profile: env.Profile})
	if err != nil {
		return cannot("Nova's driver would refuse this guest (%v), yet it runs", err)
	}
	topo, err := constraints.BestCPUTopology(flavor, image, true)
	if err != nil {
		return cannot("guest CPU topology: %v", err)
	}
	exp := &expect.Expected{Outcome: expect.Fits, Requested: requested, Placed: placed, Fragments: frags, CPUTopology: topo}
	if r.Expected, err = frags.XML(); err != nil {
		return cannot("%v", err)
	}
	conn, err := env.Pool.Conn(ctx, d.Host)
	if err != nil {
		return cannot("host %s is unreachable: %v", d.Host, err)
	}
	live, _, err := conn.DomainXML(ctx, d.ID)
	if errors.Is(err, hosts.ErrDomainNotFound) {
		return cannot("no libvirt domain for the server on %s", d.Host)
	}
	if err != nil {
		return cannot("%v", err)
	}
	diffs, err := expect.Check(exp, live)
	if err != nil {
		return cannot("%v", err)
	}
	if placed != nil && placed.EmulatorThreadsPolicy == topology.EmulatorThreadsIsolate {
		var kept []domain.Difference
		for _, x := range diffs {
			if !strings.HasPrefix(x.Path, "cputune/emulatorpin") {
				kept = append(kept, x)
			}
		}
		diffs = kept
	}
	kdiffs, note := kernelCheck(ctx, conn, d.ID, d.Status, live, h.Info.OnlineCPUs)
	diffs = append(diffs, kdiffs...)
	if note != "" {
		r.Notes = append(r.Notes, note)
	}
	r.Diffs = diffs
	if len(diffs) == 0 {
		r.Verdict = Conforms
	} else {
		r.Verdict = Differs
	}
	return r, false
}

// kernelCheck compares what the host's kernel applies to a running
// server's domain (vCPU thread affinities, memory nodes) with its live
// XML; differences have paths under domain.KernelLayer. A view libvirt
// cannot give (a server not running, a call refused) is a note, never a
// difference.
func kernelCheck(ctx context.Context, conn *hosts.Conn, id, status string, live *libvirtxml.Domain, online cpuset.CPUSet) ([]domain.Difference, string) {
	if status != "ACTIVE" {
		return nil, ""
	}
	view, err := conn.KernelView(ctx, id)
	if err != nil {
		return nil, fmt.Sprintf("the kernel's view (vCPU affinity, memory nodes) was not checked: %v", err)
	}
	return domain.KernelDiff(live, online, *view), ""
}

// numaRelevant reports whether a request without a NUMA topology still
// names NUMA, CPU or page-size settings (hw:numa_cpus.N alone, which Nova
// ignores, for one): the audit then checks that the domain has no NUMA
// elements indeed.
func numaRelevant(flavor topology.Flavor, image topology.ImageProps) bool {
	for k := range flavor.ExtraSpecs {
		if strings.HasPrefix(k, "hw:numa_") || strings.HasPrefix(k, "hw:cpu_") || strings.HasPrefix(k, "hw:mem_page_size") {
			return true
		}
	}
	for k := range image {
		if strings.HasPrefix(k, "hw_numa_") || strings.HasPrefix(k, "hw_cpu_") || strings.HasPrefix(k, "hw_mem_page_size") {
			return true
		}
	}
	return false
}
