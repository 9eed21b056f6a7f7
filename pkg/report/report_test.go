package report

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testdata/run is a real run's report directory (run d889670d, trimmed to
// a few fixtures, with pinned-dedicated's evidence and specs from run
// de9f410e added and a note hand-added to hugepages-any's result.json to
// check escaping). hugepages-any failed with five real differences.
const testRun = "testdata/run"

func loadTestRun(t *testing.T) *Run {
	t.Helper()
	r, err := Load(testRun)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fixtureNamed(t *testing.T, r *Run, name string) *Fixture {
	t.Helper()
	for _, f := range r.Fixtures {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return nil
}

func TestLoad(t *testing.T) {
	r := loadTestRun(t)
	if r.Facts.RunID != "d889670d" || r.Facts.Cloud != "local" || r.Facts.Hosts["numa-compute-1"] == "" {
		t.Errorf("facts: %+v", r.Facts)
	}
	var names []string
	for _, f := range r.Fixtures {
		names = append(names, f.Name+"="+f.Verdict)
	}
	// Failed first, then passed, then skipped, each by name.
	want := []string{"hugepages-any=failed", "hugepages-2048=passed", "hugepages-exhausted=passed",
		"pinned-dedicated=passed", "image-metadata-auto-split=skipped"}
	if !slices.Equal(names, want) {
		t.Errorf("fixtures:\n got %v\nwant %v", names, want)
	}
	if r.Passed+r.Failed+r.Skipped != 39 || r.Failed != 3 || len(r.Setup) == 0 {
		t.Errorf("counts: %d passed, %d failed, %d skipped, %d set-up nodes", r.Passed, r.Failed, r.Skipped, len(r.Setup))
	}
	if len(r.Groups) != 11 || r.Groups[0].Label != "hugepages" {
		t.Errorf("groups: %+v", r.Groups)
	}

	ha := fixtureNamed(t, r, "hugepages-any")
	ev := ha.Evidence
	if ev == nil || ev.Host != "numa-compute-1" || len(ev.Differences) != 5 || ev.DomainXML == "" || ev.ExpectedXML == "" {
		t.Fatalf("hugepages-any evidence: %+v", ev)
	}
	if d := ev.Differences[0]; d.Path != "cputune/emulatorpin/cpuset" || d.Expected != "2-3" || d.Observed != "0-1" {
		t.Errorf("first difference: %+v", d)
	}
	if ev.Expected == nil || ev.Expected.Placed == nil || ev.Expected.Placed.Cells[0].ID != 1 {
		t.Errorf("expected placement: %+v", ev.Expected)
	}
	if !slices.Contains(ha.Labels, "hugepages") || ha.RunTime == 0 {
		t.Errorf("labels %v, run time %v", ha.Labels, ha.RunTime)
	}
	var failures int
	for _, s := range ha.Specs {
		if s.Verdict == Failed {
			failures++
			if !strings.Contains(s.Failure, "expected no differences") {
				t.Errorf("failure message of %q: %q", s.Text, s.Failure)
			}
		}
	}
	if failures != 3 {
		t.Errorf("hugepages-any: %d failed specs, want 3", failures)
	}
	ex := fixtureNamed(t, r, "hugepages-exhausted")
	if ex.Evidence == nil || ex.Evidence.Outcome != "no-valid-host" || ex.Evidence.BootError == "" || ex.Evidence.DomainXML != "" {
		t.Errorf("hugepages-exhausted evidence: %+v", ex.Evidence)
	}
	if sk := fixtureNamed(t, r, "image-metadata-auto-split"); sk.Evidence != nil || len(sk.Specs) == 0 {
		t.Errorf("skipped fixture: %+v", sk)
	}
}

func TestLoadEvidenceOnlyFixtureSharesParentVerdict(t *testing.T) {
	dir := copyRun(t)
	if err := os.CopyFS(filepath.Join(dir, "evidence", "pinned-dedicated-fill-1"), os.DirFS(filepath.Join(testRun, "evidence", "pinned-dedicated"))); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := fixtureNamed(t, r, "pinned-dedicated-fill-1")
	if f.Parent != "pinned-dedicated" || f.Verdict != Passed || len(f.Specs) != 0 {
		t.Errorf("parent %q, verdict %q, %d specs", f.Parent, f.Verdict, len(f.Specs))
	}
}

// copyRun copies testdata/run to a temporary directory.
func copyRun(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dir, os.DirFS(testRun)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(dir string) string // returns the file the error must name
	}{
		{"missing run.json", func(dir string) string {
			p := filepath.Join(dir, "run.json")
			os.Remove(p)
			return p
		}},
		{"missing ginkgo.json", func(dir string) string {
			p := filepath.Join(dir, "ginkgo.json")
			os.Remove(p)
			return p
		}},
		{"bad ginkgo.json", func(dir string) string {
			p := filepath.Join(dir, "ginkgo.json")
			os.WriteFile(p, []byte(`{"not": "a list"}`), 0o644)
			return p
		}},
		{"bad groups.json", func(dir string) string {
			p := filepath.Join(dir, "groups.json")
			os.WriteFile(p, []byte(`[{"label": 7}]`), 0o644)
			return p
		}},
		{"bad result.json", func(dir string) string {
			p := filepath.Join(dir, "evidence", "hugepages-any", "result.json")
			os.WriteFile(p, []byte(`{"differences": "none"`), 0o644)
			return p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRun(t)
			file := tc.mutate(dir)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), file) {
				t.Errorf("error %v should name %s", err, file)
			}
		})
	}
	// groups.json and evidence/ are optional.
	dir := copyRun(t)
	os.Remove(filepath.Join(dir, "groups.json"))
	os.RemoveAll(filepath.Join(dir, "evidence"))
	if r, err := Load(dir); err != nil || r.Groups != nil {
		t.Errorf("without groups.json and evidence/: %v", err)
	}
}

func render(t *testing.T, r *Run) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestWriteHTML(t *testing.T) {
	html := render(t, loadTestRun(t))
	for _, want := range []string{
		`<table id="summary"`,
		// Every fixture has a summary row; hugepages-any's is marked.
		`<tr class="fixture fixture-failed differs" data-fixture="hugepages-any">`,
		`<tr class="fixture fixture-passed" data-fixture="pinned-dedicated">`,
		`<tr class="fixture fixture-skipped" data-fixture="image-metadata-auto-split">`,
		`<a href="#fixture-hugepages-any">hugepages-any</a>`,
		`<section class="fixture" id="fixture-hugepages-any">`,
		// The pictures: host nodes, the guest cell in each, marked where
		// the two sides disagree, and the pinning.
		`<svg xmlns="http://www.w3.org/2000/svg" class="numa"`,
		`aria-label="expected (reference fitter)"`,
		`aria-label="observed (live domain)"`,
		`>host NUMA node 1</text>`,
		`class="guest differs"`,
		`>vCPU 0-1 → CPU 2-3</text>`,
		`>vCPU 0-1 → CPU 0-1</text>`,
		`>128 MiB, 2048 KiB pages</text>`,
		// Pinned: the fitter's pinning, one host CPU per vCPU.
		`>vCPU 0 → CPU 2</text>`,
		// The differences, every row marked.
		`<tr class="differs"><td class="path">cputune/vcpupin[vcpu=0]/cpuset</td><td><code>2-3</code></td><td><code>0-1</code></td></tr>`,
		`<tr class="differs"><td class="path">numatune/memory/nodeset</td><td><code>1</code></td><td><code>0</code></td></tr>`,
		// XML is escaped, expected beside observed, raw XML folded.
		`&lt;vcpupin vcpu=&#34;0&#34; cpuset=&#34;2-3&#34;/&gt;`,
		`&lt;vcpupin vcpu=&#39;0&#39; cpuset=&#39;0-1&#39;/&gt;`,
		`<details class="raw"><summary>raw domain.xml</summary><pre class="xml">&lt;domain type=&#39;qemu&#39;`,
		// Text from the evidence is escaped too.
		`&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; must be escaped`,
		"no-valid-host: no arrangement of the host&#39;s 2 NUMA cells fits the guest&#39;s 1",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML lacks %s", want)
		}
	}
	if n := strings.Count(html, `<tr class="differs">`); n != 5 {
		t.Errorf("%d difference rows, want 5", n)
	}
	// Self-contained: no script, no external asset.
	for _, bad := range []string{"<script", "src=", "http-equiv", "@import", "url(", `href="http`, "<link"} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML contains %s", bad)
		}
	}
}

func TestPlacementFromXML(t *testing.T) {
	r := loadTestRun(t)
	ev := fixtureNamed(t, r, "hugepages-any").Evidence
	exp, err := PlacementFromXML(ev.ExpectedXML)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := PlacementFromXML(ev.DomainXML)
	if err != nil {
		t.Fatal(err)
	}
	want := GuestCell{ID: 0, Nodes: "1", VCPUs: "0-1", MemoryMiB: 128, PageSize: "2048 KiB", Pins: []string{"vCPU 0-1 → CPU 2-3"}}
	if len(exp.Cells) != 1 || !exp.Cells[0].same(want) || exp.Emulator != "2-3" {
		t.Errorf("expected: %+v", exp)
	}
	want.Nodes, want.Pins = "0", []string{"vCPU 0-1 → CPU 0-1"}
	if len(obs.Cells) != 1 || !obs.Cells[0].same(want) || obs.Emulator != "0-1" {
		t.Errorf("observed: %+v", obs)
	}
	markDifferences(exp, obs)
	if !exp.Cells[0].Differs || !obs.Cells[0].Differs {
		t.Error("the cells should be marked as differing")
	}

	// The fitter's placed topology and the fragments agree for a pinned guest.
	pd := fixtureNamed(t, r, "pinned-dedicated").Evidence
	fromXML, err := PlacementFromXML(pd.ExpectedXML)
	if err != nil {
		t.Fatal(err)
	}
	fromTopo := PlacementFromTopology(pd.Expected.Placed)
	if len(fromXML.Cells) != 1 || !fromXML.Cells[0].same(fromTopo.Cells[0]) ||
		!slices.Equal(fromTopo.Cells[0].Pins, []string{"vCPU 0 → CPU 2", "vCPU 1 → CPU 3"}) {
		t.Errorf("from XML %+v, from topology %+v", fromXML.Cells, fromTopo.Cells)
	}
	markDifferences(fromXML, fromTopo)
	if fromXML.Cells[0].Differs {
		t.Error("identical cells marked as differing")
	}

	if _, err := PlacementFromXML("<cpu><numa><cell id='0' cpus='x' memory='1'/></numa></cpu>"); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("bad cpus: %v", err)
	}
	if p, err := PlacementFromXML("<cpu><topology sockets='1' cores='1' threads='1'/></cpu>"); err != nil || len(p.Cells) != 0 || p.Note == "" {
		t.Errorf("no NUMA: %+v, %v", p, err)
	}
}

func TestNumaElements(t *testing.T) {
	doc := "<domain type='kvm'>\n  <name>x</name>\n  <vcpu placement='static'>2</vcpu>\n  <cputune>\n    <vcpupin vcpu='0' cpuset='1'/>\n  </cputune>\n  <devices>\n    <cpu/>\n  </devices>\n</domain>\n"
	got := numaElements(doc)
	want := "<vcpu placement='static'>2</vcpu>\n<cputune>\n  <vcpupin vcpu='0' cpuset='1'/>\n</cputune>"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestHostNodes(t *testing.T) {
	if n := hostNodeCount("libvirt 9.0.0, QEMU 7.2.22, 2 NUMA cells"); n != 2 {
		t.Errorf("host node count %d", n)
	}
	p := &Placement{Cells: []GuestCell{{Nodes: "3"}, {Nodes: ""}}}
	if got := hostNodes(2, p); !slices.Equal(got, []int{0, 1, 3, unbound}) {
		t.Errorf("host nodes %v", got)
	}
}
