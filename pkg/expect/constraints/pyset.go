package constraints

// When a manual NUMA cell lists both a vCPU beyond the flavor's count and a
// vCPU an earlier cell already took, _get_numa_topology_manual raises
// whichever it meets first while iterating a Python set, so the exception
// class depends on CPython's set iteration order. pySet replays CPython
// 3.11's set table (Objects/setobject.c: open addressing with linear probes
// of 9 and perturbed re-probing, resize at 3/5 full) for non-negative int
// keys, whose hash is the key itself.

const (
	pySetMinSize   = 8
	pyLinearProbes = 9
	pyPerturbShift = 5
	// pySetReplayLimit bounds the work of a replay; bigger sets (which Nova
	// itself would build only slowly) fall back to ascending order.
	pySetReplayLimit = 1 << 18
)

const (
	slotEmpty uint8 = iota
	slotActive
	slotDummy
)

type pySet struct {
	keys       []int64
	state      []uint8
	mask       uint64
	fill, used int
}

func newPySet() *pySet {
	return &pySet{keys: make([]int64, pySetMinSize), state: make([]uint8, pySetMinSize), mask: pySetMinSize - 1}
}

// insertClean places a key known to be absent into a table without dummies.
func insertClean(keys []int64, state []uint8, mask uint64, key int64) {
	perturb := uint64(key)
	i := uint64(key) & mask
	for {
		if state[i] == slotEmpty {
			keys[i], state[i] = key, slotActive
			return
		}
		if i+pyLinearProbes <= mask {
			for j := uint64(1); j <= pyLinearProbes; j++ {
				if state[i+j] == slotEmpty {
					keys[i+j], state[i+j] = key, slotActive
					return
				}
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + perturb) & mask
	}
}

func (s *pySet) resize(minused int) {
	newsize := uint64(pySetMinSize)
	for newsize <= uint64(minused) {
		newsize <<= 1
	}
	if newsize == pySetMinSize && s.mask == pySetMinSize-1 && s.fill == s.used {
		return
	}
	oldKeys, oldState := s.keys, s.state
	s.keys, s.state, s.mask = make([]int64, newsize), make([]uint8, newsize), newsize-1
	s.fill = s.used
	for i, st := range oldState {
		if st == slotActive {
			insertClean(s.keys, s.state, s.mask, oldKeys[i])
		}
	}
}

// find returns the slot holding key, or -1.
func (s *pySet) find(key int64) int {
	perturb := uint64(key)
	i := uint64(key) & s.mask
	for {
		probes := uint64(0)
		if i+pyLinearProbes <= s.mask {
			probes = pyLinearProbes
		}
		for j := uint64(0); j <= probes; j++ {
			switch s.state[i+j] {
			case slotEmpty:
				return -1
			case slotActive:
				if s.keys[i+j] == key {
					return int(i + j)
				}
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + perturb) & s.mask
	}
}

// add is set_add_entry.
func (s *pySet) add(key int64) {
	perturb := uint64(key)
	i := uint64(key) & s.mask
	free := -1
	for {
		probes := uint64(0)
		if i+pyLinearProbes <= s.mask {
			probes = pyLinearProbes
		}
		for j := uint64(0); j <= probes; j++ {
			k := i + j
			switch s.state[k] {
			case slotEmpty:
				if free >= 0 {
					s.keys[free], s.state[free] = key, slotActive
					s.used++
					return
				}
				s.keys[k], s.state[k] = key, slotActive
				s.fill++
				s.used++
				if uint64(s.fill)*5 >= s.mask*3 {
					s.resize(growTo(s.used))
				}
				return
			case slotActive:
				if s.keys[k] == key {
					return
				}
			case slotDummy:
				if free < 0 {
					free = int(k)
				}
			}
		}
		perturb >>= pyPerturbShift
		i = (i*5 + 1 + perturb) & s.mask
	}
}

func growTo(used int) int {
	if used > 50000 {
		return used * 2
	}
	return used * 4
}

// merge is set_merge: s |= o, or s.update(o), with o a set.
func (s *pySet) merge(o *pySet) {
	if o.used == 0 {
		return
	}
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
		for i, st := range o.state {
			if st == slotActive {
				insertClean(s.keys, s.state, s.mask, o.keys[i])
			}
		}
	default:
		for i, st := range o.state {
			if st == slotActive {
				s.add(o.keys[i])
			}
		}
	}
}

// discardAll is set_difference_update_internal with a set argument.
func (s *pySet) discardAll(members intSet) {
	for _, iv := range members {
		for k := iv.lo; k <= iv.hi; k++ {
			if slot := s.find(k); slot >= 0 {
				s.state[slot] = slotDummy
				s.used--
			}
		}
	}
	if uint64(s.fill-s.used) <= s.mask/4 {
		return
	}
	s.resize(growTo(s.used))
}

// order lists the members in iteration order.
func (s *pySet) order() []int64 {
	out := make([]int64, 0, s.used)
	for i, st := range s.state {
		if st == slotActive {
			out = append(out, s.keys[i])
		}
	}
	return out
}

func rangeSet(lo, hi int64) *pySet {
	s := newPySet()
	for k := lo; k <= hi; k++ {
		s.add(k)
	}
	return s
}

// size is the number of members, saturating at limit+1.
func (s intSet) size(limit int64) int64 {
	var n int64
	for _, iv := range s {
		n += iv.hi - iv.lo + 1
		if n > limit {
			return limit + 1
		}
	}
	return n
}

// iterationOrder returns the members of spec in the order a Python loop
// over Nova's set would visit them, or ascending order when the set is too
// large to replay.
func (spec cpuSpec) iterationOrder() []int64 {
	work := int64(0)
	for _, op := range spec.ops {
		work += op.hi - op.lo + 1
		if work > pySetReplayLimit {
			return spec.ascending()
		}
	}
	ids := newPySet()
	var rejects intSet
	for _, op := range spec.ops {
		switch {
		case op.exclude:
			rejects = rejects.union(intSet{{op.lo, op.hi}})
		case op.isRange:
			ids.merge(rangeSet(op.lo, op.hi))
		default:
			ids.add(op.lo)
		}
	}
	ids.discardAll(rejects)
	if !spec.rebuilt {
		return ids.order()
	}
	rebuilt := newPySet()
	for _, k := range ids.order() {
		rebuilt.add(k)
	}
	final := newPySet()
	final.merge(rebuilt)
	return final.order()
}

func (spec cpuSpec) ascending() []int64 {
	var out []int64
	for _, iv := range spec.members {
		for k := iv.lo; k <= iv.hi; k++ {
			out = append(out, k)
		}
	}
	return out
}
