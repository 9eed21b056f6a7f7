package fitter

// This file models how CPython 3.11 lays out a set of small non-negative
// integers in its hash table, because Nova's pinning depends on it.
//
// _pack_instance_onto_cores takes "the first k threads" of each free sibling
// group with list(group)[:k] and chains the groups with itertools.chain. Those
// groups are Python sets, so "first" means first in the set's hash-table slot
// order, which is not ascending: list({2, 8}) is [8, 2], and a coerced
// {3, 11} iterates as [3, 11] while its free-sibling copy iterates as
// [11, 3]. On real hosts, whose thread siblings are (n, n+N), Nova therefore
// often pins the lower vCPU to the higher-numbered thread, and so must we.
// (For some groups the order also flips each time Nova re-creates the set;
// see SiblingOrderUnstable.)
//
// The model covers exactly the set operations on Nova's path:
//
//   - building a set from a list (set(list): insert in list order);
//   - oslo.versionedobjects coercion of a set field (CoercedSet): the value is
//     re-inserted element by element, in its iteration order, into a fresh set,
//     which is then merged (set.update) into an empty set;
//   - a - b (set_difference, including the copy-then-discard variant used when
//     a is much larger than b);
//   - a & b (set_intersection, which walks the smaller operand);
//   - iteration (slot order).
//
// hash(i) == i for the integers involved, so the table only needs keys.

const (
	pySetMinSize      = 8
	pyLinearProbes    = 9
	pyPerturbShift    = 5
	slotEmpty         = 0
	slotActive        = 1
	slotDummy         = 2
	pyLargeUsedCutoff = 50000
)

// pySet is a CPython 3.11 set of non-negative ints, reduced to what decides
// iteration order: the table, fill (active + dummy slots) and used (active).
type pySet struct {
	keys  []int
	state []uint8
	mask  int
	fill  int
	used  int
	// small backs tables of the minimum size so that the common tiny sets
	// (thread-sibling groups) need one allocation, not three.
	smallKeys  [pySetMinSize]int
	smallState [pySetMinSize]uint8
}

func newPySet() *pySet {
	s := &pySet{}
	s.reset()
	return s
}

func (s *pySet) reset() {
	s.smallKeys = [pySetMinSize]int{}
	s.smallState = [pySetMinSize]uint8{}
	s.keys = s.smallKeys[:]
	s.state = s.smallState[:]
	s.mask = pySetMinSize - 1
	s.fill, s.used = 0, 0
}

// pySetFromList is set(list): elements are inserted in list order.
func pySetFromList(list []int) *pySet {
	s := newPySet()
	for _, k := range list {
		s.add(k)
	}
	return s
}

// pyCoerced is what an oslo.versionedobjects set field holds after it was
// assigned from the given list, e.g. NUMACell(cpuset=set([...])).
func pyCoerced(list []int) *pySet {
	return pySetFromList(list).coerce()
}

// coerce models CoercedSet: copy by re-adding in iteration order, then merge
// that copy into an empty set.
func (s *pySet) coerce() *pySet {
	tmp := newPySet()
	for i, st := range s.state {
		if st == slotActive {
			tmp.add(s.keys[i])
		}
	}
	out := newPySet()
	out.merge(tmp)
	return out
}

// members returns the elements in iteration (slot) order.
func (s *pySet) members() []int {
	out := make([]int, 0, s.used)
	return s.appendMembers(out)
}

func (s *pySet) appendMembers(out []int) []int {
	for i, st := range s.state {
		if st == slotActive {
			out = append(out, s.keys[i])
		}
	}
	return out
}

// contains is set_contains_entry: follow the probe sequence until the key or
// a never-used slot.
func (s *pySet) contains(k int) bool {
	mask := s.mask
	i := k & mask
	perturb := uint(k)
	for {
		probes := 0
		if i+pyLinearProbes <= mask {
			probes = pyLinearProbes
		}
		for j := i; ; j++ {
			switch s.state[j] {
			case slotEmpty:
				return false
			case slotActive:
				if s.keys[j] == k {
					return true
				}
			}
			if probes == 0 {
				break
			}
			probes--
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + int(perturb)) & mask
	}
}

// add is set_add_entry.
func (s *pySet) add(k int) {
	mask := s.mask
	i := k & mask
	perturb := uint(k)
	freeslot := -1
	for {
		probes := 0
		if i+pyLinearProbes <= mask {
			probes = pyLinearProbes
		}
		for j := i; ; j++ {
			switch s.state[j] {
			case slotEmpty:
				if freeslot >= 0 {
					s.keys[freeslot] = k
					s.state[freeslot] = slotActive
					s.used++
					return
				}
				s.keys[j] = k
				s.state[j] = slotActive
				s.fill++
				s.used++
				if s.fill*5 < mask*3 {
					return
				}
				if s.used > pyLargeUsedCutoff {
					s.resize(s.used * 2)
				} else {
					s.resize(s.used * 4)
				}
				return
			case slotActive:
				if s.keys[j] == k {
					return
				}
			case slotDummy:
				if freeslot < 0 {
					freeslot = j
				}
			}
			if probes == 0 {
				break
			}
			probes--
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + int(perturb)) & mask
	}
}

// insertClean is set_insert_clean: the key is known absent and the table has
// no dummies.
func insertClean(keys []int, state []uint8, mask, k int) {
	i := k & mask
	perturb := uint(k)
	for {
		if state[i] == slotEmpty {
			keys[i], state[i] = k, slotActive
			return
		}
		if i+pyLinearProbes <= mask {
			for j := 1; j <= pyLinearProbes; j++ {
				if state[i+j] == slotEmpty {
					keys[i+j], state[i+j] = k, slotActive
					return
				}
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + int(perturb)) & mask
	}
}

// resize is set_table_resize: the new size is the smallest power of two
// (at least 8) above minused, and active entries are re-inserted in old slot
// order.
func (s *pySet) resize(minused int) {
	newsize := pySetMinSize
	for newsize <= minused {
		newsize <<= 1
	}
	if newsize == pySetMinSize && s.mask == pySetMinSize-1 && s.fill == s.used {
		return
	}
	oldKeys := s.keys
	oldState := s.state
	if newsize == pySetMinSize && s.mask == pySetMinSize-1 {
		// Rebuilding the small table in place: work from a copy.
		oldKeys = append([]int(nil), oldKeys...)
		oldState = append([]uint8(nil), oldState...)
	}
	if newsize == pySetMinSize {
		s.smallKeys = [pySetMinSize]int{}
		s.smallState = [pySetMinSize]uint8{}
		s.keys = s.smallKeys[:]
		s.state = s.smallState[:]
	} else {
		s.keys = make([]int, newsize)
		s.state = make([]uint8, newsize)
	}
	s.mask = newsize - 1
	for i, st := range oldState {
		if st == slotActive {
			insertClean(s.keys, s.state, s.mask, oldKeys[i])
		}
	}
	s.fill = s.used
}

// merge is set_merge(s, other), i.e. s.update(other) for a set argument.
func (s *pySet) merge(other *pySet) {
	if other == s || other.used == 0 {
		return
	}
	if (s.fill+other.used)*5 >= s.mask*3 {
		s.resize((s.used + other.used) * 2)
	}
	if s.fill == 0 && s.mask == other.mask && other.fill == other.used {
		copy(s.keys, other.keys)
		copy(s.state, other.state)
		s.fill, s.used = other.fill, other.used
		return
	}
	if s.fill == 0 {
		for i, st := range other.state {
			if st == slotActive {
				insertClean(s.keys, s.state, s.mask, other.keys[i])
			}
		}
		s.fill, s.used = other.used, other.used
		return
	}
	for i, st := range other.state {
		if st == slotActive {
			s.add(other.keys[i])
		}
	}
}

// copySet is set(s) / s.copy().
func (s *pySet) copySet() *pySet {
	out := newPySet()
	out.merge(s)
	return out
}

// discard is set_discard_entry: the slot becomes a dummy.
func (s *pySet) discard(k int) {
	mask := s.mask
	i := k & mask
	perturb := uint(k)
	for {
		probes := 0
		if i+pyLinearProbes <= mask {
			probes = pyLinearProbes
		}
		for j := i; ; j++ {
			switch s.state[j] {
			case slotEmpty:
				return
			case slotActive:
				if s.keys[j] == k {
					s.state[j] = slotDummy
					s.used--
					return
				}
			}
			if probes == 0 {
				break
			}
			probes--
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + int(perturb)) & mask
	}
}

// intersection is set_intersection(s, other), i.e. s & other: it walks the
// smaller operand (other when the sizes are equal) and adds the common
// elements to a new set in that order.
func (s *pySet) intersection(other *pySet) *pySet {
	if s == other {
		return s.copySet()
	}
	big, small := s, other
	if other.used > s.used {
		big, small = other, s
	}
	out := newPySet()
	for i, st := range small.state {
		if st == slotActive && big.contains(small.keys[i]) {
			out.add(small.keys[i])
		}
	}
	return out
}

// difference is set_difference(s, other), i.e. s - other.
func (s *pySet) difference(other *pySet) *pySet {
	if (s.used >> 2) > other.used {
		out := s.copySet()
		out.differenceUpdate(other)
		return out
	}
	out := newPySet()
	for i, st := range s.state {
		if st == slotActive && !other.contains(s.keys[i]) {
			out.add(s.keys[i])
		}
	}
	return out
}

// differenceUpdate is set_difference_update_internal(s, other).
func (s *pySet) differenceUpdate(other *pySet) {
	if s == other {
		s.reset()
		return
	}
	if (other.used >> 3) > s.used {
		other = s.intersection(other)
	}
	for i, st := range other.state {
		if st == slotActive {
			s.discard(other.keys[i])
		}
	}
	if s.fill-s.used <= s.mask/4 {
		return
	}
	if s.used > pyLargeUsedCutoff {
		s.resize(s.used * 2)
	} else {
		s.resize(s.used * 4)
	}
}

// Sets of at most four small ints (thread-sibling groups) never leave the
// minimum 8-slot table (a resize needs a fifth entry) and never probe
// linearly (i + 9 > 7). For them the table is reduced to the slot each key
// lands in, computed without any table at all: Nova builds several such sets
// per pinning decision, so this path is the hot one.
const tinyMax = 4

// tinyPlace reorders keys (distinct, at most tinyMax) into the iteration
// order of the set built by inserting them in their current order.
func tinyPlace(keys []int) {
	const mask = pySetMinSize - 1
	var slots [tinyMax]int
	var occupied uint
	for j, k := range keys {
		i := k & mask
		perturb := uint(k)
		for occupied&(1<<i) != 0 {
			perturb >>= pyPerturbShift
			i = (i*5 + 1 + int(perturb)) & mask
		}
		occupied |= 1 << i
		slots[j] = i
		// Keep keys sorted by slot (insertion sort on the fly).
		for m := j; m > 0 && slots[m] < slots[m-1]; m-- {
			slots[m], slots[m-1] = slots[m-1], slots[m]
			keys[m], keys[m-1] = keys[m-1], keys[m]
		}
	}
}

// pairOrder returns the iteration order of the set built by adding x, then
// y (x != y): each lands in its home slot unless y collides with x.
func pairOrder(x, y int) (int, int) {
	const mask = pySetMinSize - 1
	hx := x & mask
	i := y & mask
	perturb := uint(y)
	for i == hx {
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + int(perturb)) & mask
	}
	if i < hx {
		return y, x
	}
	return x, y
}

// pairFreeOrder is tinyOrder for a two-thread group {lo, hi}, the common
// SMT case, without any table.
func pairFreeOrder(lo, hi int, loFree, hiFree bool, out []int) []int {
	switch {
	case loFree && hiFree:
		a, b := pairOrder(lo, hi) // set([lo, hi])
		a, b = pairOrder(a, b)    // coerced
		a, b = pairOrder(a, b)    // intersection result
		return append(out, a, b)
	case loFree:
		return append(out, lo)
	case hiFree:
		return append(out, hi)
	}
	return out
}

// tinyOrder appends to out the members of a sibling group that are free, in
// the iteration order of siblings[i] & free_pcpus when the group is the
// smaller operand: the group is built from its ascending members, coerced
// (re-added in iteration order; the final merge into an empty 8-slot set
// copies the table as is), and the free members are added to the result in
// the coerced set's order. free[j] tells whether members[j] is free.
func tinyOrder(members []int, free []bool, out []int) []int {
	var keys, kept [tinyMax]int
	n := copy(keys[:], members)
	// Record which keys are free before reordering moves them.
	var freeKey [tinyMax]int
	nf := 0
	for j := range n {
		if free[j] {
			freeKey[nf] = members[j]
			nf++
		}
	}
	tinyPlace(keys[:n]) // set(list)
	tinyPlace(keys[:n]) // CoercedSet: re-added in iteration order
	nk := 0
	for _, k := range keys[:n] {
		for _, f := range freeKey[:nf] {
			if f == k {
				kept[nk] = k
				nk++
				break
			}
		}
	}
	tinyPlace(kept[:nk]) // the intersection's result set
	return append(out, kept[:nk]...)
}
