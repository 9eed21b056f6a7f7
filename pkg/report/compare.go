package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
)

// Outcome is one fixture's or server's verdict in a report, with the
// properties that differed from the expectation (path -> observed value).
type Outcome struct {
	Verdict    string            `json:"verdict"`
	Properties map[string]string `json:"properties"`
}

// Outcomes are a whole report's, keyed by fixture name (suite runs) or
// server ID (audits).
type Outcomes map[string]Outcome

// Kind is what produced a report: outcomes of different kinds are keyed
// differently (fixture names, server IDs) and cannot be compared.
type Kind string

const (
	// SuiteRun is a suite run's report directory.
	SuiteRun Kind = "a suite run (report directory)"
	// Audit is an audit's JSON report (numa-conformance audit --json).
	Audit Kind = "an audit (audit --json file)"
)

// LoadOutcomes reads either a suite run's report directory or an audit's
// JSON report (numa-conformance audit --json), and says which it was.
func LoadOutcomes(path string) (Outcomes, Kind, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	out := Outcomes{}
	if st.IsDir() {
		r, err := Load(path)
		if err != nil {
			return nil, "", err
		}
		for _, f := range r.Fixtures {
			o := Outcome{Verdict: f.Verdict, Properties: map[string]string{}}
			for _, d := range f.Differences() {
				o.Properties[d.Path] = d.Observed
			}
			out[f.Name] = o
		}
		return out, SuiteRun, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var audit struct {
		Servers []struct {
			ID, Verdict string
			Diffs       []Difference `json:"differences"`
		} `json:"servers"`
	}
	if err := json.Unmarshal(data, &audit); err != nil || audit.Servers == nil {
		return nil, "", fmt.Errorf("%s: want a report directory or an audit report (JSON with \"servers\"): %v", filepath.Base(path), err)
	}
	for _, s := range audit.Servers {
		o := Outcome{Verdict: s.Verdict, Properties: map[string]string{}}
		for _, d := range s.Diffs {
			o.Properties[d.Path] = d.Observed
		}
		out[s.ID] = o
	}
	return out, Audit, nil
}

// Change is one fixture or server whose outcome changed between two
// reports.
type Change struct {
	Key           string `json:"key"`
	Before, After string // verdicts; "" when absent from that report
	// Properties lists the differing properties whose observed value
	// changed: path -> [before, after], "" meaning "as expected".
	Properties map[string][2]string `json:"properties,omitempty"`
	// Regressed: it was fine before and is not now, or it differs in a
	// property it did not differ in before.
	Regressed bool `json:"regressed"`
	// Gone: a server of the earlier audit that the later one does not
	// list (deleted, or on a host the later audit did not cover); that
	// says nothing about the cloud's NUMA placement, so it never regresses.
	Gone bool `json:"gone,omitempty"`
}

// good says a verdict means "as expected".
func good(v string) bool { return v == Passed || v == "conforms" }

// Compare lists what changed from before to after, two reports of one
// kind, sorted by key with regressions first.
func Compare(kind Kind, before, after Outcomes) []Change {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []Change
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		b, inB := before[k]
		a, inA := after[k]
		c := Change{Key: k, Before: b.Verdict, After: a.Verdict, Properties: map[string][2]string{}}
		for p, v := range a.Properties {
			if b.Properties[p] != v {
				c.Properties[p] = [2]string{b.Properties[p], v}
				if _, was := b.Properties[p]; !was {
					c.Regressed = true
				}
			}
		}
		for p, v := range b.Properties {
			if _, still := a.Properties[p]; !still {
				c.Properties[p] = [2]string{v, ""}
			}
		}
		if inB && inA && good(b.Verdict) && !good(a.Verdict) && a.Verdict != Skipped {
			c.Regressed = true
		}
		if c.Before == c.After && len(c.Properties) == 0 {
			continue
		}
		switch {
		case kind == Audit && inB && !inA:
			c.Gone, c.Regressed, c.Properties = true, false, nil
		case !inB || !inA:
			c.Regressed = c.Regressed || (inB && good(b.Verdict))
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Regressed && !out[j].Regressed })
	return out
}
