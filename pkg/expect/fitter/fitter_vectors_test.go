package fitter

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// fitHostInput is the input of a fit_host vector.
type fitHostInput struct {
	Host   topology.HostTopology     `json:"host_topology"`
	Inst   topology.InstanceTopology `json:"instance_topology"`
	Limits *topology.Limits          `json:"limits"`
	Conf   struct {
		Pack bool `json:"packing_host_numa_cells_allocation_strategy"`
	} `json:"conf"`
}

// fitCellInput is the input of a fit_cell vector.
type fitCellInput struct {
	Host     topology.HostCell     `json:"host_cell"`
	Cell     topology.InstanceCell `json:"instance_cell"`
	Limits   *topology.Limits      `json:"limits"`
	Reserved int                   `json:"cpuset_reserved"`
}

// usageInput is the input of a usage vector.
type usageInput struct {
	Host topology.HostTopology     `json:"host_topology"`
	Inst topology.InstanceTopology `json:"instance_topology"`
	Free bool                      `json:"free"`
}

func loadVectors(t *testing.T, function string) []vectors.Vector {
	t.Helper()
	f, err := vectors.Load(vectors.PublicFile())
	if err != nil {
		t.Fatal(err)
	}
	vs := f.ByFunction(function)
	if len(vs) == 0 {
		t.Fatalf("no vectors for %s", function)
	}
	return vs
}

func decode(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
}

// checkOutcome compares an error (or its absence) with the vector's
// expectation; it reports whether a result should be compared next.
func checkOutcome(t *testing.T, want vectors.Expect, err error) bool {
	t.Helper()
	if want.Error != "" {
		if err == nil {
			t.Fatalf("want %s, got no error", want.Error)
		}
		if got := nova.ClassOf(err); got != want.Error {
			t.Fatalf("want %s, got %v", want.Error, err)
		}
		return false
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	return true
}

func TestVectorsFitHost(t *testing.T) {
	for _, v := range loadVectors(t, vectors.FuncFitHost) {
		t.Run(v.ID, func(t *testing.T) { checkVector(t, v, nova.Zed) })
	}
}

func TestVectorsFitCell(t *testing.T) {
	for _, v := range loadVectors(t, vectors.FuncFitCell) {
		t.Run(v.ID, func(t *testing.T) { checkVector(t, v, nova.Zed) })
	}
}

func TestVectorsUsage(t *testing.T) {
	for _, v := range loadVectors(t, vectors.FuncUsage) {
		t.Run(v.ID, func(t *testing.T) { checkVector(t, v, nova.Zed) })
	}
}

// TestRecordedZed replays random cases recorded from the real Nova 26.2.2
// code (see the file's source field): mutation across permutations, the
// id-keyed cache, CPython set order, errors.
func TestRecordedZed(t *testing.T) {
	f, err := vectors.Load("testdata/recorded-zed.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		t.Run(v.ID, func(t *testing.T) { checkVector(t, v, nova.Zed) })
	}
}

// TestRecordedEpoxy replays cases recorded with the 31.3.1 versions of the
// two functions whose behaviour the Epoxy profile changes.
func TestRecordedEpoxy(t *testing.T) {
	f, err := vectors.Load("testdata/recorded-epoxy.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.Vectors {
		t.Run(v.ID, func(t *testing.T) { checkVector(t, v, nova.Epoxy) })
	}
}

// checkVector runs one vector of category fit_host, fit_cell or usage and
// compares the outcome semantically; it also proves the inputs unchanged.
func checkVector(t *testing.T, v vectors.Vector, prof nova.Profile) {
	t.Helper()
	switch v.Category {
	case vectors.CategoryFitHost:
		var in fitHostInput
		decode(t, v.Input, &in)
		before := snapshot(t, in)
		got, err := FitInstance(in.Host, in.Inst, in.Limits, Options{Pack: in.Conf.Pack, Profile: prof})
		assertUnchanged(t, before, snapshot(t, in))
		if !checkOutcome(t, v.Expect, err) {
			return
		}
		var want *topology.InstanceTopology
		decode(t, v.Expect.Result, &want)
		if d := diffInstance(want, got); d != "" {
			t.Fatal(d)
		}
	case vectors.CategoryFitCell:
		var in fitCellInput
		decode(t, v.Input, &in)
		before := snapshot(t, in)
		got, err := FitCell(in.Host, in.Cell, in.Limits, in.Reserved, Options{Profile: prof})
		assertUnchanged(t, before, snapshot(t, in))
		if !checkOutcome(t, v.Expect, err) {
			return
		}
		var want *topology.InstanceCell
		decode(t, v.Expect.Result, &want)
		switch {
		case want == nil && got == nil:
		case want == nil:
			t.Fatalf("want no fit, got %s", fmtCell(*got))
		case got == nil:
			t.Fatalf("want %s, got no fit", fmtCell(*want))
		default:
			if d := diffCell(*want, *got); d != "" {
				t.Fatal(d)
			}
		}
	case vectors.CategoryUsage:
		var in usageInput
		decode(t, v.Input, &in)
		before := snapshot(t, in)
		got, err := Usage(in.Host, in.Inst, in.Free)
		assertUnchanged(t, before, snapshot(t, in))
		if !checkOutcome(t, v.Expect, err) {
			return
		}
		var want topology.HostTopology // null decodes to no cells
		decode(t, v.Expect.Result, &want)
		if d := diffHost(want, got); d != "" {
			t.Fatal(d)
		}
	default:
		t.Fatalf("category %q is not the fitter's", v.Category)
	}
}

// snapshot serializes an input completely (every field of every cell,
// through pointers and maps), so that comparing snapshots taken before and
// after a call proves the call changed nothing the caller can see.
func snapshot(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func assertUnchanged(t *testing.T, before, after string) {
	t.Helper()
	if before != after {
		t.Errorf("input was modified:\nbefore %s\nafter  %s", before, after)
	}
}

// diffInstance compares fitted topologies semantically: sets as sets, a
// null set as the empty set, null pinning as an empty map.
func diffInstance(want, got *topology.InstanceTopology) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil:
		return fmt.Sprintf("want no fit, got %s", fmtInstance(got))
	case got == nil:
		return fmt.Sprintf("want %s, got no fit", fmtInstance(want))
	}
	var b strings.Builder
	if want.EmulatorThreadsPolicy != got.EmulatorThreadsPolicy {
		fmt.Fprintf(&b, "emulator_threads_policy: want %q, got %q\n", want.EmulatorThreadsPolicy, got.EmulatorThreadsPolicy)
	}
	if len(want.Cells) != len(got.Cells) {
		fmt.Fprintf(&b, "want %d cells, got %d\n", len(want.Cells), len(got.Cells))
	} else {
		for i := range want.Cells {
			if d := diffCell(want.Cells[i], got.Cells[i]); d != "" {
				fmt.Fprintf(&b, "cell %d: %s\n", i, d)
			}
		}
	}
	if b.Len() > 0 {
		return fmt.Sprintf("%swant %s\ngot  %s", b.String(), fmtInstance(want), fmtInstance(got))
	}
	return ""
}

func fmtInstance(t *topology.InstanceTopology) string {
	var parts []string
	for _, c := range t.Cells {
		parts = append(parts, fmtCell(c))
	}
	return fmt.Sprintf("{%s emu=%q}", strings.Join(parts, " "), t.EmulatorThreadsPolicy)
}

func fmtCell(c topology.InstanceCell) string {
	return fmt.Sprintf("[id=%d cpus=%s pcpus=%s mem=%d ps=%d pol=%q/%q pin=%v res=%s]",
		c.ID, c.CPUSet, c.PCPUSet, c.MemoryMiB, c.PageSizeKB, c.CPUPolicy, c.CPUThreadPolicy, c.CPUPinning, c.CPUSetReserved)
}

func diffCell(want, got topology.InstanceCell) string {
	ok := want.ID == got.ID &&
		want.CPUSet.Equal(got.CPUSet) &&
		want.PCPUSet.Equal(got.PCPUSet) &&
		want.MemoryMiB == got.MemoryMiB &&
		want.PageSizeKB == got.PageSizeKB &&
		want.CPUPolicy == got.CPUPolicy &&
		want.CPUThreadPolicy == got.CPUThreadPolicy &&
		maps.Equal(want.CPUPinning, got.CPUPinning) &&
		want.CPUSetReserved.Equal(got.CPUSetReserved)
	if ok {
		return ""
	}
	return fmt.Sprintf("want %s, got %s", fmtCell(want), fmtCell(got))
}

// diffHost compares every field of every host cell.
func diffHost(want, got topology.HostTopology) string {
	if len(want.Cells) != len(got.Cells) {
		return fmt.Sprintf("want %d cells, got %d", len(want.Cells), len(got.Cells))
	}
	var b strings.Builder
	for i := range want.Cells {
		w, g := want.Cells[i], got.Cells[i]
		check := func(field string, equal bool, wv, gv any) {
			if !equal {
				fmt.Fprintf(&b, "cell %d %s: want %v, got %v\n", i, field, wv, gv)
			}
		}
		check("id", w.ID == g.ID, w.ID, g.ID)
		check("cpuset", w.CPUSet.Equal(g.CPUSet), w.CPUSet, g.CPUSet)
		check("pcpuset", w.PCPUSet.Equal(g.PCPUSet), w.PCPUSet, g.PCPUSet)
		check("pinned_cpus", w.PinnedCPUs.Equal(g.PinnedCPUs), w.PinnedCPUs, g.PinnedCPUs)
		check("memory", w.MemoryMiB == g.MemoryMiB, w.MemoryMiB, g.MemoryMiB)
		check("cpu_usage", w.CPUUsage == g.CPUUsage, w.CPUUsage, g.CPUUsage)
		check("memory_usage", w.MemoryUsageMiB == g.MemoryUsageMiB, w.MemoryUsageMiB, g.MemoryUsageMiB)
		check("socket", reflect.DeepEqual(w.Socket, g.Socket), fmtPtr(w.Socket), fmtPtr(g.Socket))
		check("siblings", slices.EqualFunc(w.Siblings, g.Siblings, func(a, b cpuset.CPUSet) bool { return a.Equal(b) }), w.Siblings, g.Siblings)
		check("mempages", slices.Equal(w.MemPages, g.MemPages), w.MemPages, g.MemPages)
		check("network_metadata", equalNM(w.NetworkMetadata, g.NetworkMetadata), w.NetworkMetadata, g.NetworkMetadata)
	}
	return b.String()
}

func fmtPtr(p *int) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func equalNM(a, b *topology.NetworkMetadata) bool {
	if a == nil || b == nil {
		return a == b
	}
	// physnets is a set in Nova.
	pa, pb := slices.Sorted(slices.Values(a.Physnets)), slices.Sorted(slices.Values(b.Physnets))
	return a.Tunneled == b.Tunneled && slices.Equal(slices.Compact(pa), slices.Compact(pb))
}
