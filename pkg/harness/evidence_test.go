package harness

import (
	"encoding/json"
	"os"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The recorded samples live with the packages that own them: real Nova
// 26.2.2 output on the embedded cloud's two-node host.
const (
	recordedCaps     = "../expect/domain/testdata/caps-compute-numa.xml"
	recordedDomain   = "../expect/domain/testdata/nova-numa_vm_2.xml"
	recordedTopology = "../clouds/openstack/testdata/nova-numa_vm_2-topology.json"
)

func loadVM2(t *testing.T) (*expect.Expected, *libvirtxml.Domain, *openstack.Topology) {
	t.Helper()
	read := func(name string) string {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	online := cpuset.MustParse("0-3")
	host, err := domain.HostFromCapabilities(readCaps(t), domain.Config{}, online)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := expect.Compute(expect.Request{Host: host, HostOnlineCPUs: online, Flavor: topology.Flavor{VCPUs: 4, MemoryMB: 2048,
		ExtraSpecs: map[string]string{"hw:numa_nodes": "2", "hw:numa_cpus.0": "2,3", "hw:numa_cpus.1": "0,1", "hw:numa_mem.0": "1024", "hw:numa_mem.1": "1024"}}})
	if err != nil {
		t.Fatal(err)
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(read(recordedDomain)); err != nil {
		t.Fatal(err)
	}
	var nv openstack.Topology
	if err := json.Unmarshal([]byte(read(recordedTopology)), &nv); err != nil {
		t.Fatal(err)
	}
	return exp, &d, &nv
}

func readCaps(t *testing.T) *libvirtxml.Caps {
	t.Helper()
	b, err := os.ReadFile(recordedCaps)
	if err != nil {
		t.Fatal(err)
	}
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(string(b)); err != nil {
		t.Fatal(err)
	}
	return &caps
}

// The recorded numa_vm_2 agrees three ways; moving a memnode or Nova's
// record of a cell is reported against the right pair.
func TestThreeWay(t *testing.T) {
	exp, d, nv := loadVM2(t)
	if diffs := append(NovaViewDifferences(exp, nv), DomainVsNovaView(d, nv)...); len(diffs) != 0 {
		t.Fatalf("recorded numa_vm_2 disagrees: %v", diffs)
	}

	d.NUMATune.MemNodes[1].Nodeset = "0"
	diffs := DomainVsNovaView(d, nv)
	if len(diffs) != 1 || diffs[0].Path != "nova-topology-vs-domain/nodes[1]/host_node" || diffs[0].Expected != "1" || diffs[0].Observed != "0" {
		t.Fatalf("memnode 1 moved to host node 0: %v", diffs)
	}

	nv.Nodes[0].HostNode = new(int)
	*nv.Nodes[0].HostNode = 1
	diffs = NovaViewDifferences(exp, nv)
	if len(diffs) != 1 || diffs[0].Path != "nova-topology/nodes[0]/host_node" || diffs[0].Expected != "0" || diffs[0].Observed != "1" {
		t.Fatalf("Nova records cell 0 on host node 1: %v", diffs)
	}
}
