package harness

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/evidence"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
)

// NovaViewDifferences compares the fitter's placed topology with Nova's
// own record of it (GET /servers/{id}/topology): cell count, each cell's
// vCPUs, memory, host node and pinning. Paths name the API's fields, so a
// disagreement says whether Nova's bookkeeping or the domain is off.
func NovaViewDifferences(exp *expect.Expected, nv *openstack.Topology) []domain.Difference {
	var out []domain.Difference
	add := func(path, want, got string) {
		if want != got {
			out = append(out, domain.Difference{Path: "nova-topology/" + path, Expected: want, Observed: got})
		}
	}
	var n int
	if exp != nil && exp.Placed != nil {
		n = len(exp.Placed.Cells)
	}
	add("nodes", fmt.Sprintf("%d nodes", n), fmt.Sprintf("%d nodes", len(nv.Nodes)))
	if n != len(nv.Nodes) || n == 0 {
		return out
	}
	for i, c := range exp.Placed.Cells {
		node := nv.Nodes[i]
		p := fmt.Sprintf("nodes[%d]/", i)
		add(p+"vcpu_set", c.VCPUs().String(), cpuset.New(node.VCPUSet...).String())
		add(p+"memory_mb", fmt.Sprint(c.MemoryMiB), fmt.Sprint(node.MemoryMB))
		if node.HostNode != nil {
			add(p+"host_node", fmt.Sprint(c.ID), fmt.Sprint(*node.HostNode))
		}
		add(p+"cpu_pinning", showPinning(c.CPUPinning), showPinning(node.CPUPinning))
	}
	return out
}

func showPinning(m map[int]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d->%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// Summarize builds the JSON evidence of a result.
func Summarize(res *Result) (evidence.Result, error) {
	s := evidence.Result{Fixture: res.Fixture.Name, File: fmt.Sprintf("%s:%d", res.Fixture.File, res.Fixture.Line),
		Labels: res.Fixture.AllLabels(), Outcome: string(res.Want.Outcome), Host: res.Host,
		Predicted: res.Predicted, Expected: res.Expected, Candidates: res.Candidates,
		Differences: res.Differences, Notes: res.Notes}
	if s.Differences == nil {
		s.Differences = []domain.Difference{}
	}
	if res.Server != nil {
		s.ServerID = res.Server.ID
	}
	for _, e := range []struct {
		err error
		dst *string
	}{{res.FlavorErr, &s.FlavorError}, {res.CreateErr, &s.CreateError}, {res.BootErr, &s.BootError}} {
		if e.err != nil {
			*e.dst = e.err.Error()
		}
	}
	if res.NovaTopology != nil {
		raw, err := json.Marshal(res.NovaTopology)
		if err != nil {
			return s, fmt.Errorf("evidence of %s: Nova's topology: %w", res.Fixture.Name, err)
		}
		s.NovaTopology = raw
	}
	return s, nil
}

// WriteEvidence writes a fixture's evidence under dir/<fixture>/:
// result.json, and when there is a domain, domain.xml (as libvirt returned
// it) and expected.xml (the fragments the fitter expects).
func WriteEvidence(dir string, res *Result) error {
	d := filepath.Join(dir, res.Fixture.Name)
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	sum, err := Summarize(res)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, evidence.FileName), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if res.DomainXML != "" {
		if err := os.WriteFile(filepath.Join(d, "domain.xml"), []byte(res.DomainXML), 0o644); err != nil {
			return err
		}
	}
	if res.Expected != nil && res.Expected.FragmentsXML != "" {
		if err := os.WriteFile(filepath.Join(d, "expected.xml"), []byte(res.Expected.FragmentsXML), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// DomainVsNovaView compares Nova's record of a server's topology with the
// live domain, the third side of the check (the fitter against each is
// the other two): cell count, each cell's vCPUs, memory and host node
// (its memnode's nodeset), and for pinned vCPUs the host CPU of their
// vcpupin. Paths start with "nova-topology-vs-domain/".
func DomainVsNovaView(d *libvirtxml.Domain, nv *openstack.Topology) []domain.Difference {
	var out []domain.Difference
	add := func(path, nova, dom string) {
		if nova != dom {
			out = append(out, domain.Difference{Path: "nova-topology-vs-domain/" + path, Expected: nova, Observed: dom})
		}
	}
	var cells []libvirtxml.DomainCell
	if d.CPU != nil && d.CPU.Numa != nil {
		cells = d.CPU.Numa.Cell
	}
	add("nodes", fmt.Sprintf("%d cells", len(nv.Nodes)), fmt.Sprintf("%d cells", len(cells)))
	if len(cells) != len(nv.Nodes) {
		return out
	}
	memnode := map[uint]string{}
	pins := map[uint]string{}
	if d.NUMATune != nil {
		for _, m := range d.NUMATune.MemNodes {
			memnode[m.CellID] = m.Nodeset
		}
	}
	if d.CPUTune != nil {
		for _, p := range d.CPUTune.VCPUPin {
			pins[p.VCPU] = p.CPUSet
		}
	}
	for i, node := range nv.Nodes {
		c := cells[i]
		p := fmt.Sprintf("nodes[%d]/", i)
		domCPUs, err := cpuset.Parse(c.CPUs)
		shown := c.CPUs
		if err == nil {
			shown = domCPUs.String()
		}
		add(p+"vcpu_set", cpuset.New(node.VCPUSet...).String(), shown)
		if kib, err := cellKiB(c); err == nil {
			add(p+"memory_mb", fmt.Sprint(node.MemoryMB), fmt.Sprint(kib/1024))
		}
		if node.HostNode != nil {
			add(p+"host_node", fmt.Sprint(*node.HostNode), memnode[uint(i)])
		}
		for _, v := range slices.Sorted(maps.Keys(node.CPUPinning)) {
			add(fmt.Sprintf("%scpu_pinning[%d]", p, v), fmt.Sprint(node.CPUPinning[v]), pins[uint(v)])
		}
	}
	return out
}

// cellKiB is a guest cell's memory in KiB (libvirt writes KiB unless a
// unit says otherwise).
func cellKiB(c libvirtxml.DomainCell) (uint64, error) {
	switch strings.ToLower(c.Unit) {
	case "", "k", "kib":
		return uint64(c.Memory), nil
	case "m", "mib":
		return uint64(c.Memory) * 1024, nil
	case "g", "gib":
		return uint64(c.Memory) * 1024 * 1024, nil
	}
	return 0, fmt.Errorf("unit %q", c.Unit)
}
