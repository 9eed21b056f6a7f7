package harness

import (
	"fmt"
	"slices"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// MissingCapability says why no configured host can serve a fixture
// because of what placement filters on before any NUMA fitting (PCPU
// inventory for pinned guests, the HW_CPU_HYPERTHREADING trait for the
// isolate and require thread policies), or "" when some host can. The
// fitter does not model placement, so without this a fixture written for
// other hardware would fail instead of being skipped with the reason.
func (env *Env) MissingCapability(fx fixtures.Fixture) string {
	flavor := topology.Flavor{VCPUs: fx.Flavor.VCPUs, MemoryMB: fx.Flavor.RAMMB, ExtraSpecs: fx.Flavor.ExtraSpecs}
	var image topology.ImageProps
	if fx.Image != nil {
		image = topology.ImageProps(fx.Image.Properties)
	}
	policy, err := constraints.CPUPolicy(flavor, image)
	if err != nil {
		return "" // the API refuses it; the fixture's own specs say so
	}
	pinned := policy == topology.CPUPolicyDedicated || policy == topology.CPUPolicyMixed
	thread := fx.Flavor.ExtraSpecs["hw:cpu_thread_policy"]
	if thread == "" && image != nil {
		thread = image["hw_cpu_thread_policy"]
	}
	if !pinned {
		thread = "" // Nova ignores thread policies of unpinned guests
	}
	var seen []string
	for _, name := range env.hostNames() {
		h := env.Hosts[name]
		pcpu := 0
		if e, ok := h.Inventory.Resources["PCPU"]; ok {
			pcpu = e.Total
		}
		smt := hasSMT(h)
		seen = append(seen, fmt.Sprintf("%s: PCPU %d, thread siblings %v", name, pcpu, smt))
		if pinned && pcpu == 0 {
			continue
		}
		if thread == string(topology.ThreadPolicyIsolate) && smt {
			continue
		}
		if thread == string(topology.ThreadPolicyRequire) && !smt {
			continue
		}
		return ""
	}
	var need []string
	if pinned {
		need = append(need, fmt.Sprintf("PCPU inventory (cpu_dedicated_set) for hw:cpu_policy=%s", policy))
	}
	switch thread {
	case string(topology.ThreadPolicyIsolate):
		need = append(need, "no thread siblings (placement forbids HW_CPU_HYPERTHREADING for hw:cpu_thread_policy=isolate)")
	case string(topology.ThreadPolicyRequire):
		need = append(need, "thread siblings (placement requires HW_CPU_HYPERTHREADING for hw:cpu_thread_policy=require)")
	}
	if len(need) == 0 {
		return ""
	}
	return fmt.Sprintf("fixture %s needs a compute host with %s; configured hosts: %s",
		fx.Name, strings.Join(need, " and "), strings.Join(seen, "; "))
}

// hasSMT reports whether the host's NUMA model has a thread-sibling
// group of more than one CPU (what makes nova-compute report the
// HW_CPU_HYPERTHREADING trait).
func hasSMT(h *Host) bool {
	if h.Info.Topology == nil {
		return false
	}
	for _, c := range h.Info.Topology.Cells {
		for _, g := range c.Siblings {
			if g.Len() > 1 {
				return true
			}
		}
	}
	return false
}

func (env *Env) hostNames() []string {
	var out []string
	for n := range env.Hosts {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
