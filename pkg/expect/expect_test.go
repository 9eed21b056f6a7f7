package expect

import (
	"os"
	"slices"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/expect/fitter"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The testdata samples were recorded from real Nova 26.2.2 on the embedded
// cloud's two-node compute host (see domain/testdata/SAMPLES-README.md); they are shared with that package's tests.

func sampleHost(t *testing.T) (*topology.HostTopology, cpuset.CPUSet) {
	t.Helper()
	data, err := os.ReadFile("domain/testdata/caps-compute-numa.xml")
	if err != nil {
		t.Fatal(err)
	}
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(string(data)); err != nil {
		t.Fatal(err)
	}
	online := cpuset.MustParse("0-3")
	host, err := domain.HostFromCapabilities(&caps, domain.Config{}, online)
	if err != nil {
		t.Fatal(err)
	}
	return host, online
}

func sampleDomain(t *testing.T, file string) *libvirtxml.Domain {
	t.Helper()
	data, err := os.ReadFile("domain/testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(string(data)); err != nil {
		t.Fatal(err)
	}
	return &d
}

func flavor(specs map[string]string) topology.Flavor {
	return topology.Flavor{VCPUs: 4, MemoryMB: 2048, ExtraSpecs: specs}
}

var (
	autoSplit   = map[string]string{"hw:numa_nodes": "2"}
	manualSplit = map[string]string{"hw:numa_nodes": "2", "hw:numa_cpus.0": "2,3", "hw:numa_cpus.1": "0,1",
		"hw:numa_mem.0": "1024", "hw:numa_mem.1": "1024"}
)

func TestRecordedSeedDomainsConform(t *testing.T) {
	host, online := sampleHost(t)
	for _, tc := range []struct {
		name  string
		specs map[string]string
		xml   string
	}{
		{"numa_vm_1", autoSplit, "nova-numa_vm_1.xml"},
		{"numa_vm_2", manualSplit, "nova-numa_vm_2.xml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, err := Compute(Request{Flavor: flavor(tc.specs), Host: host, HostOnlineCPUs: online})
			if err != nil {
				t.Fatal(err)
			}
			if exp.Outcome != Fits {
				t.Fatalf("outcome %s (%s), want fits", exp.Outcome, exp.ReasonText)
			}
			diffs, err := Check(exp, sampleDomain(t, tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) != 0 {
				t.Fatalf("recorded real domain differs from the expectation:\n%v\nexpected:\n%s", diffs, exp.FragmentsXML)
			}
		})
	}
}

// The other seed scenario's domain must not pass for this one: the check
// sees the swapped CPU split.
func TestCheckCatchesTheOtherSplit(t *testing.T) {
	host, online := sampleHost(t)
	exp, err := Compute(Request{Flavor: flavor(manualSplit), Host: host, HostOnlineCPUs: online})
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := Check(exp, sampleDomain(t, "nova-numa_vm_1.xml"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range diffs {
		if d.Path == "cpu/numa/cell[id=0]/cpus" && d.Expected == "2-3" && d.Observed == "0-1" {
			found = true
		}
	}
	if !found {
		t.Fatalf("differences %v do not name cell 0's CPUs (expected 2-3, observed 0-1)", diffs)
	}
}

func TestCheckCatchesEveryAlteration(t *testing.T) {
	host, online := sampleHost(t)
	exp, err := Compute(Request{Flavor: flavor(autoSplit), Host: host, HostOnlineCPUs: online})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range domain.Alterations(sampleDomain(t, "nova-numa_vm_1.xml")) {
		d := sampleDomain(t, "nova-numa_vm_1.xml")
		a.Apply(d)
		diffs, err := Check(exp, d)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(diffs, a.Want) {
			t.Errorf("%s: differences %v do not include %v", a.Name, diffs, a.Want)
		}
	}
	d := sampleDomain(t, "nova-numa_vm_1.xml")
	d.CPU.Topology.Sockets, d.CPU.Topology.Cores = 2, 2
	diffs, _ := Check(exp, d)
	if len(diffs) != 1 || diffs[0].Path != "cpu/topology" || diffs[0].Expected != "sockets=4 cores=1 threads=1" {
		t.Errorf("guest CPU topology change: differences %v", diffs)
	}
}

func TestOutcomes(t *testing.T) {
	host, online := sampleHost(t)
	for _, tc := range []struct {
		name    string
		specs   map[string]string
		image   topology.ImageProps
		outcome Outcome
		class   string
	}{
		{"flavor and image", autoSplit, topology.ImageProps{"hw_numa_nodes": "2"}, Rejected, "ImageNUMATopologyForbidden"},
		{"asymmetric", map[string]string{"hw:numa_nodes": "3"}, nil, Rejected, "ImageNUMATopologyAsymmetric"},
		{"too many nodes", map[string]string{"hw:numa_nodes": "4"}, nil, NoValidHost, ""},
		{"numa_cpus alone", map[string]string{"hw:numa_cpus.0": "0-3"}, nil, Fits, ""},
		{"mempolicy ignored", map[string]string{"hw:numa_nodes": "2", "hw:numa_mempolicy": "preferred"}, nil, Fits, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exp, err := Compute(Request{Flavor: flavor(tc.specs), Image: tc.image, Host: host, HostOnlineCPUs: online})
			if err != nil {
				t.Fatal(err)
			}
			if exp.Outcome != tc.outcome {
				t.Fatalf("outcome %s (%s), want %s", exp.Outcome, exp.ReasonText, tc.outcome)
			}
			if tc.class != "" && nova.ClassOf(exp.Reason) != tc.class {
				t.Fatalf("reason %v is %s, want %s", exp.Reason, nova.ClassOf(exp.Reason), tc.class)
			}
		})
	}
	exp, _ := Compute(Request{Flavor: flavor(map[string]string{"hw:numa_cpus.0": "0-3"}), Host: host, HostOnlineCPUs: online})
	if exp.Requested != nil || exp.Fragments.CPUNUMA != nil || exp.Fragments.NUMATune != nil || exp.Fragments.CPUTune != nil {
		t.Fatalf("hw:numa_cpus.0 without a trigger must give no NUMA elements, got %s", exp.FragmentsXML)
	}
}

// A single-cell guest goes to the emptier host cell when spreading: the
// expectation must follow the usage already on the host.
func TestUsageSteersPlacement(t *testing.T) {
	host, online := sampleHost(t)
	// Nova never puts more floating vCPUs in a guest cell than the host
	// cell has CPUs, whatever the ratios: two vCPUs for two-CPU cells.
	one := topology.Flavor{VCPUs: 2, MemoryMB: 1024, ExtraSpecs: map[string]string{"hw:numa_nodes": "1"}}
	limits := &topology.Limits{CPUAllocationRatio: 4, RAMAllocationRatio: 1}
	first, err := Compute(Request{Flavor: one, Host: host, HostOnlineCPUs: online, Limits: limits})
	if err != nil || first.Placed == nil {
		t.Fatalf("first guest: %v %+v", err, first)
	}
	used, err := AccountUsage(*host, []topology.InstanceTopology{*first.Placed}, fitter.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := Compute(Request{Flavor: one, Host: &used, HostOnlineCPUs: online, Limits: limits})
	if err != nil || second.Placed == nil {
		t.Fatalf("second guest: %v %+v", err, second)
	}
	if a, b := first.Placed.Cells[0].ID, second.Placed.Cells[0].ID; a == b {
		t.Fatalf("both single-cell guests on host cell %d; spreading puts the second on the other cell", a)
	}
	if !strings.Contains(second.FragmentsXML, "nodeset=") {
		t.Fatalf("no numatune in %s", second.FragmentsXML)
	}
}
