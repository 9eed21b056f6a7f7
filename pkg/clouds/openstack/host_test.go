package openstack

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/placement/v1/resourceproviders"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// testComputeHost is the local cloud's single compute host.
const testComputeHost = "numa-compute-1"

// TestFlavorExtraSpecsMicroversion shows why FlavorSpec.Microversion
// exists: hw:numa_mempolicy (not a Nova extra spec) is stored at 2.85 and
// rejected with 400 from 2.86 on.
func TestFlavorExtraSpecsMicroversion(t *testing.T) {
	c := connectOrSkip(t)
	if !c.Supports(MicroversionExtraSpecValidation) {
		t.Skipf("needs %s, cloud max is %s", MicroversionExtraSpecValidation, c.Microversion())
	}
	ctx := context.Background()
	r := testRun(t, c)
	specs := map[string]string{"hw:numa_mempolicy": "preferred"}

	f, err := r.CreateFlavor(ctx, FlavorSpec{Name: "mempolicy-285", VCPUs: 1, RAMMB: 256, DiskGB: 1, ExtraSpecs: specs, Microversion: "2.85"})
	if err != nil {
		t.Fatalf("at 2.85: expected hw:numa_mempolicy to be accepted, observed %v", err)
	}
	got, err := flavors.ListExtraSpecs(ctx, c.computeMax(), f.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if got["hw:numa_mempolicy"] != "preferred" || f.ExtraSpecs["hw:numa_mempolicy"] != "preferred" {
		t.Errorf("at 2.85: expected hw:numa_mempolicy=preferred stored, observed %v (returned %v)", got, f.ExtraSpecs)
	}

	for _, mv := range []string{MicroversionExtraSpecValidation, c.Microversion(), ""} {
		_, err := r.CreateFlavor(ctx, FlavorSpec{Name: "mempolicy-max", VCPUs: 1, RAMMB: 256, DiskGB: 1, ExtraSpecs: specs, Microversion: mv})
		var se *ExtraSpecsError
		if !errors.As(err, &se) || !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
			t.Fatalf("at %q: expected *ExtraSpecsError wrapping a 400, observed %T %v", mv, err, err)
		}
		want := mv
		if want == "" {
			want = c.Microversion()
		}
		if se.Microversion != want || !se.FlavorDeleted {
			t.Errorf("at %q: expected Microversion %s and the flavor deleted, observed %q deleted=%v", mv, want, se.Microversion, se.FlavorDeleted)
		}
		t.Logf("at %q: %v", mv, err)
	}

	var me *MicroversionError
	_, err = r.CreateFlavor(ctx, FlavorSpec{Name: "too-new", VCPUs: 1, RAMMB: 256, DiskGB: 1, ExtraSpecs: specs, Microversion: "2.9999"})
	if !errors.As(err, &me) || me.Need != "2.9999" || me.Have != c.Microversion() {
		t.Errorf("at 2.9999: expected *MicroversionError (need 2.9999, have %s), observed %T %v", c.Microversion(), err, err)
	}
	for _, bad := range []string{"2.0", "two", "2.85.1"} {
		_, err = r.CreateFlavor(ctx, FlavorSpec{Name: "bad-mv", VCPUs: 1, RAMMB: 256, DiskGB: 1, ExtraSpecs: specs, Microversion: bad})
		if err == nil || errors.As(err, &me) {
			t.Errorf("at %q: expected a plain error, observed %T %v", bad, err, err)
		}
		t.Logf("at %q: %v", bad, err)
	}
	// None of the refused calls may have created a flavor.
	l, err := c.FindLeftovers(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Flavors) != 1 || l.Flavors[0].ID != f.ID {
		t.Errorf("expected only flavor %s of run %s, observed %s", f.ID, r.ID, l)
	}
}

// TestHostServers boots a one-node NUMA guest and a guest without NUMA
// topology, and checks that HostServers reports both on their host, with
// a topology only for the first, that converts for the fitter.
func TestHostServers(t *testing.T) {
	c := connectOrSkip(t)
	if !c.Supports(MicroversionTopology) {
		t.Skipf("topology needs %s, cloud max %s", MicroversionTopology, c.Microversion())
	}
	ctx := context.Background()
	imageID, err := c.FindImage(ctx, testImageName)
	if err != nil {
		t.Fatal(err)
	}
	r := testRun(t, c)
	numa, err := r.CreateFlavor(ctx, FlavorSpec{Name: "numa1", VCPUs: 1, RAMMB: 512, DiskGB: 1, ExtraSpecs: map[string]string{"hw:numa_nodes": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.CreateFlavor(ctx, FlavorSpec{Name: "plain", VCPUs: 1, RAMMB: 256, DiskGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	sNUMA, err := r.CreateServer(ctx, ServerSpec{Name: "numa1", FlavorID: numa.ID, ImageID: imageID})
	if err != nil {
		t.Fatal(err)
	}
	sPlain, err := r.CreateServer(ctx, ServerSpec{Name: "plain", FlavorID: plain.ID, ImageID: imageID})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for _, id := range []string{sNUMA.ID, sPlain.ID} {
		if err := c.WaitActive(ctx, id, 5*time.Minute); err != nil {
			t.Fatalf("after %s: %v", time.Since(start), err)
		}
	}
	t.Logf("both ACTIVE after %s", time.Since(start))
	h, err := c.ServerHost(ctx, sNUMA.ID)
	if err != nil {
		t.Fatal(err)
	}
	if h.Host != testComputeHost {
		t.Logf("note: server on %s, not %s", h.Host, testComputeHost)
	}

	got, err := c.HostServers(ctx, h.Host)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]HostServer{}
	for _, s := range got {
		byID[s.ID] = s
		t.Logf("on %s: %s %s status=%s vm_state=%s task_state=%q project=%s topology=%v", h.Host, s.ID, s.Name, s.Status, s.VMState, s.TaskState, s.ProjectID, s.Topology != nil)
	}
	n, ok := byID[sNUMA.ID]
	if !ok {
		t.Fatalf("HostServers(%s): expected server %s, observed %d servers", h.Host, sNUMA.ID, len(got))
	}
	if n.Name != sNUMA.Name || n.Status != "ACTIVE" || n.VMState != "active" || n.InstanceName != h.InstanceName || n.ProjectID == "" {
		t.Errorf("server %s: expected name %s, ACTIVE/active, instance %s and a project, observed %+v", sNUMA.ID, sNUMA.Name, h.InstanceName, n)
	}
	if n.Topology == nil || len(n.Topology.Nodes) != 1 {
		t.Fatalf("server %s: expected a 1-node topology, observed %+v", sNUMA.ID, n.Topology)
	}
	inst, err := n.Topology.Instance()
	if err != nil {
		t.Fatal(err)
	}
	if len(inst.Cells) != 1 {
		t.Fatalf("expected 1 instance cell, observed %+v", inst)
	}
	cell := inst.Cells[0]
	if cell.ID != *n.Topology.Nodes[0].HostNode || (cell.ID != 0 && cell.ID != 1) || !cell.CPUSet.Equal(cpuset.New(0)) || !cell.PCPUSet.IsEmpty() || cell.MemoryMiB != 512 || cell.PageSizeKB != 0 || cell.CPUPolicy != "" {
		t.Errorf("expected a cell on host node 0 or 1 with floating vCPU 0, 512 MiB, no page size, no policy; observed %+v", cell)
	}
	t.Logf("fitter view: %+v", inst)

	p, ok := byID[sPlain.ID]
	if !ok {
		t.Fatalf("HostServers(%s): expected server %s, observed %d servers", h.Host, sPlain.ID, len(got))
	}
	if p.Topology != nil {
		t.Errorf("server %s (flavor without NUMA specs): expected no topology, observed %+v", sPlain.ID, p.Topology)
	}

	none, err := c.HostServers(ctx, "no-such-host-"+r.ID)
	if err != nil || len(none) != 0 {
		t.Errorf("HostServers(no such host): expected no servers and no error, observed %v (err=%v)", none, err)
	}
}

func TestComputeInventory(t *testing.T) {
	c := connectOrSkip(t)
	ctx := context.Background()
	inv, err := c.ComputeInventory(ctx, testComputeHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host %s: provider %s (%s) generation %d", inv.Host, inv.HypervisorHostname, inv.ProviderUUID, inv.Generation)
	for rc, e := range inv.Resources {
		t.Logf("  %-10s %+v", rc, e)
	}
	if inv.Host != testComputeHost || inv.HypervisorHostname == "" || inv.ProviderUUID == "" {
		t.Errorf("expected host %s with a named provider, observed %+v", testComputeHost, inv)
	}

	// The compute VM has 4 CPUs; without CPU sets all are VCPU, with
	// cpu_dedicated_set (COMPUTE_CPU_MODE split/pernode) some are PCPU.
	vcpu, hasVCPU := inv.Resources["VCPU"]
	pcpu, hasPCPU := inv.Resources["PCPU"]
	if vcpu.Total+pcpu.Total != 4 {
		t.Errorf("expected VCPU+PCPU totals of 4 (the compute VM's CPUs), observed VCPU=%v PCPU=%v", vcpu, pcpu)
	}
	if !hasPCPU && (!hasVCPU || vcpu.Total != 4) {
		t.Errorf("without PCPU inventory (no cpu_dedicated_set): expected VCPU total 4, observed %+v", vcpu)
	}
	for _, rc := range []string{"VCPU", "MEMORY_MB", "DISK_GB"} {
		e, ok := inv.Resources[rc]
		if !ok {
			t.Errorf("%s: expected an inventory, observed none", rc)
			continue
		}
		if e.Total <= e.Reserved || e.MinUnit != 1 || e.StepSize != 1 || e.MaxUnit < 1 || e.MaxUnit > e.Total || e.AllocationRatio <= 0 {
			t.Errorf("%s: expected total > reserved, min_unit 1, step 1, 1 <= max_unit <= total, a positive ratio; observed %+v", rc, e)
		}
	}

	// Cross-checks with independent reads: the provider UUID is the
	// hypervisor's id (the compute node UUID, since 2.53), and gophercloud's
	// own inventory call agrees.
	pages, err := hypervisors.List(c.computeAt(MicroversionServerDefault), nil).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hvs, _ := hypervisors.ExtractHypervisors(pages)
	for _, h := range hvs {
		if h.Service.Host == testComputeHost && h.ID != inv.ProviderUUID {
			t.Errorf("provider UUID %s differs from the compute node UUID %s", inv.ProviderUUID, h.ID)
		}
	}
	gc, err := resourceproviders.GetInventories(ctx, c.placement, inv.ProviderUUID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if len(gc.Inventories) != len(inv.Resources) {
		t.Errorf("expected %d resource classes as gophercloud reads them, observed %d", len(gc.Inventories), len(inv.Resources))
	}
	for rc, g := range gc.Inventories {
		e := inv.Resources[rc]
		if e.Total != g.Total || e.Reserved != g.Reserved || e.MaxUnit != g.MaxUnit || float32(e.AllocationRatio) != g.AllocationRatio {
			t.Errorf("%s: expected %+v as gophercloud reads it, observed %+v", rc, g, e)
		}
	}

	_, err = c.ComputeInventory(ctx, "no-such-host")
	var pe *ProviderNotFoundError
	if !errors.As(err, &pe) || pe.Host != "no-such-host" || pe.HypervisorHostname != "" {
		t.Fatalf("expected *ProviderNotFoundError for host no-such-host, observed %T %v", err, err)
	}
	found := false
	for _, k := range pe.KnownHosts {
		found = found || k == testComputeHost
	}
	if !found {
		t.Errorf("expected the error to list %s among the known hosts, observed %v", testComputeHost, err)
	}
	t.Logf("observed: %v", err)
}

func TestComputeServiceOf(t *testing.T) {
	c := connectOrSkip(t)
	ctx := context.Background()
	svc, err := c.ComputeServiceOf(ctx, testComputeHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(svc)
	// The local cloud's compute host is running (the suites booted on it);
	// its heartbeat is at most service_down_time (60 s) old.
	if !svc.Schedulable() || svc.Host != testComputeHost || svc.UpdatedAt.IsZero() {
		t.Errorf("expected %s enabled and up with a heartbeat, observed %s", testComputeHost, svc)
	}
	if age := time.Since(svc.UpdatedAt); age > 2*time.Minute || age < -time.Minute {
		t.Errorf("expected a recent heartbeat, observed one %v old (%s)", age, svc)
	}

	_, err = c.ComputeServiceOf(ctx, "no-such-compute-host")
	if err == nil || !strings.Contains(err.Error(), "no-such-compute-host") {
		t.Errorf("expected an error naming the unknown host, observed %v", err)
	}
}
