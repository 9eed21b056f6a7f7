package runs

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/suites/numa"
)

// dryRun lists the specs the suite would run with the given ginkgo flags:
// the real ginkgo CLI in dry-run mode writes its JSON report, which names
// each selected spec and its labels.
func dryRun(t *testing.T, flags ...string) map[string][]string {
	t.Helper()
	report := filepath.Join(t.TempDir(), "dry.json")
	args := append([]string{"tool", "ginkgo", "--dry-run", "--no-color", "--json-report", report}, flags...)
	cmd := exec.Command("go", append(args, "../numa")...)
	cmd.Env = append(os.Environ(), "NUMA_HARNESS_CONFIG=/nonexistent/dry-run-needs-none.yaml")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ginkgo %v: %v\n%s", flags, err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var suites []struct {
		SpecReports []struct {
			LeafNodeType             string
			LeafNodeText             string
			ContainerHierarchyTexts  []string
			ContainerHierarchyLabels [][]string
			State                    string
		}
	}
	if err := json.Unmarshal(data, &suites); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{} // container text -> labels, for specs that would run
	for _, s := range suites {
		for _, r := range s.SpecReports {
			if r.LeafNodeType != "It" || r.State != "passed" || len(r.ContainerHierarchyTexts) == 0 {
				continue
			}
			out[r.ContainerHierarchyTexts[0]] = r.ContainerHierarchyLabels[0]
		}
	}
	return out
}

// TestFocusSelectsExactlyTheLabelledFixtures: `ginkgo -focus manual-split`
// runs exactly the fixtures labelled manual-split, the same set as
// --label-filter, and every one of their specs.
func TestFocusSelectsExactlyTheLabelledFixtures(t *testing.T) {
	fxs, err := fixtures.LoadDir("../../fixtures/flavors")
	if err != nil {
		t.Fatal(err)
	}
	for _, label := range []string{"manual-split", "auto-split", "negative"} {
		var want []string
		for _, fx := range fxs {
			if slices.Contains(fx.AllLabels(), label) {
				want = append(want, fx.Name)
			}
		}
		sort.Strings(want)
		for _, flags := range [][]string{{"--focus", label}, {"--label-filter", label}} {
			var got []string
			for _, labels := range dryRun(t, flags...) {
				got = append(got, labels[0])
			}
			sort.Strings(got)
			if !slices.Equal(got, want) {
				t.Errorf("ginkgo %v selects fixtures %v, want exactly those labelled %s: %v", flags, got, label, want)
			}
		}
	}
}

// TestFixtureLabelSelectsOneFixture: --label-filter fixture=NAME runs that
// fixture alone, also where NAME is a group label as well (manual-split).
func TestFixtureLabelSelectsOneFixture(t *testing.T) {
	for _, name := range []string{"manual-split", "auto-split", "hugepages-any"} {
		for _, flags := range [][]string{{"--label-filter", numa.FixtureLabel(name)}, {"--focus", `\[` + numa.FixtureLabel(name) + `\]`}} {
			got := dryRun(t, flags...)
			if len(got) != 1 || firstLabel(got) != name {
				t.Errorf("ginkgo %v selects %v; want fixture %s alone", flags, keys(got), name)
			}
		}
	}
}

func firstKey(m map[string][]string) string {
	for k := range m {
		return k
	}
	return ""
}

func firstLabel(m map[string][]string) string {
	if l := m[firstKey(m)]; len(l) > 0 {
		return l[0]
	}
	return ""
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
