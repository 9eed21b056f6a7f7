package constraints

import (
	"errors"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
)

// Nova reads extra specs with Python's int(), str.strip(), str.isdigit()
// and oslo's bool_from_string; package cpython has them. What is here is
// this package's own use of them.

// intLimit bounds the integers this package computes with. Python's are
// unbounded; a value beyond ±2^55 is no real CPU count, memory size or
// node count, and the bound keeps sums of up to 128 of them inside int64.
const intLimit = 1 << 55

// pyInt is int(s) for a str, clamped to ±intLimit; the error is
// cpython.ErrInvalidInt, Python's ValueError.
func pyInt(s string) (int64, error) {
	n, err := cpython.Int(s)
	if err != nil && !errors.Is(err, cpython.ErrIntRange) {
		return 0, err
	}
	return max(min(n, intLimit), -intLimit), nil
}

// isIntLike is oslo strutils.is_int_like on a string: str(int(s)) == s,
// i.e. a canonical decimal with no sign other than '-', no leading zero,
// no white space and no "-0".
func isIntLike(s string) bool {
	body := strings.TrimPrefix(s, "-")
	if body == "" || (body[0] == '0' && (len(body) > 1 || len(s) != len(body))) {
		return false
	}
	for i := 0; i < len(body); i++ {
		if body[i] < '0' || body[i] > '9' {
			return false
		}
	}
	return true
}

// pyMod is Python's % for a positive divisor.
func pyMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
