package cpython

import (
	"errors"
	"math"
	"strings"
)

// Nova reads extra specs, image properties and configuration with Python's
// int(), str.strip(), str.isdigit() and oslo's bool_from_string. Their
// corner cases (underscores, Unicode digits, which white space counts)
// decide whether a value is accepted, so they are re-implemented here
// rather than approximated with strconv and Go's unicode package.

//go:generate /usr/bin/python3 unicode_gen.py

// ErrInvalidInt stands for the ValueError int() raises on a string that is
// not a base-10 integer.
var ErrInvalidInt = errors.New("invalid literal for int() with base 10")

// ErrIntRange reports a string int() reads fine but whose value does not
// fit in an int64; Int then returns the nearest int64, as strconv does.
// Python's ints are unbounded, so whether that is an error is the caller's
// decision.
var ErrIntRange = errors.New("int() result out of int64 range")

func inRanges(r rune, ranges [][2]rune) bool {
	for _, rg := range ranges {
		if r < rg[0] {
			return false
		}
		if r <= rg[1] {
			return true
		}
	}
	return false
}

// IsSpace is str.isspace for one character. Unlike unicode.IsSpace it
// includes the ASCII separators U+001C-U+001F.
func IsSpace(r rune) bool { return inRanges(r, pySpaces) }

// Strip is str.strip() without arguments.
func Strip(s string) string { return strings.TrimFunc(s, IsSpace) }

// Decimal returns the value of a character str.isdecimal accepts, which is
// what int() reads as a digit: ASCII digits and those of every other script.
func Decimal(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < 0x80 {
		return 0, false
	}
	// pyDecimalZeros is sorted; find the last run starting at or before r.
	lo, hi := 0, len(pyDecimalZeros)
	for lo < hi {
		mid := (lo + hi) / 2
		if pyDecimalZeros[mid] <= r {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, false
	}
	if d := r - pyDecimalZeros[lo-1]; d < 10 {
		return int(d), true
	}
	return 0, false
}

// IsDigit is str.isdigit: non-empty and every character a digit, which
// includes superscripts and other digits int() then refuses.
func IsDigit(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if _, ok := Decimal(r); !ok && !inRanges(r, pyDigitNotDecimal) {
			return false
		}
	}
	return true
}

// intSpace reports the white space int() skips around a number: ASCII
// " \t\n\v\f\r" and every non-ASCII str.isspace character, but not the
// ASCII separators \x1c-\x1f that str.strip() would remove.
func intSpace(r rune) bool {
	if r < 0x80 {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return IsSpace(r)
}

// Int is int(s) for a str: optional surrounding white space, an optional
// sign, decimal digits from any script, and single underscores between
// digits. The error is ErrInvalidInt where Python raises ValueError, and
// ErrIntRange (with the value saturated) where Python would return an int
// beyond int64.
func Int(s string) (int64, error) {
	s = strings.TrimFunc(s, intSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, ErrInvalidInt
	}
	// The magnitude is accumulated up to 2^63, the largest any int64
	// (math.MinInt64) needs; past it only the syntax is still checked.
	const maxMagnitude = 1 << 63
	var n uint64
	prevUnderscore := false
	for i, r := range s {
		if r == '_' {
			if i == 0 || prevUnderscore {
				return 0, ErrInvalidInt
			}
			prevUnderscore = true
			continue
		}
		d, ok := Decimal(r)
		if !ok {
			return 0, ErrInvalidInt
		}
		prevUnderscore = false
		if n <= (maxMagnitude-uint64(d))/10 {
			n = n*10 + uint64(d)
		} else {
			n = maxMagnitude + 1
		}
	}
	if prevUnderscore {
		return 0, ErrInvalidInt
	}
	switch {
	case neg && n > maxMagnitude:
		return math.MinInt64, ErrIntRange
	case neg:
		return -int64(n), nil // n == 2^63 wraps to math.MinInt64, as wanted
	case n > math.MaxInt64:
		return math.MaxInt64, ErrIntRange
	}
	return int64(n), nil
}

// Lower is str.lower() as far as comparisons with ASCII words go: Go's
// simple case mapping agrees with Python's full mapping except for U+0130,
// which Python lowers to "i" plus a combining dot.
func Lower(s string) string {
	if strings.ContainsRune(s, '\u0130') {
		s = strings.ReplaceAll(s, "\u0130", "i\u0307")
	}
	return strings.ToLower(s)
}

// BoolFromString is oslo.utils' strutils.bool_from_string(s) with its
// defaults (strict=False, default=False): only the true words count as
// true. It is not CPython, but it is nothing more than Strip and Lower, and
// both flavor extra specs and Glance's FlexibleBoolean image properties are
// read with it.
func BoolFromString(s string) bool {
	switch Lower(Strip(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}
