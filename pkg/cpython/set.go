package cpython

import "iter"

// The constants and the functions below follow Objects/setobject.c of
// CPython 3.11 function by function (the C names are given), because any
// shortcut that yields the same members can still yield a different slot
// order.
const (
	setMinSize   = 8 // PySet_MINSIZE: the table inside the set object
	linearProbes = 9 // LINEAR_PROBES: slots scanned before perturbing
	perturbShift = 5 // PERTURB_SHIFT
	// largeSet is where a growing table switches from quadrupling the
	// number of members to doubling it.
	largeSet = 50000
)

// Slot states. CPython marks a deleted slot with a dummy key, which keeps
// probe chains through it intact and is reused by a later insertion.
const (
	slotEmpty uint8 = iota
	slotActive
	slotDummy
)

// Set is a CPython 3.11 set of ints or of tuples of ints, reduced to what
// decides its iteration order: the slot table, fill (active and dummy
// slots) and used (active slots). Every operation is the one CPython runs
// for the corresponding Python expression, so a Set iterates exactly like
// the Python set built the same way.
//
// The zero value is an empty set, like set(). A Set must not be copied
// once used, since its minimum table lives inside it as CPython's does;
// Copy is set(s).
type Set[K Key] struct {
	keys  []K
	state []uint8
	mask  uint64
	fill  int
	used  int
	// The minimum-size table is part of the set (CPython's smalltable),
	// so that the many tiny sets Nova builds cost one allocation each.
	smallKeys  [setMinSize]K
	smallState [setMinSize]uint8
}

// NewSet returns set(items) for a list, tuple or any other iterable that is
// not itself a set: the items are added one at a time, in order.
// NewSet[K]() is set().
func NewSet[K Key](items ...K) *Set[K] {
	s := &Set[K]{}
	s.init()
	for _, k := range items {
		s.add(k)
	}
	return s
}

// RangeSet returns set(range(start, stop)).
func RangeSet[K Integer](start, stop K) *Set[K] {
	s := NewSet[K]()
	for k := start; k < stop; k++ {
		s.add(k)
	}
	return s
}

// init gives a zero Set its minimum table.
func (s *Set[K]) init() {
	if s.keys == nil {
		s.keys, s.state, s.mask = s.smallKeys[:], s.smallState[:], setMinSize-1
	}
}

// Len is len(s).
func (s *Set[K]) Len() int { return s.used }

// All iterates over the members in CPython's iteration order (slot order).
// s must not change during the iteration.
func (s *Set[K]) All() iter.Seq[K] {
	return func(yield func(K) bool) {
		for i, st := range s.state {
			if st == slotActive && !yield(s.keys[i]) {
				return
			}
		}
	}
}

// AppendTo appends the members to dst in iteration order, like
// dst.extend(s).
func (s *Set[K]) AppendTo(dst []K) []K {
	for i, st := range s.state {
		if st == slotActive {
			dst = append(dst, s.keys[i])
		}
	}
	return dst
}

// List is list(s).
func (s *Set[K]) List() []K { return s.AppendTo(make([]K, 0, s.used)) }

// Contains is k in s.
func (s *Set[K]) Contains(k K) bool { return s.lookup(k) >= 0 }

// Add is s.add(k).
func (s *Set[K]) Add(k K) {
	s.init()
	s.add(k)
}

// Extend is s.update(items) for a list or other iterable that is not a set:
// one add per item, in order.
func (s *Set[K]) Extend(items ...K) {
	s.init()
	for _, k := range items {
		s.add(k)
	}
}

// Discard is s.discard(k); it reports whether k was a member. The slot
// becomes a dummy: the table is not rebuilt, so later insertions and the
// iteration order still see it.
func (s *Set[K]) Discard(k K) bool {
	i := s.lookup(k)
	if i < 0 {
		return false
	}
	s.state[i] = slotDummy
	s.used--
	return true
}

// Clear is s.clear() (set_clear_internal): back to an empty minimum table.
func (s *Set[K]) Clear() {
	s.smallKeys = [setMinSize]K{}
	s.smallState = [setMinSize]uint8{}
	s.keys, s.state, s.mask = s.smallKeys[:], s.smallState[:], setMinSize-1
	s.fill, s.used = 0, 0
}

// Copy is set(s) or s.copy() (set_copy): the members are merged into a new
// set, which keeps s's layout when the tables have the same size and s has
// no dummies, and re-inserts them in slot order otherwise.
func (s *Set[K]) Copy() *Set[K] {
	out := NewSet[K]()
	out.merge(s)
	return out
}

// Rebuild is set(list(s)), or any other copy made by iterating over s and
// adding the members one at a time ({x for x in s}, set.update with a
// generator). Unlike Copy it grows the table step by step, so the order
// can differ from s's.
func (s *Set[K]) Rebuild() *Set[K] {
	out := NewSet[K]()
	for i, st := range s.state {
		if st == slotActive {
			out.add(s.keys[i])
		}
	}
	return out
}

// Update is s |= o, or s.update(o) with a set argument (set_merge).
func (s *Set[K]) Update(o *Set[K]) {
	s.merge(o)
}

// Union is s | o, or s.union(o) (set_or): a copy of s, then o merged in.
func (s *Set[K]) Union(o *Set[K]) *Set[K] {
	out := s.Copy()
	if o != s {
		// s | s is just the copy: merging s again could resize it.
		out.merge(o)
	}
	return out
}

// Intersection is s & o, or s.intersection(o) (set_intersection): it walks
// the smaller operand (o when the sizes are equal) and adds the common
// members to a new set in that operand's order.
func (s *Set[K]) Intersection(o *Set[K]) *Set[K] {
	if s == o {
		return s.Copy()
	}
	out := NewSet[K]()
	big, small := s, o
	if o.used > s.used {
		big, small = o, s
	}
	for i, st := range small.state {
		if st != slotActive {
			continue
		}
		if k := small.keys[i]; big.lookup(k) >= 0 {
			out.add(k)
		}
	}
	return out
}

// IntersectionUpdate is s &= o (set_intersection_update): s takes over the
// table of s & o.
func (s *Set[K]) IntersectionUpdate(o *Set[K]) {
	t := s.Intersection(o)
	if len(t.keys) == setMinSize {
		s.smallKeys, s.smallState = t.smallKeys, t.smallState
		s.keys, s.state = s.smallKeys[:], s.smallState[:]
	} else {
		s.keys, s.state = t.keys, t.state
	}
	s.mask, s.fill, s.used = t.mask, t.fill, t.used
}

// Difference is s - o, or s.difference(o) (set_difference). When s is more
// than four times the size of o, CPython copies s and discards o's members
// from the copy, which leaves dummies; otherwise it adds the members of s
// missing from o to a new set.
func (s *Set[K]) Difference(o *Set[K]) *Set[K] {
	if s.used>>2 > o.used {
		out := s.Copy()
		out.DifferenceUpdate(o)
		return out
	}
	out := NewSet[K]()
	for i, st := range s.state {
		if st != slotActive {
			continue
		}
		if k := s.keys[i]; o.lookup(k) < 0 {
			out.add(k)
		}
	}
	return out
}

// DifferenceUpdate is s -= o, or s.difference_update(o)
// (set_difference_update_internal): o's members are discarded from s, and
// the table is rebuilt only once more than a quarter of it is dummies.
func (s *Set[K]) DifferenceUpdate(o *Set[K]) {
	if s == o {
		s.Clear()
		return
	}
	if o.used>>3 > s.used {
		// Against a much larger set, CPython discards s & o instead.
		o = s.Intersection(o)
	}
	for i, st := range o.state {
		if st == slotActive {
			if j := s.lookup(o.keys[i]); j >= 0 {
				s.state[j] = slotDummy
				s.used--
			}
		}
	}
	if uint64(s.fill-s.used) <= s.mask/4 {
		return
	}
	s.resize(growth(s.used))
}

// growth is the minimum size a table is resized for once it is too full:
// it quadruples the members of a set up to largeSet, and doubles them above.
func growth(used int) int {
	if used > largeSet {
		return used * 2
	}
	return used * 4
}

// lookup, add and insertClean are the per-member steps, and each starts by
// hashing its member. An int below 2^61-1 (a CPU number) is its own hash, so
// they test for that case in line, at the cost of one comparison of the
// instantiation's type, and call Hash only otherwise: a call per member, or
// a helper the compiler will not inline, made building the fitter's sets a
// fifth slower.

// lookup is set_lookkey: the slot holding k, or -1. Probing stops at the
// first never-used slot; dummies are stepped over.
func (s *Set[K]) lookup(k K) int {
	if s.used == 0 {
		return -1
	}
	var h int64
	if v, ok := any(k).(int); ok && uint64(v) < hashModulus {
		h = int64(v) // its own hash (see the note above lookup)
	} else {
		h = Hash(k)
	}
	mask := s.mask
	perturb := uint64(h)
	i := uint64(h) & mask
	for {
		probes := uint64(0)
		if i+linearProbes <= mask {
			probes = linearProbes
		}
		for j := i; j <= i+probes; j++ {
			switch s.state[j] {
			case slotEmpty:
				return -1
			case slotActive:
				if s.keys[j] == k {
					return int(j)
				}
			}
		}
		perturb >>= perturbShift
		i = (i*5 + 1 + perturb) & mask
	}
}

// add is set_add_entry: if the probe chain ends without finding k, k goes
// into the last dummy met on the chain, or else into the empty slot that
// ended it, after which a table at least 3/5 full (active and dummy slots)
// is resized.
func (s *Set[K]) add(k K) {
	var h int64
	if v, ok := any(k).(int); ok && uint64(v) < hashModulus {
		h = int64(v) // its own hash (see the note above lookup)
	} else {
		h = Hash(k)
	}
	mask := s.mask
	perturb := uint64(h)
	i := uint64(h) & mask
	free := -1
	for {
		probes := uint64(0)
		if i+linearProbes <= mask {
			probes = linearProbes
		}
		for j := i; j <= i+probes; j++ {
			switch s.state[j] {
			case slotEmpty:
				if free >= 0 {
					s.keys[free], s.state[free] = k, slotActive
					s.used++
					return
				}
				s.keys[j], s.state[j] = k, slotActive
				s.fill++
				s.used++
				if uint64(s.fill)*5 >= mask*3 {
					s.resize(growth(s.used))
				}
				return
			case slotActive:
				if s.keys[j] == k {
					return
				}
			case slotDummy:
				// Not just the first: setobject.c overwrites freeslot at
				// every dummy, so the last one met is reused.
				free = int(j)
			}
		}
		perturb >>= perturbShift
		i = (i*5 + 1 + perturb) & mask
	}
}

// insertClean is set_insert_clean, applied to every active slot of a
// source table in slot order (as both set_table_resize and set_merge do):
// placement of keys known to be absent into a table known to hold no
// dummies, so only empty slots are looked for. Taking the whole source in
// one call keeps the per-member cost to the probing itself.
func insertClean[K Key](keys []K, state []uint8, mask uint64, srcKeys []K, srcState []uint8) {
	for n, st := range srcState {
		if st != slotActive {
			continue
		}
		k := srcKeys[n]
		var h int64
		if v, ok := any(k).(int); ok && uint64(v) < hashModulus {
			h = int64(v) // its own hash (see the note above lookup)
		} else {
			h = Hash(k)
		}
		perturb := uint64(h)
		i := uint64(h) & mask
	probe:
		for {
			if state[i] == slotEmpty {
				keys[i], state[i] = k, slotActive
				break
			}
			if i+linearProbes <= mask {
				for j := i + 1; j <= i+linearProbes; j++ {
					if state[j] == slotEmpty {
						keys[j], state[j] = k, slotActive
						break probe
					}
				}
			}
			perturb >>= perturbShift
			i = (i*5 + 1 + perturb) & mask
		}
	}
}

// resize is set_table_resize: the new table is the smallest power of two
// (at least 8) above minused, and the active members are re-inserted in old
// slot order, dropping the dummies.
func (s *Set[K]) resize(minused int) {
	newsize := uint64(setMinSize)
	for newsize <= uint64(minused) {
		newsize <<= 1
	}
	oldKeys, oldState := s.keys, s.state
	if newsize == setMinSize {
		if len(s.keys) == setMinSize {
			if s.fill == s.used {
				return // no dummies to purge: CPython leaves the table alone
			}
			// Rebuilding the inline table in place: work from a copy.
			keys, state := s.smallKeys, s.smallState
			oldKeys, oldState = keys[:], state[:]
		}
		s.smallKeys = [setMinSize]K{}
		s.smallState = [setMinSize]uint8{}
		s.keys, s.state = s.smallKeys[:], s.smallState[:]
	} else {
		s.keys, s.state = make([]K, newsize), make([]uint8, newsize)
	}
	s.mask = newsize - 1
	s.fill = s.used
	insertClean(s.keys, s.state, s.mask, oldKeys, oldState)
}

// merge is set_merge(s, o): s |= o for a set o. The table is resized once
// up front if needed; an empty s then takes o's slots verbatim when the
// sizes match and o has no dummies, and o's members by insertClean in o's
// slot order otherwise; a non-empty s gets ordinary adds.
func (s *Set[K]) merge(o *Set[K]) {
	if o == s || o.used == 0 {
		return
	}
	s.init()
	if uint64(s.fill+o.used)*5 >= s.mask*3 {
		s.resize((s.used + o.used) * 2)
	}
	switch {
	case s.fill == 0 && s.mask == o.mask && o.fill == o.used:
		copy(s.keys, o.keys)
		copy(s.state, o.state)
		s.fill, s.used = o.fill, o.used
	case s.fill == 0:
		s.fill, s.used = o.used, o.used
		insertClean(s.keys, s.state, s.mask, o.keys, o.state)
	default:
		for i, st := range o.state {
			if st == slotActive {
				s.add(o.keys[i])
			}
		}
	}
}
