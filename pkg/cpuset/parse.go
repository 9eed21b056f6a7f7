package cpuset

import (
	"errors"
	"fmt"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
)

// ParseError reports a CPU list that Nova's parse_cpu_spec would reject
// (Nova raises exception.Invalid for all of these).
type ParseError struct {
	Spec   string // the whole list as given
	Rule   string // the comma-separated element at fault
	Reason string // what was expected
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid CPU list %q: element %q: %s", e.Spec, e.Rule, e.Reason)
}

// Parse reads a CPU list in Nova's grammar (nova/virt/hardware.py
// parse_cpu_spec): comma-separated elements, each a number "5", a range
// "2-7", or an exclusion "^3" / "^2-4" applied after all inclusions.
// White space around elements and numbers is ignored, empty elements are
// skipped, and numbers follow Python's int(): an optional sign and
// underscores between digits are accepted. A range whose start exceeds its
// end is an error; so is anything that is not a number.
func Parse(spec string) (CPUSet, error) {
	var incl, excl builder
	for _, raw := range strings.Split(spec, ",") {
		rule := cpython.Strip(raw)
		if rule == "" {
			continue
		}
		bad := func(reason string) (CPUSet, error) {
			return CPUSet{}, &ParseError{Spec: spec, Rule: rule, Reason: reason}
		}
		if lo, hi, ok := strings.Cut(rule, "-"); ok {
			target := &incl
			if strings.HasPrefix(lo, "^") {
				target = &excl
				lo = lo[1:]
			}
			start, err1 := pyInt(lo)
			end, err2 := pyInt(hi)
			if err1 != nil || err2 != nil {
				return bad("want a range of two CPU numbers, like 2-5")
			}
			if start > end {
				return bad("range start is greater than its end")
			}
			if start < 0 || end > MaxCPU {
				return bad(fmt.Sprintf("CPU numbers must lie in 0-%d", MaxCPU))
			}
			for i := start; i <= end; i++ {
				target.add(i)
			}
			continue
		}
		target, num := &incl, rule
		if rule[0] == '^' {
			target, num = &excl, rule[1:]
		}
		n, err := pyInt(num)
		if err != nil {
			return bad("want a CPU number")
		}
		if n < 0 || n > MaxCPU {
			return bad(fmt.Sprintf("CPU numbers must lie in 0-%d", MaxCPU))
		}
		target.add(n)
	}
	return incl.set().Difference(excl.set()), nil
}

// MustParse is Parse for constants in code and tests; it panics on error.
func MustParse(spec string) CPUSet {
	s, err := Parse(spec)
	if err != nil {
		panic(err)
	}
	return s
}

// pyInt is int(s.strip()), which is how parse_cpu_spec reads every
// number. A value beyond int64 comes back saturated rather than as an
// error, so that the caller reports it as out of range, as it is.
func pyInt(s string) (int, error) {
	n, err := cpython.Int(cpython.Strip(s))
	if err != nil && !errors.Is(err, cpython.ErrIntRange) {
		return 0, err
	}
	return int(n), nil
}
