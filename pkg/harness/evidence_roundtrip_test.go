package harness

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/evidence"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/report"
)

// TestEvidenceRoundTrip writes the evidence of a result built from the
// recorded numa_vm_2 (expectation, live domain, Nova's topology) and reads
// it back the way the report does: every field the harness wrote comes
// back equal, and Nova's topology decodes to what the API returned.
func TestEvidenceRoundTrip(t *testing.T) {
	exp, d, nv := loadVM2(t)
	raw, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	diff := domain.Difference{Path: "numatune/memnode[cellid=1]/mode", Expected: "strict", Observed: "preferred"}
	res := &Result{
		Fixture:      fixtures.Fixture{Name: "manual-split", File: "fixtures/flavors/seed.yaml", Line: 20, Labels: []string{"seed"}},
		Want:         fixtures.Expect{Outcome: fixtures.Fits},
		Predicted:    map[string]*expect.Expected{"numa-compute-1": exp},
		Server:       &openstack.Server{ID: "77b1d81a-ad54-48c6-9e1f-95da8af7c101"},
		Host:         "numa-compute-1",
		BootErr:      errors.New("not really: the field must survive"),
		Expected:     exp,
		Candidates:   []Candidate{{Snapshot: "before boot", Others: []string{"numa_vm_1"}, Expected: exp, Differences: []domain.Difference{diff}}},
		Differences:  []domain.Difference{diff},
		NovaTopology: nv,
		DomainXML:    raw,
		Notes:        []string{"a note"},
	}
	dir := t.TempDir()
	if err := WriteEvidence(dir, res); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manual-split", evidence.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var back report.Evidence
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want, err := Summarize(res)
	if err != nil {
		t.Fatal(err)
	}
	// Compared as JSON, the form the two sides exchange.
	if a, b := mustJSON(t, want), mustJSON(t, back.Result); a != b {
		t.Errorf("written and read back differ:\n%s\n%s", a, b)
	}
	if back.Fixture != "manual-split" || back.File != "fixtures/flavors/seed.yaml:20" || back.ServerID != res.Server.ID ||
		back.BootError != res.BootErr.Error() || !reflect.DeepEqual(back.Differences, res.Differences) ||
		len(back.Candidates) != 1 || back.Candidates[0].Snapshot != "before boot" || back.Predicted["numa-compute-1"] == nil {
		t.Errorf("read back: %+v", back.Result)
	}
	var topo openstack.Topology
	if err := json.Unmarshal(back.NovaTopology, &topo); err != nil || !reflect.DeepEqual(&topo, nv) {
		t.Errorf("Nova's topology read back: %+v, %v; want %+v", topo, err, nv)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
