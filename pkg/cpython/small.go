package cpython

// SmallSetLen is the most members a set built by adds can hold without
// leaving the minimum 8-slot table: a fifth add fills it to 5/8, past the
// 3/5 that triggers a resize. In that table no probe is linear (i+9 never
// fits) and, without dummies, set(s) copies the slots as they are, so the
// order of such a set follows from the members' home slots alone. Order and
// PairOrder exploit this to place small sets of CPU numbers without
// building a table; Nova builds several two- or four-member sets
// (thread-sibling groups) per pinning decision, which makes this the hot
// path, hence ints only and no generics.
const SmallSetLen = 4

// Order rearranges members, which must be distinct, into the iteration
// order of the set built by adding them in their current order, and returns
// them: list(set(members)) for a list without repeats. Calling it again on
// the result gives the order of the set rebuilt from that one (as
// set(list(s)) does). Up to SmallSetLen members are placed without a Set or
// any allocation. Repeats are not looked for: set members never repeat,
// and looking would make the small case about a quarter slower.
func Order(members []int) []int {
	switch {
	case len(members) < 2:
		return members
	case len(members) > SmallSetLen:
		return NewSet(members...).AppendTo(members[:0])
	}
	const mask = setMinSize - 1
	var slots [SmallSetLen]uint64 // the slot of each member placed so far
	var occupied uint             // bit i: slot i holds a member
	for j, k := range members {
		h := uint64(hashInt(int64(k)))
		i := h & mask
		perturb := h
		for occupied&(1<<i) != 0 {
			perturb >>= perturbShift
			i = (i*5 + 1 + perturb) & mask
		}
		occupied |= 1 << i
		// Keep members[:j+1] sorted by slot; only indexes up to j are
		// written, so the range still reads the input.
		m := j
		for ; m > 0 && slots[m-1] > i; m-- {
			slots[m], members[m] = slots[m-1], members[m-1]
		}
		slots[m], members[m] = i, k
	}
	return members
}

// PairOrder returns the members of the set built by adding x and then y
// (x != y), in iteration order: x takes its home slot, and y its own unless
// that is x's, in which case y moves on along its perturbed probe sequence.
// As with Order, calling it again on the result gives the order of the set
// rebuilt from that one; when x and y share a home slot the order can flip
// with every rebuild.
//
// It only takes members whose hash is themselves, 0 <= x, y < 2^61-1 (CPU
// numbers are), and panics on others; Order and Set take any int. That
// keeps it small enough to be inlined, which matters because Nova builds
// such a pair for every two-thread core of a host, and the test is written
// as two comparisons so that the compiler drops it from a call that is
// given the result of another.
func PairOrder(x, y int) (int, int) {
	const mask = setMinSize - 1
	if uint64(x) >= hashModulus || uint64(y) >= hashModulus {
		panic("cpython: PairOrder of a member outside [0, 2**61-1)")
	}
	home := uint64(x) & mask
	i, perturb := uint64(y)&mask, uint64(y)
	for i == home {
		perturb >>= perturbShift
		i = (i*5 + 1 + perturb) & mask
	}
	if i < home {
		return y, x
	}
	return x, y
}
