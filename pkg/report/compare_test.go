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
	changes := Compare(before, after)
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

func TestLoadOutcomes(t *testing.T) {
	run, err := LoadOutcomes("testdata/run")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := run["hugepages-any"]; !ok || o.Verdict != Failed || len(o.Properties) == 0 {
		t.Fatalf("hugepages-any in the test run: %+v", o)
	}
	audit := filepath.Join(t.TempDir(), "audit.json")
	if err := os.WriteFile(audit, []byte(`{"servers":[{"id":"x","verdict":"differs","differences":[{"Path":"p","Expected":"1","Observed":"2"}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := LoadOutcomes(audit)
	if err != nil || a["x"].Verdict != "differs" || a["x"].Properties["p"] != "2" {
		t.Fatalf("audit: %+v %v", a, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`{}`), 0o644)
	if _, err := LoadOutcomes(bad); err == nil {
		t.Fatal("a JSON file that is no audit report was accepted")
	}
}
