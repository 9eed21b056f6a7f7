package harness

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// testEnv is an Env with the recorded two-node host and no cloud: enough
// for the pure parts (Expect, claimCandidates).
func testEnv(t *testing.T) *Env {
	t.Helper()
	caps := readCaps(t)
	online := cpuset.MustParse("0-3")
	host, err := domain.HostFromCapabilities(caps, domain.Config{}, online)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Config: &Config{}, Hosts: map[string]*Host{"h": {Name: "h",
		Info:      &hosts.HostInfo{Topology: host, OnlineCPUs: online},
		Limits:    &topology.Limits{CPUAllocationRatio: 16, RAMAllocationRatio: 1.5},
		Inventory: &openstack.Inventory{Resources: map[string]openstack.InventoryEntry{"VCPU": {Total: 4}}}}}}
}

// A single-cell guest goes to the emptier cell; when another server's
// claim may or may not have preceded it (it came and went during the
// boot, known only from the journal), both placements are candidates.
func TestClaimCandidates(t *testing.T) {
	env := testEnv(t)
	one := topology.Flavor{VCPUs: 2, MemoryMB: 1024, ExtraSpecs: map[string]string{"hw:numa_nodes": "1"}}
	other := Guest{ID: "other", Name: "other", Host: "h", Topology: topology.InstanceTopology{Cells: []topology.InstanceCell{
		{ID: 1, CPUSet: cpuset.MustParse("0-1"), MemoryMiB: 2048}}}}
	t0 := time.Now()
	before := &Snapshot{Taken: t0, Guests: map[string]Guest{}}
	after := &Snapshot{Taken: t0.Add(time.Minute), Guests: map[string]Guest{}}

	cands, notes, err := env.claimCandidates("h", one, nil, "self", before, after, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || len(notes) != 0 {
		t.Fatalf("a quiet host has one candidate: %+v %v", cands, notes)
	}
	quiet := cands[0].Expected.Placed.Cells[0].ID

	j := OpenJournal(filepath.Join(t.TempDir(), "claims.jsonl"))
	if err := j.Record(JournalEntry{Guest: other, Created: t0.Add(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	entries, err := j.Entries()
	if err != nil || len(entries) != 1 {
		t.Fatalf("journal: %v %v", entries, err)
	}
	cands, notes, err = env.claimCandidates("h", one, nil, "self", before, after, entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 2 || len(notes) != 1 {
		t.Fatalf("a server that came and went gives two candidates and a note: %+v %v", cands, notes)
	}
	if cands[0].Expected.Placed.Cells[0].ID != quiet || cands[1].Expected.Placed.Cells[0].ID == quiet {
		t.Fatalf("candidates place the guest on %d then %d; want the quiet placement %d first, then the other cell",
			cands[0].Expected.Placed.Cells[0].ID, cands[1].Expected.Placed.Cells[0].ID, quiet)
	}

	// A server present before and after was counted for certain.
	before.Guests["other"], after.Guests["other"] = other, other
	cands, _, err = env.claimCandidates("h", one, nil, "self", before, after, entries)
	if err != nil || len(cands) != 1 || cands[0].Expected.Placed.Cells[0].ID != 0 {
		t.Fatalf("with the other server on cell 1 throughout: %+v %v", cands, err)
	}
}

// Pinned fixtures need PCPU inventory, isolate a host without thread
// siblings; the reason names what is missing.
func TestMissingCapability(t *testing.T) {
	env := testEnv(t)
	fx := func(specs map[string]string) fixtures.Fixture {
		return fixtures.Fixture{Name: "f", Flavor: fixtures.Flavor{VCPUs: 1, RAMMB: 256, ExtraSpecs: specs}}
	}
	if r := env.MissingCapability(fx(map[string]string{"hw:numa_nodes": "2"})); r != "" {
		t.Errorf("a shared guest: %q", r)
	}
	r := env.MissingCapability(fx(map[string]string{"hw:cpu_policy": "dedicated"}))
	if !strings.Contains(r, "PCPU inventory") || !strings.Contains(r, "h: PCPU 0") {
		t.Errorf("dedicated on a host without PCPU: %q", r)
	}
	env.Hosts["h"].Inventory.Resources["PCPU"] = openstack.InventoryEntry{Total: 2}
	if r := env.MissingCapability(fx(map[string]string{"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require"})); r != "" {
		t.Errorf("require on an SMT host with PCPU: %q", r)
	}
	r = env.MissingCapability(fx(map[string]string{"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate"}))
	if !strings.Contains(r, "no thread siblings") {
		t.Errorf("isolate on an SMT host: %q", r)
	}
}
