package fitter

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/cpython/cpythontest"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The orders these tests check were recorded from the real thing: Debian
// 12's /usr/bin/python3 (CPython 3.11) running python3-nova 26.2.2 (see
// package cpythontest), with objects.NUMACell(pcpuset=set(list), ...) for
// the coerced order and list(cell.free_pcpus) /
// [list(s) for s in cell.free_siblings] for the rest.

func TestCoercedSetRecordedOrders(t *testing.T) {
	for _, c := range cpythontest.Cases(t, cpythontest.NUMACellSet) {
		var in struct{ Members []int }
		var want []int
		cpythontest.Decode(t, c.Input, &in)
		cpythontest.Decode(t, c.Want["coerced"], &want)
		if got := coerced(in.Members).List(); !slices.Equal(got, want) {
			t.Errorf("coerced set(%v): got order %v, Nova %v", in.Members, got, want)
		}
	}
}

func TestFreeSiblingsRecordedOrders(t *testing.T) {
	for _, c := range cpythontest.Cases(t, cpythontest.FreeSiblings) {
		var in struct {
			PCPUs, Pinned []int
			Siblings      [][]int
		}
		var free []int
		cpythontest.Decode(t, c.Input, &in)
		cpythontest.Decode(t, c.Want["free"], &free)
		if got := coerced(in.PCPUs).Difference(coerced(in.Pinned)).List(); !slices.Equal(got, free) {
			t.Errorf("free_pcpus of %v - %v: got %v, Nova %v", in.PCPUs, in.Pinned, got, free)
		}
		cell := topology.HostCell{PCPUSet: cpuset.New(in.PCPUs...), PinnedCPUs: cpuset.New(in.Pinned...)}
		for _, s := range in.Siblings {
			cell.Siblings = append(cell.Siblings, cpuset.New(s...))
		}
		hv := &hostView{cell: &cell}
		got := hv.freeSiblings()
		if len(got) != len(in.Siblings) {
			t.Fatalf("free_siblings of %v: got %d groups", in.Siblings, len(got))
		}
		for i, g := range got {
			var want []int
			cpythontest.Decode(t, c.Want[fmt.Sprintf("free_sib%d", i)], &want)
			if !slices.Equal(g, want) {
				t.Errorf("free_siblings[%d] of %v: got %v, Nova %v", i, in.Siblings, g, want)
			}
		}
	}
}

// TestTinyPathsMatchTable checks the table-free paths for small sibling
// groups against the same Nova expression evaluated with cpython.Set, on
// many random groups.
func TestTinyPathsMatchTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 4000 {
		n := 1 + r.IntN(tinyMax)
		span := []int{8, 16, 64, 300, 5000}[r.IntN(5)]
		if span < n {
			span = n
		}
		members := r.Perm(span)[:n]
		slices.Sort(members)
		free := make([]bool, n)
		keep := map[int]bool{}
		for i := range free {
			free[i] = r.IntN(3) > 0
			keep[members[i]] = free[i]
		}
		// Coerced group, then the intersection's result set.
		res := cpython.NewSet[int]()
		for m := range coerced(members).All() {
			if keep[m] {
				res.Add(m)
			}
		}
		want := res.List()
		if got := tinyOrder(members, free, nil); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("tinyOrder(%v, %v) = %v, table model %v", members, free, got, want)
		}
		if n == 2 {
			if got := pairFreeOrder(members[0], members[1], free[0], free[1], nil); !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("pairFreeOrder(%v, %v) = %v, table model %v", members, free, got, want)
			}
		}
	}
}
