package cpython

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// Integer is the Go spelling of a Python int a Set can hold: callers keep the
// integer type they already compute with.
type Integer interface{ int | int64 }

// Key is what a Set can hold: Python ints and tuples of ints. Nova's sets
// never mix the two, and a Set[K] cannot either.
type Key interface{ Integer | Tuple }

// hashModulus is _PyHASH_MODULUS on a 64-bit build: ints hash to their value
// modulo this Mersenne prime, keeping the sign.
const hashModulus = 1<<61 - 1

// Hash is Python's hash() of k on a 64-bit build. The slot a member lands
// in, and so the iteration order, comes from it.
func Hash[K Key](k K) int64 {
	switch v := any(k).(type) {
	case int:
		return hashInt(int64(v))
	case int64:
		return hashInt(v)
	case Tuple:
		return v.hash()
	}
	panic("cpython: unreachable")
}

// hashInt is long_hash: the value modulo 2^61-1 with the sign of the value,
// -1 (CPython's error marker) becoming -2. CPU numbers take the first
// branch, which is kept small enough to inline.
func hashInt(v int64) int64 {
	if uint64(v) < hashModulus {
		return v
	}
	return hashIntSlow(v)
}

// hashIntSlow is hashInt for the ints that are not their own hash.
func hashIntSlow(v int64) int64 {
	var h int64
	if v >= 0 {
		h = v % hashModulus
	} else {
		// -v overflows for math.MinInt64, but its bits read as uint64
		// are still |v|.
		h = -int64(uint64(-v) % hashModulus)
	}
	if h == -1 {
		h = -2
	}
	return h
}

// Tuple is a Python tuple of ints. It is a comparable value, so that sets
// can compare members with ==; the items are packed into a string of
// little-endian 64-bit words.
type Tuple struct{ packed string }

// TupleOf returns the tuple of the given items, tuple(items) in Python.
func TupleOf(items ...int) Tuple {
	b := make([]byte, 0, 8*len(items))
	for _, v := range items {
		b = binary.LittleEndian.AppendUint64(b, uint64(v))
	}
	return Tuple{string(b)}
}

// Len is len(t).
func (t Tuple) Len() int { return len(t.packed) / 8 }

// At is t[i] for 0 <= i < t.Len().
func (t Tuple) At(i int) int {
	w := t.packed[8*i : 8*i+8]
	return int(uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56)
}

// Ints returns the items in order.
func (t Tuple) Ints() []int {
	out := make([]int, t.Len())
	for i := range out {
		out[i] = t.At(i)
	}
	return out
}

// String is repr(t), for test failures and debugging.
func (t Tuple) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range t.Len() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(t.At(i)))
	}
	if t.Len() == 1 {
		b.WriteByte(',')
	}
	b.WriteByte(')')
	return b.String()
}

// hash is tuplehash (Objects/tupleobject.c), the xxHash-based algorithm
// CPython has used since 3.8, with each item's lane being its int hash.
func (t Tuple) hash() int64 {
	const (
		prime1 uint64 = 11400714785074694791 // _PyHASH_XXPRIME_1
		prime2 uint64 = 14029467366897019727 // _PyHASH_XXPRIME_2
		prime5 uint64 = 2870177450012600261  // _PyHASH_XXPRIME_5
	)
	acc := prime5
	n := t.Len()
	for i := range n {
		acc += uint64(hashInt(int64(t.At(i)))) * prime2
		acc = acc<<31 | acc>>33 // _PyHASH_XXROTATE
		acc *= prime1
	}
	// The length is mixed in so that hash(()) keeps its pre-3.8 value.
	acc += uint64(n) ^ (prime5 ^ 3527539)
	if acc == ^uint64(0) {
		return 1546275796
	}
	return int64(acc)
}
