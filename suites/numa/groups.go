package numa

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// GroupTime is the time one label group of fixtures took in a run.
type GroupTime struct {
	Label    string `json:"label"`
	Fixtures int    `json:"fixtures"`
	Specs    int    `json:"specs"`
	Failed   int    `json:"failed"`
	// Wall is from the first spec's start to the last one's end: with
	// parallel processes, groups overlap and their walls add up to more
	// than the run.
	Wall time.Duration `json:"wall_ns"`
	// IsFixture says the label is a fixture's own name, not a group.
	IsFixture bool `json:"is_fixture"`
	// Busy is the sum of the specs' own run times.
	Busy time.Duration `json:"busy_ns"`
}

// GroupTimes sums a suite report per label (each fixture's labels and
// name are labels of its container), for the per-group times the run
// prints. Specs that did not run are left out.
func GroupTimes(r types.Report) []GroupTime {
	type acc struct {
		GroupTime
		first, last time.Time
		fixtures    map[string]bool
	}
	by := map[string]*acc{}
	for _, sr := range r.SpecReports {
		if sr.LeafNodeType != types.NodeTypeIt || sr.State == types.SpecStateSkipped || sr.State == types.SpecStatePending || len(sr.ContainerHierarchyTexts) == 0 {
			continue
		}
		labels := []string{}
		for _, ls := range sr.ContainerHierarchyLabels {
			labels = append(labels, ls...)
		}
		fixture := sr.ContainerHierarchyTexts[0]
		for i, l := range labels {
			a := by[l]
			if a == nil {
				// FixtureSpec puts the fixture's name first.
				a = &acc{GroupTime: GroupTime{Label: l, IsFixture: i == 0}, fixtures: map[string]bool{}}
				by[l] = a
			}
			a.fixtures[fixture] = true
			a.Specs++
			if sr.State.Is(types.SpecStateFailureStates) {
				a.Failed++
			}
			a.Busy += sr.RunTime
			if a.first.IsZero() || sr.StartTime.Before(a.first) {
				a.first = sr.StartTime
			}
			if sr.EndTime.After(a.last) {
				a.last = sr.EndTime
			}
		}
	}
	var out []GroupTime
	for _, a := range by {
		a.Fixtures = len(a.fixtures)
		a.Wall = a.last.Sub(a.first)
		out = append(out, a.GroupTime)
	}
	slices.SortFunc(out, func(a, b GroupTime) int { return strings.Compare(a.Label, b.Label) })
	return out
}

// RenderGroupTimes is the table the run prints, one row per group label
// (fixture names left out).
func RenderGroupTimes(groups []GroupTime) string {
	var b strings.Builder
	b.WriteString("time per group (label: fixtures, specs, failed, wall, busy):\n")
	for _, g := range groups {
		if g.IsFixture {
			continue
		}
		fmt.Fprintf(&b, "  %-18s %3d %4d %3d %9s %9s\n", g.Label, g.Fixtures, g.Specs, g.Failed,
			g.Wall.Round(100*time.Millisecond), g.Busy.Round(100*time.Millisecond))
	}
	return b.String()
}
