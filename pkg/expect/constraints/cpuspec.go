package constraints

import (
	"slices"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
)

// Nova parses CPU masks (hw:cpu_realtime_mask, hw:cpu_dedicated_mask,
// hw:numa_cpus.N, hw_numa_cpus.N) with parse_cpu_spec into Python sets of
// unbounded integers. cpuset.CPUSet caps members at cpuset.MaxCPU, which
// would turn Nova's "not a subset of the vCPUs" errors into parse errors,
// so masks are kept here as interval sets and only the part inside the
// flavor's vCPU range is turned into a CPUSet.

// interval is the closed range [lo, hi].
type interval struct{ lo, hi int64 }

// intSet is a set of non-negative integers as sorted, disjoint,
// non-adjacent intervals.
type intSet []interval

func (s intSet) empty() bool { return len(s) == 0 }

// union returns s ∪ o.
func (s intSet) union(o intSet) intSet {
	all := append(slices.Clone(s), o...)
	slices.SortFunc(all, func(a, b interval) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var out intSet
	for _, iv := range all {
		if n := len(out); n > 0 && iv.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, iv.hi)
			continue
		}
		out = append(out, iv)
	}
	return out
}

// difference returns s − o.
func (s intSet) difference(o intSet) intSet {
	var out intSet
	for _, iv := range s {
		lo := iv.lo
		for _, cut := range o {
			if cut.hi < lo || cut.lo > iv.hi {
				continue
			}
			if cut.lo > lo {
				out = append(out, interval{lo, cut.lo - 1})
			}
			lo = cut.hi + 1
			if lo > iv.hi {
				break
			}
		}
		if lo <= iv.hi {
			out = append(out, interval{lo, iv.hi})
		}
	}
	return out
}

// max returns the largest member; s must not be empty.
func (s intSet) max() int64 { return s[len(s)-1].hi }

// subsetOfRange reports whether s ⊆ range(n).
func (s intSet) subsetOfRange(n int64) bool { return s.empty() || s.max() < n }

// coversRange reports whether range(n) ⊆ s.
func (s intSet) coversRange(n int64) bool {
	return n <= 0 || (len(s) > 0 && s[0].lo == 0 && s[0].hi >= n-1)
}

// equalsRange reports whether s == set(range(n)).
func (s intSet) equalsRange(n int64) bool {
	if n <= 0 {
		return s.empty()
	}
	return len(s) == 1 && s[0].lo == 0 && s[0].hi == n-1
}

// within returns s ∩ range(n) as a CPUSet.
func (s intSet) within(n int64) cpuset.CPUSet {
	var out cpuset.CPUSet
	for _, iv := range s {
		if iv.lo >= n {
			break
		}
		out = out.Union(cpuset.Range(int(iv.lo), int(min(iv.hi, n-1))))
	}
	return out
}

// specOp is one step parse_cpu_spec takes on its Python sets, kept so that
// the set's iteration order can be replayed (see iterationOrder).
type specOp struct {
	exclude bool
	lo, hi  int64
	isRange bool
}

// cpuSpec is a parsed CPU mask: its members and how Python built the set.
type cpuSpec struct {
	members intSet
	ops     []specOp
	// rebuilt is set for image properties: ImageMetaProps coerces the
	// parsed set into a fresh set element by element, which can change the
	// iteration order.
	rebuilt bool
}

// parseCPUSpec is parse_cpu_spec. A malformed element is Nova's Invalid.
func parseCPUSpec(spec string) (cpuSpec, error) {
	var incl, excl intSet
	var ops []specOp
	start := 0
	for i := 0; i <= len(spec); i++ {
		if i < len(spec) && spec[i] != ',' {
			continue
		}
		rule := cpython.Strip(spec[start:i])
		start = i + 1
		if rule == "" {
			continue
		}
		if dash := strings.IndexByte(rule, '-'); dash >= 0 {
			first, second := rule[:dash], rule[dash+1:]
			exclude := false
			if first != "" && first[0] == '^' {
				exclude = true
				first = first[1:]
			}
			lo, err1 := pyInt(cpython.Strip(first))
			hi, err2 := pyInt(cpython.Strip(second))
			if err1 != nil || err2 != nil || lo > hi {
				return cpuSpec{}, nova.Errorf[*nova.Invalid]("Invalid range expression %q", rule)
			}
			ops = append(ops, specOp{exclude: exclude, lo: lo, hi: hi, isRange: true})
			if exclude {
				excl = excl.union(intSet{{lo, hi}})
			} else {
				incl = incl.union(intSet{{lo, hi}})
			}
			continue
		}
		if rule[0] == '^' {
			n, err := pyInt(cpython.Strip(rule[1:]))
			if err != nil {
				return cpuSpec{}, nova.Errorf[*nova.Invalid]("Invalid exclusion expression %q", rule)
			}
			ops = append(ops, specOp{exclude: true, lo: n, hi: n})
			excl = excl.union(intSet{{n, n}})
			continue
		}
		n, err := pyInt(rule)
		if err != nil {
			return cpuSpec{}, nova.Errorf[*nova.Invalid]("Invalid inclusion expression %q", rule)
		}
		ops = append(ops, specOp{lo: n, hi: n})
		incl = incl.union(intSet{{n, n}})
	}
	return cpuSpec{members: incl.difference(excl), ops: ops}, nil
}

// setReplayLimit bounds the work of a replay; bigger sets (which Nova
// itself would build only slowly) fall back to ascending order.
const setReplayLimit = 1 << 18

// iterationOrder returns the members of spec in the order a Python loop
// over Nova's set would visit them, or ascending order when the set is too
// large to replay.
//
// When a manual NUMA cell lists both a vCPU beyond the flavor's count and a
// vCPU an earlier cell already took, _get_numa_topology_manual raises
// whichever it meets first while iterating the set, so the exception class
// depends on CPython's set iteration order, and the set is replayed as
// parse_cpu_spec builds it.
func (spec cpuSpec) iterationOrder() []int64 {
	work := int64(0)
	for _, op := range spec.ops {
		work += op.hi - op.lo + 1
		if work > setReplayLimit {
			return spec.ascending()
		}
	}
	ids, rejects := cpython.NewSet[int64](), cpython.NewSet[int64]()
	for _, op := range spec.ops {
		target := ids
		if op.exclude {
			target = rejects
		}
		if op.isRange {
			target.Update(cpython.RangeSet(op.lo, op.hi+1)) // |= set(range(lo, hi + 1))
		} else {
			target.Add(op.lo)
		}
	}
	ids.DifferenceUpdate(rejects)
	if spec.rebuilt {
		// oslo.versionedobjects' CoercedSet re-adds the members one by one
		// into a fresh set and merges that into the field's empty set.
		ids = ids.Rebuild().Copy()
	}
	return ids.List()
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
