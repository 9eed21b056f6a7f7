package fitter

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The orders below were recorded from the real thing: Debian 12's
// /usr/bin/python3 (CPython 3.11.2) running python3-nova 2:26.2.2, with
// objects.NUMACell(pcpuset=set(list), ...) for the coerced order and
// list(cell.free_pcpus) / [list(s) for s in cell.free_siblings] for the rest.

// recordedSetOrders: a sorted list, then list(set(list)), then the
// iteration order of a NUMACell set field assigned set(list).
var recordedSetOrders = [][3][]int{
	{[]int{2, 8}, []int{8, 2}, []int{8, 2}},
	{[]int{3, 17}, []int{17, 3}, []int{17, 3}},
	{[]int{5, 41}, []int{41, 5}, []int{41, 5}},
	{[]int{0, 16}, []int{0, 16}, []int{0, 16}},
	{[]int{3, 11}, []int{11, 3}, []int{3, 11}},
	{[]int{5, 13}, []int{13, 5}, []int{5, 13}},
	{[]int{7, 15}, []int{15, 7}, []int{7, 15}},
	{[]int{7, 135}, []int{135, 7}, []int{7, 135}},
	{[]int{0, 8, 16}, []int{0, 8, 16}, []int{0, 8, 16}},
	{[]int{1, 9, 17, 25}, []int{1, 25, 9, 17}, []int{1, 17, 25, 9}},
	{[]int{2, 10, 18}, []int{18, 2, 10}, []int{10, 18, 2}},
	{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8}},
	{[]int{0, 8, 16, 24, 32, 40, 48, 56}, []int{0, 32, 8, 40, 16, 48, 24, 56}, []int{0, 32, 8, 40, 16, 48, 24, 56}},
	{[]int{3, 39, 75, 111, 147, 183}, []int{3, 39, 75, 111, 147, 183}, []int{3, 147, 39, 183, 75, 111}},
	{[]int{10, 34}, []int{10, 34}, []int{10, 34}},
	{[]int{19, 43}, []int{43, 19}, []int{19, 43}},
	{[]int{6, 30}, []int{6, 30}, []int{6, 30}},
	{[]int{15, 39}, []int{39, 15}, []int{15, 39}},
	{[]int{0, 36}, []int{0, 36}, []int{0, 36}},
	{[]int{18, 54}, []int{18, 54}, []int{18, 54}},
	{[]int{35, 71}, []int{35, 71}, []int{35, 71}},
	{[]int{1, 33, 65, 97}, []int{65, 1, 97, 33}, []int{65, 33, 1, 97}},
	{[]int{4, 12, 20, 28, 36}, []int{4, 36, 12, 20, 28}, []int{4, 36, 20, 12, 28}},
	{[]int{100, 228}, []int{100, 228}, []int{100, 228}},
	{[]int{31, 63, 95, 127}, []int{127, 63, 95, 31}, []int{31, 63, 95, 127}},
	{[]int{30, 73, 85, 121, 129, 185, 192, 290, 322, 378, 381, 388, 389, 621, 811, 914, 925, 927, 953, 974}, []int{129, 388, 389, 914, 925, 30, 927, 290, 811, 185, 953, 192, 322, 73, 974, 85, 621, 121, 378, 381}, []int{192, 129, 322, 388, 389, 73, 974, 914, 85, 925, 30, 927, 121, 290, 811, 621, 185, 378, 953, 381}},
	{[]int{61, 400, 668, 902, 950}, []int{902, 400, 950, 668, 61}, []int{400, 902, 950, 668, 61}},
	{[]int{0, 1, 2, 3, 4, 5, 6, 12, 13, 14, 15, 16, 17, 18, 20, 22, 24, 25, 26, 29, 31, 32, 33, 35, 36, 37, 38, 41, 42, 43, 44, 45, 46, 48, 51, 53, 57, 58, 59, 61}, []int{0, 1, 2, 3, 4, 5, 6, 12, 13, 14, 15, 16, 17, 18, 20, 22, 24, 25, 26, 29, 31, 32, 33, 35, 36, 37, 38, 41, 42, 43, 44, 45, 46, 48, 51, 53, 57, 58, 59, 61}, []int{0, 1, 2, 3, 4, 5, 6, 12, 13, 14, 15, 16, 17, 18, 20, 22, 24, 25, 26, 29, 31, 32, 33, 35, 36, 37, 38, 41, 42, 43, 44, 45, 46, 48, 51, 53, 57, 58, 59, 61}},
	{[]int{178, 552, 637, 681, 689}, []int{552, 681, 689, 178, 637}, []int{689, 178, 552, 681, 637}},
	{[]int{60, 68}, []int{60, 68}, []int{60, 68}},
	{[]int{22, 122, 206, 952, 997}, []int{997, 206, 22, 952, 122}, []int{997, 22, 952, 122, 206}},
	{[]int{268, 385, 390, 916}, []int{385, 268, 390, 916}, []int{385, 268, 390, 916}},
	{[]int{0, 40, 238, 383, 431, 435, 552, 622, 785, 807, 808, 861}, []int{0, 807, 40, 552, 808, 238, 431, 622, 785, 435, 861, 383}, []int{0, 807, 808, 40, 552, 238, 431, 622, 785, 435, 861, 383}},
	{[]int{18, 27, 56}, []int{56, 18, 27}, []int{56, 18, 27}},
	{[]int{4, 18, 24, 42, 53, 59}, []int{4, 42, 18, 53, 24, 59}, []int{18, 4, 53, 24, 42, 59}},
	{[]int{1, 31, 47}, []int{1, 47, 31}, []int{1, 31, 47}},
	{[]int{260, 277, 315, 374, 467, 636, 790, 928, 990}, []int{928, 260, 467, 277, 374, 790, 315, 636, 990}, []int{928, 260, 467, 277, 374, 790, 315, 636, 990}},
	{[]int{324, 388, 402, 795, 988}, []int{388, 324, 402, 795, 988}, []int{402, 388, 324, 795, 988}},
	{[]int{24, 53, 55}, []int{24, 53, 55}, []int{24, 53, 55}},
	{[]int{488, 522}, []int{488, 522}, []int{488, 522}},
	{[]int{35, 37, 64, 89, 104, 108, 116, 143, 150, 215, 245, 251}, []int{64, 35, 37, 104, 108, 143, 116, 245, 150, 215, 89, 251}, []int{64, 35, 37, 104, 108, 143, 116, 245, 150, 215, 89, 251}},
	{[]int{34, 52}, []int{34, 52}, []int{34, 52}},
	{[]int{2, 5, 7, 8, 11, 18, 21, 23, 28, 33, 36, 37, 42, 44, 46, 49, 53, 56, 58, 59}, []int{2, 5, 7, 8, 11, 18, 21, 23, 28, 33, 36, 37, 42, 44, 46, 49, 53, 56, 58, 59}, []int{2, 5, 7, 8, 11, 18, 21, 23, 28, 33, 36, 37, 42, 44, 46, 49, 53, 56, 58, 59}},
	{[]int{45, 60}, []int{60, 45}, []int{60, 45}},
	{[]int{2, 4, 30, 38, 40, 60}, []int{2, 4, 38, 40, 60, 30}, []int{2, 4, 38, 40, 60, 30}},
	{[]int{22, 37, 38, 69, 188, 231}, []int{69, 38, 37, 231, 22, 188}, []int{37, 69, 38, 22, 231, 188}},
	{[]int{39, 43, 180, 242}, []int{242, 43, 180, 39}, []int{242, 43, 180, 39}},
	{[]int{0, 4, 5, 24, 36, 37, 38, 39, 42, 58, 61, 63}, []int{0, 4, 5, 36, 37, 38, 39, 42, 24, 58, 61, 63}, []int{0, 4, 37, 5, 36, 38, 39, 42, 24, 58, 61, 63}},
	{[]int{236, 526, 852}, []int{236, 526, 852}, []int{236, 526, 852}},
	{[]int{11, 15, 42, 44, 158, 225, 234, 236, 246}, []int{225, 42, 11, 44, 234, 236, 15, 246, 158}, []int{225, 234, 42, 11, 44, 236, 15, 246, 158}},
}

// recordedFreeSiblings: NUMACell(pcpuset=set(pcpus),
// pinned_cpus=set(pinned), siblings=[set(s) for s in siblings]).
var recordedFreeSiblings = []struct {
	pcpus, pinned, free []int
	siblings            [][]int
	freeSiblings        [][]int
}{
	{pcpus: []int{0, 1, 2, 3, 8, 9, 10, 11}, pinned: []int{}, siblings: [][]int{{0, 8}, {1, 9}, {2, 10}, {3, 11}}, free: []int{0, 1, 2, 3, 8, 9, 10, 11}, freeSiblings: [][]int{{0, 8}, {1, 9}, {2, 10}, {11, 3}}},
	{pcpus: []int{3, 11, 19, 27}, pinned: []int{19}, siblings: [][]int{{3, 11}, {19, 27}}, free: []int{11, 27, 3}, freeSiblings: [][]int{{11, 3}, {27}}},
	{pcpus: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79}, pinned: []int{0, 5, 64}, siblings: [][]int{{0, 64}, {1, 65}, {2, 66}, {3, 67}, {4, 68}, {5, 69}, {6, 70}, {7, 71}, {8, 72}, {9, 73}, {10, 74}, {11, 75}, {12, 76}, {13, 77}, {14, 78}, {15, 79}}, free: []int{1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79}, freeSiblings: [][]int{{}, {65, 1}, {2, 66}, {67, 3}, {4, 68}, {69}, {70, 6}, {71, 7}, {8, 72}, {73, 9}, {10, 74}, {75, 11}, {12, 76}, {77, 13}, {78, 14}, {79, 15}}},
	{pcpus: []int{0, 1, 2, 3, 4, 5, 6, 7, 32, 33, 34, 35, 36, 37, 38, 39}, pinned: []int{1, 2, 3, 4, 5, 6, 7, 32, 33, 34, 35, 36, 37, 38}, siblings: [][]int{{0, 32}, {1, 33}, {2, 34}, {3, 35}, {4, 36}, {5, 37}, {6, 38}, {7, 39}}, free: []int{0, 39}, freeSiblings: [][]int{{0}, {}, {}, {}, {}, {}, {}, {39}}},
	{pcpus: []int{5, 13, 21, 29}, pinned: []int{}, siblings: [][]int{{5, 13, 21, 29}}, free: []int{5, 13, 21, 29}, freeSiblings: [][]int{{29, 13, 21, 5}}},
	{pcpus: []int{5, 13, 21, 29}, pinned: []int{13}, siblings: [][]int{{5, 13, 21, 29}}, free: []int{21, 29, 5}, freeSiblings: [][]int{{29, 5, 21}}},
	{pcpus: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39}, pinned: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35}, siblings: [][]int{{0, 10, 20, 30}, {1, 11, 21, 31}, {2, 12, 22, 32}, {3, 13, 23, 33}, {4, 14, 24, 34}, {5, 15, 25, 35}, {6, 16, 26, 36}, {7, 17, 27, 37}, {8, 18, 28, 38}, {9, 19, 29, 39}}, free: []int{36, 37, 38, 39}, freeSiblings: [][]int{{}, {}, {}, {}, {}, {}, {36}, {37}, {38}, {39}}},
	{pcpus: []int{7, 15, 135, 143}, pinned: []int{}, siblings: [][]int{{7, 135}, {15, 143}}, free: []int{143, 15, 7, 135}, freeSiblings: [][]int{{135, 7}, {143, 15}}},
	{pcpus: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53}, pinned: []int{1, 37}, siblings: [][]int{{0, 36}, {1, 37}, {2, 38}, {3, 39}, {4, 40}, {5, 41}, {6, 42}, {7, 43}, {8, 44}, {9, 45}, {10, 46}, {11, 47}, {12, 48}, {13, 49}, {14, 50}, {15, 51}, {16, 52}, {17, 53}}, free: []int{0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 36, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53}, freeSiblings: [][]int{{0, 36}, {}, {2, 38}, {3, 39}, {40, 4}, {41, 5}, {42, 6}, {43, 7}, {8, 44}, {9, 45}, {10, 46}, {11, 47}, {48, 12}, {49, 13}, {50, 14}, {51, 15}, {16, 52}, {17, 53}}},
}

func TestPySetRecordedOrders(t *testing.T) {
	for _, c := range recordedSetOrders {
		list, plain, coerced := c[0], c[1], c[2]
		if got := pySetFromList(list).members(); !slices.Equal(got, plain) {
			t.Errorf("set(%v): got order %v, CPython %v", list, got, plain)
		}
		if got := pyCoerced(list).members(); !slices.Equal(got, coerced) {
			t.Errorf("coerced set(%v): got order %v, CPython %v", list, got, coerced)
		}
	}
}

func TestPySetRecordedFreeSiblings(t *testing.T) {
	for _, c := range recordedFreeSiblings {
		free := pyCoerced(c.pcpus).difference(pyCoerced(c.pinned))
		if got := free.members(); !slices.Equal(got, c.free) {
			t.Errorf("free_pcpus of %v - %v: got %v, CPython %v", c.pcpus, c.pinned, got, c.free)
		}
		cell := topology.HostCell{PCPUSet: cpuset.New(c.pcpus...), PinnedCPUs: cpuset.New(c.pinned...)}
		for _, s := range c.siblings {
			cell.Siblings = append(cell.Siblings, cpuset.New(s...))
		}
		hv := &hostView{cell: &cell}
		got := hv.freeSiblings()
		if !slices.EqualFunc(got, c.freeSiblings, func(a, b []int) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) }) {
			t.Errorf("free_siblings of %v: got %v, CPython %v", c.siblings, got, c.freeSiblings)
		}
	}
}

// TestTinyPathsMatchTable checks the table-free fast paths against the full
// hash-table model on many random groups.
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
		// Full model: coerced group, then the intersection's result set.
		res := newPySet()
		coerced := pyCoerced(members)
		for _, m := range coerced.members() {
			if keep[m] {
				res.add(m)
			}
		}
		want := res.members()
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
