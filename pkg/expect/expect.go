package expect

import (
	"errors"
	"fmt"
	"sort"
	"strconv"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/expect/fitter"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Outcome is what Nova does with a request.
type Outcome string

const (
	// Fits: the API accepts the request and the guest fits the host.
	Fits Outcome = "fits"
	// Rejected: the API refuses the request with 400 (numa_get_constraints
	// raised before anything was scheduled).
	Rejected Outcome = "api-400"
	// NoValidHost: the API accepts the request but no arrangement of host
	// cells fits, so the scheduler finds no host.
	NoValidHost Outcome = "no-valid-host"
)

// Request is everything the expectation depends on for one host. Host
// must carry the host's current usage (see AccountUsage): which cells a
// guest lands on depends on what is already there.
type Request struct {
	Flavor topology.Flavor
	Image  topology.ImageProps
	// Host is the host topology as Nova's resource tracker sees it,
	// usage included; nil for a host without NUMA topology.
	Host *topology.HostTopology
	// HostOnlineCPUs, Config and Features are what the libvirt driver
	// reads besides the topology (see domain.Input).
	HostOnlineCPUs cpuset.CPUSet
	Config         domain.Config
	Features       domain.HostFeatures
	// Limits are the host's overcommit ratios (placement's allocation
	// ratios for VCPU and MEMORY_MB); nil means none.
	Limits *topology.Limits
	// Options are the fitter's host settings and the release profile.
	Options fitter.Options
}

// Expected is what Nova should do with a Request, and for a guest that
// fits, every fragment of its domain that the NUMA code decides.
type Expected struct {
	Outcome Outcome `json:"outcome"`
	// Reason is Nova's error for a rejected request (its text is what the
	// API's 400 body carries), or why nothing fits.
	Reason error `json:"-"`
	// ReasonText is Reason's message as the API renders it, for reports
	// and for comparing with Nova's 400 body.
	ReasonText string `json:"reason,omitempty"`
	// ReasonClass is Reason's Nova exception class.
	ReasonClass string `json:"reason_class,omitempty"`
	// Requested is the guest topology numa_get_constraints derives; nil
	// when the request asks for no NUMA topology.
	Requested *topology.InstanceTopology `json:"requested"`
	// Placed is the fitted topology (cell ids are host cells); nil when
	// the guest has no NUMA topology or does not fit.
	Placed *topology.InstanceTopology `json:"placed"`
	// CPUTopology is the guest's <cpu><topology>.
	CPUTopology topology.GuestCPUTopology `json:"cpu_topology"`
	// Fragments are the domain elements Nova writes.
	Fragments domain.Fragments `json:"-"`
	// FragmentsXML renders Fragments, for reports.
	FragmentsXML string `json:"fragments_xml,omitempty"`
	// Choices lists places where Nova's result depends on something the
	// reference model cannot know (see fitter.SiblingOrderUnstable); the
	// check accepts either value there and reports says so.
	Choices []string `json:"choices,omitempty"`
}

// Compute predicts Nova's handling of req. An error means the model itself
// could not decide (an exception Nova would let escape, or a host the
// driver would refuse), not that the guest is refused: that is Outcome.
func Compute(req Request) (*Expected, error) {
	exp := &Expected{}
	requested, err := constraints.Get(req.Flavor, req.Image)
	if err != nil {
		if !isAPIError(err) {
			return nil, fmt.Errorf("expect: numa_get_constraints: %w", err)
		}
		exp.reject(err)
		return exp, nil
	}
	exp.Requested = requested
	topo, err := constraints.BestCPUTopology(req.Flavor, req.Image, true)
	if err != nil {
		if !isAPIError(err) {
			return nil, fmt.Errorf("expect: get_best_cpu_topology: %w", err)
		}
		exp.reject(err)
		return exp, nil
	}
	exp.CPUTopology = topo

	if requested != nil {
		if req.Host == nil {
			exp.Outcome = NoValidHost
			exp.ReasonText = "the host reports no NUMA topology"
			return exp, nil
		}
		placed, err := fitter.FitInstance(*req.Host, *requested, req.Limits, req.Options)
		if err != nil {
			return nil, fmt.Errorf("expect: numa_fit_instance_to_host: %w", err)
		}
		if placed == nil {
			exp.Outcome = NoValidHost
			exp.ReasonText = fmt.Sprintf("no arrangement of the host's %d NUMA cells fits the guest's %d", len(req.Host.Cells), len(requested.Cells))
			return exp, nil
		}
		exp.Placed = placed
		exp.Choices = choices(placed, req.Host)
	}
	exp.Outcome = Fits
	frags, err := domain.Build(domain.Input{
		Instance: exp.Placed, Flavor: req.Flavor, Image: req.Image, Host: req.Host,
		HostOnlineCPUs: req.HostOnlineCPUs, Config: req.Config, HostFeatures: req.Features,
		Profile: req.Options.Profile,
	})
	if err != nil {
		return nil, fmt.Errorf("expect: the libvirt driver would refuse the guest: %w", err)
	}
	exp.Fragments = frags
	if exp.FragmentsXML, err = frags.XML(); err != nil {
		return nil, err
	}
	return exp, nil
}

func (e *Expected) reject(err error) {
	e.Outcome, e.Reason, e.ReasonText, e.ReasonClass = Rejected, err, nova.Message(err), nova.ClassOf(err)
}

// isAPIError tells the exceptions the API turns into 400 (Invalid and
// Forbidden and their subclasses) from anything else, which would be a 500
// or a failure of the model.
func isAPIError(err error) bool {
	return nova.IsA(err, "Invalid") || nova.IsA(err, "Forbidden")
}

// choices names the sibling groups whose vCPU order Nova cannot be
// predicted to keep.
func choices(placed *topology.InstanceTopology, host *topology.HostTopology) []string {
	var out []string
	for _, c := range placed.Cells {
		if len(c.CPUPinning) == 0 {
			continue
		}
		for _, hc := range host.Cells {
			if hc.ID != c.ID {
				continue
			}
			for _, g := range hc.Siblings {
				if fitter.SiblingOrderUnstable(g) {
					out = append(out, fmt.Sprintf("host cell %d: the order of vCPUs on thread siblings %s follows CPython set order that changes between runs; either order is accepted", hc.ID, g))
				}
			}
		}
	}
	return out
}

// AccountUsage returns host with the given fitted guests' usage added, the
// way Nova's resource tracker accounts the instances on a host. The guests'
// cell ids are host cell ids (as Nova's topology API reports host_node).
func AccountUsage(host topology.HostTopology, guests []topology.InstanceTopology, opts fitter.Options) (topology.HostTopology, error) {
	cur := host
	for i, g := range guests {
		next, err := fitter.Usage(cur, g, false, opts)
		if err != nil {
			return topology.HostTopology{}, fmt.Errorf("expect: accounting guest %d of %d on the host: %w", i+1, len(guests), err)
		}
		cur = next
	}
	return cur, nil
}

// Check compares a live domain with the expectation. It returns the
// differences (none means the domain conforms); an error means the domain
// could not be read as Nova's (e.g. an unparseable CPU list).
func Check(exp *Expected, d *libvirtxml.Domain) ([]domain.Difference, error) {
	if exp == nil || exp.Outcome != Fits {
		return nil, errors.New("expect: Check needs an expectation for a guest that fits")
	}
	got, err := domain.FromDomain(d)
	if err != nil {
		return nil, err
	}
	diffs := domain.Diff(exp.Fragments, got)
	diffs = append(diffs, cpuTopologyDiff(exp.CPUTopology, d)...)
	sort.SliceStable(diffs, func(i, j int) bool { return diffs[i].Path < diffs[j].Path })
	return diffs, nil
}

// cpuTopologyDiff compares <cpu><topology>. libvirt adds dies='1' itself,
// so only sockets, cores and threads are Nova's.
func cpuTopologyDiff(want topology.GuestCPUTopology, d *libvirtxml.Domain) []domain.Difference {
	var got *libvirtxml.DomainCPUTopology
	if d.CPU != nil {
		got = d.CPU.Topology
	}
	if got == nil {
		return []domain.Difference{{Path: "cpu/topology", Expected: showTopology(want), Observed: "absent"}}
	}
	if got.Sockets == want.Sockets && got.Cores == want.Cores && got.Threads == want.Threads {
		return nil
	}
	return []domain.Difference{{Path: "cpu/topology", Expected: showTopology(want),
		Observed: "sockets=" + strconv.Itoa(got.Sockets) + " cores=" + strconv.Itoa(got.Cores) + " threads=" + strconv.Itoa(got.Threads)}}
}

func showTopology(t topology.GuestCPUTopology) string {
	return fmt.Sprintf("sockets=%d cores=%d threads=%d", t.Sockets, t.Cores, t.Threads)
}
