package cpython_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
)

// TestSmallPathsMatchTable checks Order's and PairOrder's table-free
// placement against Set on many random small sets.
func TestSmallPathsMatchTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		span := []int{8, 16, 64, 300, 5000}[r.IntN(5)]
		keys := make([]int, r.IntN(cpython.SmallSetLen+3))
		for i := range keys {
			keys[i] = r.IntN(span)
			if r.IntN(8) == 0 {
				keys[i] = -keys[i] - 1 // hash(-1) == hash(-2)
			}
			if slices.Contains(keys[:i], keys[i]) {
				keys[i] = 1<<62 + i // Order takes distinct members
			}
		}
		s, order := cpython.NewSet(keys...), slices.Clone(keys)
		for rebuilds := range 3 {
			if order = cpython.Order(order); !slices.Equal(order, s.List()) {
				t.Fatalf("Order of %v after %d rebuilds = %v, Set %v", keys, rebuilds, order, s.List())
			}
			s = s.Rebuild()
		}
		if len(keys) == 2 && keys[0] >= 0 && keys[1] >= 0 && keys[1] < 1<<61-1 {
			s = cpython.NewSet(keys...)
			a, b := keys[0], keys[1]
			for rebuilds := range 4 {
				if a, b = cpython.PairOrder(a, b); !slices.Equal([]int{a, b}, s.List()) {
					t.Fatalf("PairOrder of %v after %d rebuilds = %d, %d; Set %v", keys, rebuilds, a, b, s.List())
				}
				s = s.Rebuild()
			}
		}
	}
}

func TestPairOrderRefusesOtherHashes(t *testing.T) {
	for _, pair := range [][2]int{{-1, 3}, {3, -2}, {1<<61 - 1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("PairOrder(%d, %d) did not panic", pair[0], pair[1])
				}
			}()
			cpython.PairOrder(pair[0], pair[1])
		}()
	}
	if a, b := cpython.PairOrder(1<<61-2, 0); a != 0 || b != 1<<61-2 {
		t.Errorf("PairOrder(2**61-2, 0) = %d, %d; CPython 0, 2**61-2", a, b)
	}
}

func TestOrderOfSmallSetsDoesNotAllocate(t *testing.T) {
	keys := []int{3, 11, 19, 27}
	if n := testing.AllocsPerRun(100, func() { cpython.Order(keys) }); n != 0 {
		t.Errorf("Order of %d keys allocates %v times", len(keys), n)
	}
}

func BenchmarkOrder4(b *testing.B) {
	keys := []int{3, 11, 19, 27}
	for range b.N {
		cpython.Order(keys)
	}
}

func BenchmarkCoercedSet(b *testing.B) {
	members := make([]int, 40)
	for i := range members {
		members[i] = i * 3
	}
	b.ReportAllocs()
	for range b.N {
		cpython.NewSet(members...).Rebuild().Copy()
	}
}
