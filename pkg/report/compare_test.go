package report

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCompare(t *testing.T) {
	before := Outcomes{
		"a": {Verdict: Passed, Properties: map[string]string{}},
		"b": {Verdict: Failed, Properties: map[string]string{"numatune/memory/nodeset": "0"}},
		"c": {Verdict: Passed, Properties: map[string]string{}},
		"s": {Verdict: "conforms", Properties: map[string]string{}},
	}
	after := Outcomes{
		"a": {Verdict: Failed, Properties: map[string]string{"cputune/vcpupin[vcpu=0]/cpuset": "3"}},
		"b": {Verdict: Passed, Properties: map[string]string{}},
		"c": {Verdict: Passed, Properties: map[string]string{}},
		"s": {Verdict: "cannot-tell", Properties: map[string]string{}},
	}
	changes := Compare(SuiteRun, before, after)
	got := map[string]Change{}
	for _, c := range changes {
		got[c.Key] = c
	}
	if _, ok := got["c"]; ok || len(changes) != 3 {
		t.Fatalf("changes: %+v", changes)
	}
	if a := got["a"]; !a.Regressed || a.Properties["cputune/vcpupin[vcpu=0]/cpuset"] != [2]string{"", "3"} {
		t.Errorf("a: %+v", a)
	}
	if b := got["b"]; b.Regressed || b.Properties["numatune/memory/nodeset"] != [2]string{"0", ""} {
		t.Errorf("b (fixed): %+v", b)
	}
	if s := got["s"]; !s.Regressed {
		t.Errorf("s (conforms -> cannot-tell): %+v", s)
	}
	if !changes[0].Regressed || changes[len(changes)-1].Regressed {
		t.Errorf("regressions first: %+v", changes)
	}
}

// TestCompareAuditsGone checks that a server the later audit no longer
// lists is gone, not a regression, whatever its verdict was; a server new
// in the later audit that differs is a regression (a difference that was
// not there before).
func TestCompareAuditsGone(t *testing.T) {
	before := Outcomes{
		"deleted-fine":    {Verdict: "conforms", Properties: map[string]string{}},
		"deleted-differs": {Verdict: "differs", Properties: map[string]string{"numatune/memory/nodeset": "0"}},
		"kept":            {Verdict: "conforms", Properties: map[string]string{}},
	}
	after := Outcomes{
		"kept": {Verdict: "conforms", Properties: map[string]string{}},
		"new":  {Verdict: "differs", Properties: map[string]string{"numatune/memory/nodeset": "1"}},
	}
	got := map[string]Change{}
	for _, c := range Compare(Audit, before, after) {
		got[c.Key] = c
	}
	for _, k := range []string{"deleted-fine", "deleted-differs"} {
		if c := got[k]; !c.Gone || c.Regressed || len(c.Properties) != 0 {
			t.Errorf("%s: expected gone, not regressed, no properties; observed %+v", k, c)
		}
	}
	if _, ok := got["kept"]; ok || len(got) != 3 {
		t.Errorf("changes: %+v", got)
	}
	if c := got["new"]; c.Gone || !c.Regressed {
		t.Errorf("new server that differs: expected a regression (a property differs that did not before), observed %+v", c)
	}
	// The same absence in suite runs is a regression: a fixture that
	// passed and no longer runs.
	for _, c := range Compare(SuiteRun, Outcomes{"f": {Verdict: Passed}}, Outcomes{}) {
		if c.Gone || !c.Regressed {
			t.Errorf("suite runs, fixture absent from the later run: %+v", c)
		}
	}
}

func TestLoadOutcomes(t *testing.T) {
	run, kind, err := LoadOutcomes("testdata/run")
	if err != nil || kind != SuiteRun {
		t.Fatalf("testdata/run: kind %q, error %v; want %q", kind, err, SuiteRun)
	}
	if o, ok := run["hugepages-any"]; !ok || o.Verdict != Failed || len(o.Properties) == 0 {
		t.Fatalf("hugepages-any in the test run: %+v", o)
	}
	audit := filepath.Join(t.TempDir(), "audit.json")
	if err := os.WriteFile(audit, []byte(`{"servers":[{"id":"x","verdict":"differs","differences":[{"Path":"p","Expected":"1","Observed":"2"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, kind, err := LoadOutcomes(audit)
	if err != nil || kind != Audit || a["x"].Verdict != "differs" || a["x"].Properties["p"] != "2" {
		t.Fatalf("audit: %+v, kind %q, error %v", a, kind, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`{}`), 0o644)
	if _, _, err := LoadOutcomes(bad); err == nil {
		t.Fatal("a JSON file that is no audit report was accepted")
	}
}
