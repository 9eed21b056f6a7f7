package domain

import (
	"slices"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
)

// _get_host_numa_topology lists a cell's thread-sibling groups from a
// Python set of tuples, and the pinning code walks the groups in list order,
// so the set's iteration order decides which host CPUs a pinned guest gets.
// Package cpython replays the sets; this file builds them as Nova does.
// Nothing else in this package depends on it.

// pyParseCPUSpec is Nova's parse_cpu_spec, building the Python set the same
// way so that its iteration order is known. The grammar is cpuset.Parse's,
// which validates the spec first, so every number below parses.
func pyParseCPUSpec(spec string) (*cpython.Set[int], error) {
	if _, err := cpuset.Parse(spec); err != nil {
		return nil, err
	}
	num := func(s string) int {
		n, _ := cpython.Int(cpython.Strip(s))
		return int(n)
	}
	incl, excl := cpython.NewSet[int](), cpython.NewSet[int]()
	for _, rule := range strings.Split(spec, ",") {
		rule = cpython.Strip(rule)
		if rule == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(rule, "-"); ok {
			target := incl
			if strings.HasPrefix(lo, "^") {
				target, lo = excl, lo[1:]
			}
			target.Update(cpython.RangeSet(num(lo), num(hi)+1)) // |= set(range(lo, hi + 1))
			continue
		}
		if rule[0] == '^' {
			excl.Add(num(rule[1:]))
		} else {
			incl.Add(num(rule))
		}
	}
	incl.DifferenceUpdate(excl)
	return incl, nil
}

// pySiblingOrder returns the distinct sibling groups of one host cell in
// the order _get_host_numa_topology lists them: each CPU's siblings string
// parsed into a set and turned into a tuple, the tuples collected into a
// set, that set iterated into a list of sets and sorted by proper-subset
// comparison (which, for disjoint groups, keeps the order).
func pySiblingOrder(siblings []string) ([]cpuset.CPUSet, error) {
	outer := cpython.NewSet[cpython.Tuple]()
	for _, spec := range siblings {
		inner, err := pyParseCPUSpec(spec)
		if err != nil {
			return nil, err
		}
		outer.Add(cpython.TupleOf(inner.List()...))
	}
	var groups []cpuset.CPUSet
	for t := range outer.All() {
		groups = append(groups, cpuset.New(t.Ints()...))
	}
	pySortSubsets(groups)
	return groups, nil
}

// pySortSubsets is list.sort() on sets, where a < b means "proper subset".
// It follows timsort as CPython runs it on a short list: one leading run,
// then binary insertion of the rest. Sibling groups are disjoint or equal
// in practice, so the whole list is one run and nothing moves; a list long
// enough to need merging falls back to a stable sort.
func pySortSubsets(g []cpuset.CPUSet) {
	less := func(a, b cpuset.CPUSet) bool { return a.Len() < b.Len() && a.IsSubsetOf(b) }
	n := len(g)
	if n < 2 {
		return
	}
	run := 2
	if less(g[1], g[0]) {
		for run < n && less(g[run], g[run-1]) {
			run++
		}
		slices.Reverse(g[:run])
	} else {
		for run < n && !less(g[run], g[run-1]) {
			run++
		}
	}
	if run == n {
		return
	}
	if n >= 64 {
		slices.SortStableFunc(g, func(a, b cpuset.CPUSet) int {
			switch {
			case less(a, b):
				return -1
			case less(b, a):
				return 1
			}
			return 0
		})
		return
	}
	for start := run; start < n; start++ {
		pivot := g[start]
		l, r := 0, start
		for l < r {
			p := l + (r-l)/2
			if less(pivot, g[p]) {
				r = p
			} else {
				l = p + 1
			}
		}
		copy(g[l+1:start+1], g[l:start])
		g[l] = pivot
	}
}
