package fitter

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

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
