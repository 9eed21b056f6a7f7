package domain

import (
	"slices"
	"strconv"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// This file reproduces just enough of CPython 3.11's set and tuple
// internals (Objects/setobject.c, Objects/tupleobject.c) to know the order
// in which _get_host_numa_topology lists a cell's thread-sibling groups.
// Nova builds that list from a set of tuples, and the pinning code walks
// the groups in list order, so the order decides which host CPUs a pinned
// guest gets. Nothing else in this package depends on it.

const (
	pyLinearProbes = 9
	pyPerturbShift = 5
	pySetMinSize   = 8
)

// pyKey is a set member: an int or a tuple of ints.
type pyKey struct {
	ints  []int
	tuple bool
}

func (k pyKey) equal(o pyKey) bool { return k.tuple == o.tuple && slices.Equal(k.ints, o.ints) }

// hash is CPython's hash() of the member: the value for a small
// non-negative int, the xxHash-based tuplehash for a tuple of them.
func (k pyKey) hash() uint64 {
	if !k.tuple {
		return uint64(k.ints[0])
	}
	const (
		prime1 uint64 = 11400714785074694791
		prime2 uint64 = 14029467366897019727
		prime5 uint64 = 2870177450012600261
	)
	acc := prime5
	for _, v := range k.ints {
		acc += uint64(v) * prime2
		acc = acc<<31 | acc>>33
		acc *= prime1
	}
	acc += uint64(len(k.ints)) ^ (prime5 ^ 3527539)
	if acc == ^uint64(0) {
		return 1546275796
	}
	return acc
}

type pyEntry struct {
	key   pyKey
	hash  uint64
	state uint8 // 0 empty, 1 active, 2 dummy (deleted)
}

// pySet is a CPython set: an open-addressing table whose slot order is the
// iteration order.
type pySet struct {
	table []pyEntry
	fill  int // active + dummy
	used  int // active
}

func newPySet() *pySet { return &pySet{table: make([]pyEntry, pySetMinSize)} }

func (s *pySet) mask() uint64 { return uint64(len(s.table) - 1) }

// add is set_add_entry.
func (s *pySet) add(k pyKey) {
	h := k.hash()
	mask := s.mask()
	i := h & mask
	perturb := h
	free := -1
	for {
		probes := 0
		if i+pyLinearProbes <= mask {
			probes = pyLinearProbes
		}
		for j := uint64(0); j <= uint64(probes); j++ {
			e := &s.table[i+j]
			switch {
			case e.state == 0:
				if free >= 0 {
					s.table[free] = pyEntry{key: k, hash: h, state: 1}
					s.used++
					return
				}
				*e = pyEntry{key: k, hash: h, state: 1}
				s.fill++
				s.used++
				if uint64(s.fill)*5 >= mask*3 {
					s.resize(s.growTarget())
				}
				return
			case e.state == 1 && e.hash == h && e.key.equal(k):
				return
			case e.state == 2 && free < 0:
				free = int(i + j)
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + perturb) & mask
	}
}

func (s *pySet) growTarget() int {
	if s.used > 50000 {
		return s.used * 2
	}
	return s.used * 4
}

// insertClean is set_insert_clean: placement into a table known to hold
// neither the key nor dummies.
func insertClean(table []pyEntry, e pyEntry) {
	mask := uint64(len(table) - 1)
	perturb := e.hash
	i := e.hash & mask
	for {
		if table[i].state == 0 {
			table[i] = e
			return
		}
		if i+pyLinearProbes <= mask {
			for j := uint64(1); j <= pyLinearProbes; j++ {
				if table[i+j].state == 0 {
					table[i+j] = e
					return
				}
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + perturb) & mask
	}
}

// resize is set_table_resize.
func (s *pySet) resize(minused int) {
	size := pySetMinSize
	for size <= minused {
		size <<= 1
	}
	old := s.table
	s.table = make([]pyEntry, size)
	s.fill = s.used
	for _, e := range old {
		if e.state == 1 {
			insertClean(s.table, e)
		}
	}
}

// merge is set_merge: s |= o for another set.
func (s *pySet) merge(o *pySet) {
	if o.used == 0 {
		return
	}
	if uint64(s.fill+o.used)*5 >= s.mask()*3 {
		s.resize((s.used + o.used) * 2)
	}
	switch {
	case s.fill == 0 && len(s.table) == len(o.table) && o.fill == o.used:
		copy(s.table, o.table)
		s.fill, s.used = o.fill, o.used
	case s.fill == 0:
		s.fill, s.used = o.used, o.used
		for _, e := range o.table {
			if e.state == 1 {
				insertClean(s.table, e)
			}
		}
	default:
		for _, e := range o.table {
			if e.state == 1 {
				s.add(e.key)
			}
		}
	}
}

// discard is set_discard_entry: the slot becomes a dummy.
func (s *pySet) discard(k pyKey) {
	h := k.hash()
	mask := s.mask()
	i := h & mask
	perturb := h
	for {
		probes := 0
		if i+pyLinearProbes <= mask {
			probes = pyLinearProbes
		}
		for j := uint64(0); j <= uint64(probes); j++ {
			e := &s.table[i+j]
			switch {
			case e.state == 0:
				return
			case e.state == 1 && e.hash == h && e.key.equal(k):
				e.state = 2
				s.used--
				return
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + perturb) & mask
	}
}

// differenceUpdate is set_difference_update_internal: s -= o.
func (s *pySet) differenceUpdate(o *pySet) {
	if o.used>>3 > s.used {
		// CPython first intersects a much larger other set with s; only
		// the members of s matter for the result, in s's own order.
		inter := newPySet()
		for _, e := range s.table {
			if e.state == 1 && o.contains(e.key) {
				inter.add(e.key)
			}
		}
		o = inter
	}
	for _, e := range o.table {
		if e.state == 1 {
			s.discard(e.key)
		}
	}
	if uint64(s.fill-s.used) <= s.mask()/4 {
		return
	}
	s.resize(s.growTarget())
}

func (s *pySet) contains(k pyKey) bool {
	for _, e := range s.table {
		if e.state == 1 && e.key.equal(k) {
			return true
		}
	}
	return false
}

// members lists the active keys in iteration order.
func (s *pySet) members() []pyKey {
	var out []pyKey
	for _, e := range s.table {
		if e.state == 1 {
			out = append(out, e.key)
		}
	}
	return out
}

func pyInts(vs ...int) pyKey { return pyKey{ints: vs} }

// pyParseCPUSpec is Nova's parse_cpu_spec, building the Python set the same
// way so that its iteration order is known. The grammar is cpuset.Parse's.
func pyParseCPUSpec(spec string) (*pySet, error) {
	if _, err := cpuset.Parse(spec); err != nil {
		return nil, err
	}
	incl, excl := newPySet(), newPySet()
	for _, rule := range strings.Split(spec, ",") {
		rule = strings.TrimSpace(rule)
		if rule == "" {
			continue
		}
		if lo, hi, ok := strings.Cut(rule, "-"); ok {
			target := incl
			if strings.HasPrefix(lo, "^") {
				target, lo = excl, lo[1:]
			}
			a, _ := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(lo), "_", ""))
			b, _ := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(hi), "_", ""))
			r := newPySet()
			for v := a; v <= b; v++ {
				r.add(pyInts(v))
			}
			target.merge(r)
			continue
		}
		target, num := incl, rule
		if rule[0] == '^' {
			target, num = excl, rule[1:]
		}
		v, _ := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(num), "_", ""))
		target.add(pyInts(v))
	}
	incl.differenceUpdate(excl)
	return incl, nil
}

// pySiblingOrder returns the distinct sibling groups of one host cell in
// the order _get_host_numa_topology lists them: each CPU's siblings string
// parsed into a set and turned into a tuple, the tuples collected into a
// set, that set iterated into a list of sets and sorted by proper-subset
// comparison (which, for disjoint groups, keeps the order).
func pySiblingOrder(siblings []string) ([]cpuset.CPUSet, error) {
	outer := newPySet()
	for _, spec := range siblings {
		inner, err := pyParseCPUSpec(spec)
		if err != nil {
			return nil, err
		}
		var tuple []int
		for _, m := range inner.members() {
			tuple = append(tuple, m.ints[0])
		}
		outer.add(pyKey{ints: tuple, tuple: true})
	}
	var groups []cpuset.CPUSet
	for _, m := range outer.members() {
		groups = append(groups, cpuset.New(m.ints...))
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
