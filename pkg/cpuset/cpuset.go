// Package cpuset holds sets of CPU (or vCPU, or NUMA node) numbers, parsed
// and formatted with the grammar Nova uses in its configuration, flavor extra
// specs and image properties ("0-3,^2,5").
//
// A CPUSet is an immutable value: every operation returns a new set, so sets
// can be shared between topologies without defensive copies. CPU lists are
// always compared as sets, never as strings.
package cpuset

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// MaxCPU is the largest CPU number a set may hold. Nova has no limit, but a
// range such as "0-4000000000" is never a real host and would only exhaust
// memory, so the parser rejects numbers above it.
const MaxCPU = 1<<16 - 1

// CPUSet is an immutable set of non-negative integers. The zero value is the
// empty set.
type CPUSet struct {
	// words is a bitmap without trailing zero words, so that two equal sets
	// always have equal representations.
	words []uint64
}

// New returns the set holding the given members. It panics on a negative
// member or one above MaxCPU, which is a programming error: use Parse for
// user input.
func New(members ...int) CPUSet {
	var b builder
	for _, m := range members {
		if m < 0 || m > MaxCPU {
			panic(fmt.Sprintf("cpuset: member %d out of range 0-%d", m, MaxCPU))
		}
		b.add(m)
	}
	return b.set()
}

// Range returns the set {lo, lo+1, ..., hi}; empty when hi < lo.
func Range(lo, hi int) CPUSet {
	var b builder
	for i := lo; i <= hi; i++ {
		b.add(i)
	}
	return b.set()
}

// builder accumulates members into a bitmap.
type builder struct{ words []uint64 }

func (b *builder) add(m int) {
	w := m / 64
	for len(b.words) <= w {
		b.words = append(b.words, 0)
	}
	b.words[w] |= 1 << (uint(m) % 64)
}

func (b *builder) set() CPUSet { return CPUSet{words: trim(b.words)} }

func trim(w []uint64) []uint64 {
	n := len(w)
	for n > 0 && w[n-1] == 0 {
		n--
	}
	if n == 0 {
		return nil
	}
	return w[:n:n]
}

// Len returns the number of members.
func (s CPUSet) Len() int {
	n := 0
	for _, w := range s.words {
		n += bits.OnesCount64(w)
	}
	return n
}

// IsEmpty reports whether the set has no members.
func (s CPUSet) IsEmpty() bool { return len(s.words) == 0 }

// Contains reports whether m is a member.
func (s CPUSet) Contains(m int) bool {
	if m < 0 || m/64 >= len(s.words) {
		return false
	}
	return s.words[m/64]&(1<<(uint(m)%64)) != 0
}

// Equal reports whether both sets have the same members.
func (s CPUSet) Equal(o CPUSet) bool { return slices.Equal(s.words, o.words) }

// Members returns the members in ascending order.
func (s CPUSet) Members() []int {
	out := make([]int, 0, s.Len())
	for i, w := range s.words {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			out = append(out, i*64+t)
			w &= w - 1
		}
	}
	return out
}

// All iterates over the members in ascending order.
func (s CPUSet) All(yield func(int) bool) {
	for i, w := range s.words {
		for w != 0 {
			t := bits.TrailingZeros64(w)
			if !yield(i*64 + t) {
				return
			}
			w &= w - 1
		}
	}
}

// Min returns the smallest member, and false for the empty set.
func (s CPUSet) Min() (int, bool) {
	for i, w := range s.words {
		if w != 0 {
			return i*64 + bits.TrailingZeros64(w), true
		}
	}
	return 0, false
}

// Max returns the largest member, and false for the empty set.
func (s CPUSet) Max() (int, bool) {
	if len(s.words) == 0 {
		return 0, false
	}
	i := len(s.words) - 1
	return i*64 + 63 - bits.LeadingZeros64(s.words[i]), true
}

// Union returns s ∪ o.
func (s CPUSet) Union(o CPUSet) CPUSet {
	a, b := s.words, o.words
	if len(a) < len(b) {
		a, b = b, a
	}
	out := slices.Clone(a)
	for i, w := range b {
		out[i] |= w
	}
	return CPUSet{words: trim(out)}
}

// Intersection returns s ∩ o.
func (s CPUSet) Intersection(o CPUSet) CPUSet {
	n := min(len(s.words), len(o.words))
	out := make([]uint64, n)
	for i := range n {
		out[i] = s.words[i] & o.words[i]
	}
	return CPUSet{words: trim(out)}
}

// Difference returns s − o.
func (s CPUSet) Difference(o CPUSet) CPUSet {
	out := slices.Clone(s.words)
	for i := range min(len(out), len(o.words)) {
		out[i] &^= o.words[i]
	}
	return CPUSet{words: trim(out)}
}

// IsSubsetOf reports whether every member of s is in o.
func (s CPUSet) IsSubsetOf(o CPUSet) bool {
	for i, w := range s.words {
		if i >= len(o.words) || w&^o.words[i] != 0 {
			return false
		}
	}
	return true
}

// Intersects reports whether s and o share a member.
func (s CPUSet) Intersects(o CPUSet) bool {
	for i := range min(len(s.words), len(o.words)) {
		if s.words[i]&o.words[i] != 0 {
			return true
		}
	}
	return false
}

// With returns s ∪ {m}.
func (s CPUSet) With(m ...int) CPUSet { return s.Union(New(m...)) }

// String formats the set the way Nova's format_cpu_spec does with
// allow_ranges=True: ascending, runs of two or more consecutive members as
// "a-b", separated by commas ("0-3,5,8-9"). The empty set is "".
func (s CPUSet) String() string {
	var sb strings.Builder
	m := s.Members()
	for i := 0; i < len(m); {
		j := i
		for j+1 < len(m) && m[j+1] == m[j]+1 {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&sb, "%d-%d", m[i], m[j])
		} else {
			fmt.Fprintf(&sb, "%d", m[i])
		}
		i = j + 1
	}
	return sb.String()
}

// MarshalJSON writes the set as a sorted JSON array of integers, the form
// the nova-numa-vectors schema uses.
func (s CPUSet) MarshalJSON() ([]byte, error) { return json.Marshal(s.Members()) }

// UnmarshalJSON reads a JSON array of integers (any order, duplicates
// allowed) or null, which is the empty set.
func (s *CPUSet) UnmarshalJSON(data []byte) error {
	var m []int
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("cpuset: want an array of CPU numbers: %w", err)
	}
	var b builder
	for _, v := range m {
		if v < 0 || v > MaxCPU {
			return fmt.Errorf("cpuset: CPU number %d out of range 0-%d", v, MaxCPU)
		}
		b.add(v)
	}
	*s = b.set()
	return nil
}
