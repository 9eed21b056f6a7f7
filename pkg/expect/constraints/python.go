package constraints

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Nova reads extra specs with Python's int(), str.strip(), str.isdigit()
// and oslo's bool_from_string. Their corner cases (underscores, Unicode
// digits, which white space counts) decide whether a value is accepted, so
// they are re-implemented here rather than approximated with strconv.

//go:generate /usr/bin/python3 unicode_gen.py

// intLimit bounds the integers this package computes with. Python's are
// unbounded; a value beyond ±2^55 is no real CPU count, memory size or
// node count, and the bound keeps sums of up to 128 of them inside int64.
const intLimit = 1 << 55

// errNotInt stands for the ValueError int() raises.
var errNotInt = errors.New("invalid literal for int() with base 10")

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

// isPySpace is str.isspace for one character.
func isPySpace(r rune) bool { return inRanges(r, pySpaces) }

// pyStrip is str.strip() without arguments.
func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// pyDecimal returns the value of a character str.isdecimal accepts.
func pyDecimal(r rune) (int, bool) {
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

// pyIsDigit is str.isdigit: non-empty and every character a digit, which
// includes superscripts and other digits int() then refuses.
func pyIsDigit(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if _, ok := pyDecimal(r); !ok && !inRanges(r, pyDigitNotDecimal) {
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
	return isPySpace(r)
}

// pyInt is int(s) for a str: optional surrounding white space, an optional
// sign, decimal digits from any script, and single underscores between
// digits. Results are clamped to ±intLimit.
func pyInt(s string) (int64, error) {
	s = strings.TrimFunc(s, intSpace)
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, errNotInt
	}
	var n int64
	prevUnderscore, digits := false, 0
	for i, r := range s {
		if r == '_' {
			if i == 0 || prevUnderscore {
				return 0, errNotInt
			}
			prevUnderscore = true
			continue
		}
		d, ok := pyDecimal(r)
		if !ok || r == utf8.RuneError {
			return 0, errNotInt
		}
		prevUnderscore = false
		digits++
		if n < intLimit {
			n = n*10 + int64(d)
		}
	}
	if prevUnderscore || digits == 0 {
		return 0, errNotInt
	}
	n = min(n, intLimit)
	if neg {
		n = -n
	}
	return n, nil
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

// pyLower is str.lower() as far as comparisons with ASCII words go: Go's
// simple case mapping agrees with Python's full mapping except for U+0130,
// which Python lowers to "i" plus a combining dot.
func pyLower(s string) string {
	if strings.ContainsRune(s, '\u0130') {
		s = strings.ReplaceAll(s, "\u0130", "i\u0307")
	}
	return strings.ToLower(s)
}

// boolFromString is oslo strutils.bool_from_string(s) with its defaults
// (strict=False, default=False): only the true words count as true.
func boolFromString(s string) bool {
	switch pyLower(pyStrip(s)) {
	case "1", "t", "true", "on", "y", "yes":
		return true
	}
	return false
}

// pyMod is Python's % for a positive divisor.
func pyMod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
