package numa

import (
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

func TestGroupTimes(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	spec := func(fixture string, labels []string, start, end int, state types.SpecState) types.SpecReport {
		return types.SpecReport{LeafNodeType: types.NodeTypeIt, State: state,
			ContainerHierarchyTexts:  []string{fixture},
			ContainerHierarchyLabels: [][]string{append([]string{fixture}, labels...)},
			StartTime:                t0.Add(time.Duration(start) * time.Second), EndTime: t0.Add(time.Duration(end) * time.Second),
			RunTime: time.Duration(end-start) * time.Second}
	}
	r := types.Report{SpecReports: types.SpecReports{
		spec("a", []string{"seed"}, 0, 10, types.SpecStatePassed),
		spec("a", []string{"seed"}, 10, 11, types.SpecStateFailed),
		spec("b", []string{"seed"}, 5, 30, types.SpecStatePassed),
		spec("c", []string{"negative"}, 0, 1, types.SpecStateSkipped),
	}}
	got := map[string]GroupTime{}
	for _, g := range GroupTimes(r) {
		got[g.Label] = g
	}
	seed := got["seed"]
	if seed.Fixtures != 2 || seed.Specs != 3 || seed.Failed != 1 || seed.Wall != 30*time.Second || seed.Busy != 36*time.Second {
		t.Errorf("seed = %+v, want 2 fixtures, 3 specs, 1 failed, wall 30s, busy 36s", seed)
	}
	if _, ok := got["negative"]; ok {
		t.Error("a group with only skipped specs has no time")
	}
	if !got["a"].IsFixture || got["seed"].IsFixture {
		t.Errorf("fixture names vs groups: %+v", got)
	}
	table := RenderGroupTimes(GroupTimes(r))
	if !strings.Contains(table, "seed") || strings.Contains(table, "  a ") {
		t.Errorf("table:\n%s", table)
	}
}
