// Package report reads the directory a conformance run writes
// (reports/<time>-<run ID>/: run.json, ginkgo.json, groups.json and
// evidence/<fixture>/) and renders it as one self-contained HTML page: a
// summary of every fixture's verdict and, per fixture, a picture of where
// the guest's NUMA cells landed on the host, the expected domain fragments
// beside the live domain, and the differences between them.
//
// Nothing here touches the network or a cloud: the package only reads
// files, so a report can be rendered anywhere, long after the run.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/evidence"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
)

// Verdicts of a fixture or a spec, as the report shows them.
const (
	Passed  = "passed"
	Failed  = "failed"
	Skipped = "skipped"
)

// Run is a report directory read into memory.
type Run struct {
	// Dir is the directory Load read.
	Dir string
	// Facts is run.json: which cloud, which Nova, which hosts.
	Facts Facts
	// Suites names the Ginkgo suites of ginkgo.json, with their verdicts.
	Suites []Suite
	// Fixtures holds one entry per fixture: failed ones first, then
	// passed, then skipped, each by name.
	Fixtures []*Fixture
	// Setup holds the specs that belong to no fixture (suite set-up and
	// tear-down nodes).
	Setup []Spec
	// Groups is groups.json, the per-label tallies; nil when the run
	// wrote none.
	Groups []Group
	// Passed, Failed and Skipped count the specs by verdict.
	Passed, Failed, Skipped int
}

// Facts is run.json, what the harness recorded about the cloud.
type Facts struct {
	RunID           string `json:"run_id"`
	Cloud           string `json:"cloud"`
	CloudsYAML      string `json:"clouds_yaml"`
	MaxMicroversion string `json:"compute_api_max_microversion"`
	NovaProfile     string `json:"nova_profile"`
	HarnessVersion  string `json:"harness_version"`
	// Hosts maps each compute host to a one-line description, e.g.
	// "libvirt 9.0.0, QEMU 7.2.22, 2 NUMA cells".
	Hosts map[string]string `json:"hosts"`
}

// Suite is one Ginkgo suite report of ginkgo.json.
type Suite struct {
	Description string
	Path        string
	Succeeded   bool
	StartTime   time.Time
	RunTime     time.Duration
}

// Group is one line of groups.json: the specs of one label.
type Group struct {
	Label     string `json:"label"`
	Fixtures  int    `json:"fixtures"`
	Specs     int    `json:"specs"`
	Failed    int    `json:"failed"`
	WallNS    int64  `json:"wall_ns"`
	BusyNS    int64  `json:"busy_ns"`
	IsFixture bool   `json:"is_fixture"`
}

// Wall is the group's wall-clock time.
func (g Group) Wall() time.Duration { return time.Duration(g.WallNS) }

// Spec is one spec of ginkgo.json.
type Spec struct {
	// Fixture is the fixture the spec checks (its first container's
	// text up to the labels), "" for set-up nodes.
	Fixture string
	// Text is the leaf node's text, or its node type when it has none
	// (e.g. "SynchronizedBeforeSuite").
	Text string
	// Labels are the leaf node's own labels.
	Labels []string
	// State is Ginkgo's state: passed, failed, skipped, panicked, ...
	State string
	// Verdict folds State into Passed, Failed or Skipped.
	Verdict string
	RunTime time.Duration
	// Failure is the failure message; empty when the spec did not fail.
	Failure string
	// Entries are the spec's report entries (the live domain XML, the
	// expected topology, notes, differences).
	Entries []Entry
}

// Entry is one Ginkgo report entry.
type Entry struct {
	Name  string
	Value string
}

// Fixture is everything the report knows about one fixture.
type Fixture struct {
	Name string
	// Labels are the fixture's labels (its container's, or the
	// evidence's when it ran no spec).
	Labels []string
	// Verdict is Failed if any spec failed, else Passed if any passed,
	// else Skipped.
	Verdict string
	Specs   []Spec
	// RunTime adds up the specs' run times.
	RunTime time.Duration
	// Evidence is evidence/<fixture>/; nil when the run wrote none.
	Evidence *Evidence
	// Parent is set for a fixture with evidence but no spec of its own
	// (e.g. "capacity-cells-full-fill-1", a server another fixture's
	// specs create and check): the fixture whose name prefixes it.
	Parent string
}

// Host is the compute host the fixture's server landed on, if known.
func (f *Fixture) Host() string {
	if f.Evidence == nil {
		return ""
	}
	return f.Evidence.Host
}

// Differences returns the fixture's recorded differences.
func (f *Fixture) Differences() []Difference {
	if f.Evidence == nil {
		return nil
	}
	return f.Evidence.Differences
}

// Evidence is evidence/<fixture>/: result.json (evidence.Result, as the
// harness wrote it) and the two XML files.
type Evidence struct {
	evidence.Result
	// ExpectedXML is expected.xml, the fragments the fitter expects;
	// empty when there is none.
	ExpectedXML string `json:"-"`
	// DomainXML is domain.xml, the live domain as libvirt returned it;
	// empty when there is none.
	DomainXML string `json:"-"`
}

// Difference is one property where the live domain (or Nova's record)
// differs from the expectation.
type Difference = domain.Difference

// Load reads the report directory dir. run.json and ginkgo.json must be
// there; groups.json and evidence/ are optional. Errors name the file.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := readJSON(filepath.Join(dir, "run.json"), &r.Facts); err != nil {
		return nil, err
	}
	groups := filepath.Join(dir, "groups.json")
	if err := readJSON(groups, &r.Groups); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	fixtures := map[string]*Fixture{}
	fixture := func(name string) *Fixture {
		f := fixtures[name]
		if f == nil {
			f = &Fixture{Name: name}
			fixtures[name] = f
		}
		return f
	}
	ginkgo := filepath.Join(dir, "ginkgo.json")
	var suites []ginkgoSuite
	if err := readJSON(ginkgo, &suites); err != nil {
		return nil, err
	}
	for _, s := range suites {
		r.Suites = append(r.Suites, Suite{Description: s.SuiteDescription, Path: s.SuitePath,
			Succeeded: s.SuiteSucceeded, StartTime: s.StartTime, RunTime: time.Duration(s.RunTime)})
		for _, sr := range s.SpecReports {
			spec := sr.spec()
			switch spec.Verdict {
			case Passed:
				r.Passed++
			case Failed:
				r.Failed++
			default:
				r.Skipped++
			}
			if spec.Fixture == "" {
				r.Setup = append(r.Setup, spec)
				continue
			}
			f := fixture(spec.Fixture)
			if f.Labels == nil && len(sr.ContainerHierarchyLabels) > 0 {
				f.Labels = sr.ContainerHierarchyLabels[0]
			}
			f.Specs = append(f.Specs, spec)
			f.RunTime += spec.RunTime
		}
	}
	evDir := filepath.Join(dir, "evidence")
	ents, err := os.ReadDir(evDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		ev, err := loadEvidence(filepath.Join(evDir, e.Name()))
		if err != nil {
			return nil, err
		}
		f := fixture(e.Name())
		f.Evidence = ev
		if f.Labels == nil {
			f.Labels = ev.Labels
		}
	}
	for _, f := range fixtures {
		f.Verdict = fixtureVerdict(f.Specs)
	}
	for _, f := range fixtures {
		if len(f.Specs) > 0 || f.Evidence == nil {
			continue
		}
		// Evidence without specs: the server belongs to another
		// fixture's specs, whose verdict it shares; recorded
		// differences fail it whatever the parent says.
		for name, p := range fixtures {
			if len(p.Specs) > 0 && strings.HasPrefix(f.Name, name+"-") && len(name) > len(f.Parent) {
				f.Parent, f.Verdict = name, p.Verdict
			}
		}
		if len(f.Evidence.Differences) > 0 {
			f.Verdict = Failed
		}
	}
	for _, f := range fixtures {
		r.Fixtures = append(r.Fixtures, f)
	}
	rank := map[string]int{Failed: 0, Passed: 1, Skipped: 2}
	slices.SortFunc(r.Fixtures, func(a, b *Fixture) int {
		if d := rank[a.Verdict] - rank[b.Verdict]; d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return r, nil
}

func fixtureVerdict(specs []Spec) string {
	v := Skipped
	for _, s := range specs {
		switch s.Verdict {
		case Failed:
			return Failed
		case Passed:
			v = Passed
		}
	}
	return v
}

// verdict folds Ginkgo's spec states into three.
func verdict(state string) string {
	switch state {
	case "passed":
		return Passed
	case "skipped", "pending", "":
		return Skipped
	}
	// failed, panicked, interrupted, aborted, timedout, invalid.
	return Failed
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return nil
}

func loadEvidence(dir string) (*Evidence, error) {
	ev := &Evidence{}
	if err := readJSON(filepath.Join(dir, evidence.FileName), ev); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		name string
		dst  *string
	}{{"expected.xml", &ev.ExpectedXML}, {"domain.xml", &ev.DomainXML}} {
		data, err := os.ReadFile(filepath.Join(dir, x.name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		*x.dst = string(data)
	}
	return ev, nil
}

// ginkgoSuite is the part of Ginkgo v2's types.Report the report uses.
type ginkgoSuite struct {
	SuitePath        string
	SuiteDescription string
	SuiteSucceeded   bool
	StartTime        time.Time
	RunTime          int64
	SpecReports      []ginkgoSpec
}

type ginkgoSpec struct {
	ContainerHierarchyTexts  []string
	ContainerHierarchyLabels [][]string
	LeafNodeType             string
	LeafNodeText             string
	LeafNodeLabels           []string
	State                    string
	RunTime                  int64
	Failure                  struct {
		Message string
	}
	ReportEntries []struct {
		Name  string
		Value struct {
			AsJSON         string
			Representation string
		}
	}
}

func (g ginkgoSpec) spec() Spec {
	s := Spec{Text: g.LeafNodeText, Labels: g.LeafNodeLabels, State: g.State,
		Verdict: verdict(g.State), RunTime: time.Duration(g.RunTime), Failure: g.Failure.Message}
	if s.Text == "" {
		s.Text = g.LeafNodeType
	}
	if len(g.ContainerHierarchyTexts) > 0 {
		s.Fixture = FixtureName(g.ContainerHierarchyTexts[0])
	}
	for _, e := range g.ReportEntries {
		v := e.Value.Representation
		if v == "" && e.Value.AsJSON != "" {
			// AsJSON holds a JSON document; a string is shown unquoted.
			var str string
			if err := json.Unmarshal([]byte(e.Value.AsJSON), &str); err == nil {
				v = str
			} else {
				v = e.Value.AsJSON
			}
		}
		s.Entries = append(s.Entries, Entry{Name: e.Name, Value: v})
	}
	return s
}

// FixtureName is the fixture a container text names: the text up to the
// labels the suite appends ("hugepages-any [numa] [hugepages]" names
// "hugepages-any").
func FixtureName(containerText string) string {
	name, _, _ := strings.Cut(containerText, " [")
	return strings.TrimSpace(name)
}
