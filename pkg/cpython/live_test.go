package cpython_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
)

// The tests below compare the package with a CPython 3.11 running now, on
// many more random inputs than the recorded table holds. They are skipped
// where no such interpreter is installed.

// python311 returns the path of a CPython 3.11, or skips the test.
func python311(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3.11", "python3"} {
		out, err := exec.Command(p, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])").Output()
		if err == nil && strings.TrimSpace(string(out)) == "cpython 3 11" {
			return p
		}
	}
	t.Skip("no CPython 3.11 to compare with")
	return ""
}

// runPython runs script with input on stdin and decodes its JSON output.
func runPython(t *testing.T, script string, args []string, input, output any) {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python311(t), append([]string{script}, args...)...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(output); err != nil {
		t.Fatal(err)
	}
}

// randomProgram writes a program of set operations over four sets of ints
// or of tuples, drawing members from one of several pools: small CPU-like
// numbers that collide in small tables, wider ranges, negative numbers
// (hash(-1) == hash(-2)) and numbers around 2^61 and 2^63 (hashed modulo
// 2^61-1, so that distinct members share a hash).
func randomProgram(t *testing.T, r *rand.Rand) [][]any {
	pools := []func() int64{
		func() int64 { return r.Int64N(17) },
		func() int64 { return r.Int64N(301) },
		func() int64 { return r.Int64N(5001) },
		func() int64 { return r.Int64N(81) - 40 },
		func() int64 {
			edges := []int64{1<<61 - 1, 1 << 61, 1<<62 + 3, math.MaxInt64 - 2, math.MinInt64 + 2, -1 << 61, -1, -2}
			return edges[r.IntN(len(edges))] + r.Int64N(5) - 2
		},
	}
	pool := pools[r.IntN(len(pools))]
	tuples := r.IntN(5) == 0
	member := func() any {
		if !tuples {
			return pool()
		}
		t := make([]int64, []int{0, 1, 2, 2, 3, 5}[r.IntN(6)])
		for i := range t {
			t[i] = pool()
		}
		return t
	}
	members := func(n int) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = member()
		}
		return out
	}
	mk := "set"
	if tuples {
		mk = "tset"
	}
	// The program is replayed as it is written, so that discards can
	// pick actual members and leave dummies behind.
	m := newMachine()
	var ops [][]any
	emit := func(op ...any) {
		ops = append(ops, op)
		raw, _ := json.Marshal(op)
		var decoded []json.RawMessage
		if err := json.Unmarshal(raw, &decoded); err != nil {
			t.Fatal(err)
		}
		if err := m.step(decoded); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	existing := func(name string) any {
		if s, ok := m.ints[name]; ok && s.Len() > 0 {
			return s.List()[r.IntN(s.Len())]
		}
		if s, ok := m.tuples[name]; ok && s.Len() > 0 {
			return s.List()[r.IntN(s.Len())].Ints()
		}
		return member()
	}
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		emit(mk, n, members([]int{0, 1, 2, 3, 4, 5, 6, 9, 12, 20, 40, 90, 200}[r.IntN(13)]))
	}
	pick := func() string { return names[r.IntN(len(names))] }
	for range 1 + r.IntN(30) {
		dst := pick()
		switch op := []string{"add", "add", "discard", "discard", "copy", "rebuild", "update", "intersection_update",
			"difference_update", "union", "intersection", "difference", "clear", "set", "range"}[r.IntN(15)]; op {
		case "add":
			for range []int{1, 1, 3, 10, 30}[r.IntN(5)] {
				emit(op, dst, member())
			}
		case "discard":
			for range []int{1, 1, 3, 10, 30}[r.IntN(5)] {
				if r.IntN(5) > 0 {
					emit(op, dst, existing(dst))
				} else {
					emit(op, dst, member())
				}
			}
		case "copy", "rebuild", "update", "intersection_update", "difference_update":
			emit(op, dst, pick())
		case "union", "intersection", "difference":
			emit(op, dst, pick(), pick())
		case "clear":
			emit(op, dst)
		case "set":
			emit(mk, dst, members([]int{0, 3, 30, 150}[r.IntN(4)]))
		case "range":
			if !tuples {
				lo := r.Int64N(421) - 20
				emit(op, dst, lo, lo+[]int64{0, 1, 4, 5, 30, 300}[r.IntN(6)])
			}
		}
	}
	return ops
}

func setops(t *testing.T) string {
	return filepath.Join("cpythontest", "testdata", "gen", "setops.py")
}

// checkPrograms replays programs here and in CPython and compares every
// set's final order.
func checkPrograms(t *testing.T, programs [][][]any) {
	t.Helper()
	var got struct {
		Python string
		Orders []map[string]json.RawMessage
	}
	runPython(t, setops(t), nil, programs, &got)
	if len(got.Orders) != len(programs) {
		t.Fatalf("python returned %d results for %d programs", len(got.Orders), len(programs))
	}
	for i, p := range programs {
		raw, _ := json.Marshal(p)
		var ops [][]json.RawMessage
		if err := json.Unmarshal(raw, &ops); err != nil {
			t.Fatal(err)
		}
		m := newMachine()
		if err := m.run(ops); err != nil {
			t.Fatalf("program %d: %v", i, err)
		}
		for name, want := range got.Orders[i] {
			if g, _ := m.order(name); g != compact(want) {
				short := string(raw)
				if len(short) > 2000 {
					short = short[:2000] + "..."
				}
				t.Fatalf("program %d, set %s: got %.300s, CPython %s %.300s\nprogram: %s", i, name, g, got.Python, compact(want), short)
			}
		}
	}
}

func TestSetAgainstCPython(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 11))
	var programs [][][]any
	for range 1500 {
		programs = append(programs, randomProgram(t, r))
	}
	// Discarding most of a set's members: dummies, shrinking tables, the
	// in-place rebuild of the minimum table.
	for n := range 40 {
		ops := [][]any{{"range", "a", 0, n + 1}, {"set", "b", []any{}}}
		for k := range n {
			if r.IntN(4) > 0 {
				ops = append(ops, []any{"discard", "a", k})
			} else {
				ops = append(ops, []any{"add", "b", k})
			}
			if r.IntN(3) == 0 {
				ops = append(ops, []any{"add", "a", k + 7*n})
			}
		}
		ops = append(ops, []any{"copy", "c", "a"}, []any{"difference_update", "b", "a"}, []any{"rebuild", "d", "a"})
		programs = append(programs, ops)
	}
	// Sets past 50000 members grow by doubling rather than quadrupling;
	// s - t with s more than 4 times t copies s; s -= t with t more than 8
	// times s intersects first.
	programs = append(programs, [][]any{
		{"range", "a", 0, 70000}, {"range", "b", 65000, 140000}, {"set", "c", []any{5, 69999, 70001, 131072}},
		{"difference", "d", "a", "c"}, {"difference_update", "c", "b"}, {"intersection", "b", "b", "a"},
	})
	checkPrograms(t, programs)
}

func TestHashAgainstCPython(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	var ints []int64
	var tuples [][]int64
	for range 2000 {
		v := int64(r.Uint64())
		switch r.IntN(4) {
		case 0:
			v >>= r.IntN(64)
		case 1:
			v = []int64{1<<61 - 1, -(1<<61 - 1), math.MaxInt64, math.MinInt64, -1, 0}[r.IntN(6)] + r.Int64N(3) - 1
		}
		ints = append(ints, v)
		tuples = append(tuples, ints[max(0, len(ints)-r.IntN(6)):])
	}
	var got struct{ Ints, Tuples []json.Number }
	script := `import json, sys
d = json.load(sys.stdin)
json.dump({"ints": [hash(v) for v in d["ints"]], "tuples": [hash(tuple(t)) for t in d["tuples"]]}, sys.stdout)`
	runPython(t, "-c", []string{script}, map[string]any{"ints": ints, "tuples": tuples}, &got)
	for i, v := range ints {
		if h := cpython.Hash(v); fmt.Sprint(h) != got.Ints[i].String() {
			t.Errorf("hash(%d) = %d, CPython %s", v, h, got.Ints[i])
		}
	}
	for i, tp := range tuples {
		items := make([]int, len(tp))
		for j, v := range tp {
			items[j] = int(v)
		}
		if h := cpython.Hash(cpython.TupleOf(items...)); fmt.Sprint(h) != got.Tuples[i].String() {
			t.Errorf("hash(%v) = %d, CPython %s", tp, h, got.Tuples[i])
		}
	}
}

// TestStringsAgainstCPython compares int(), str.strip(), str.isdigit(),
// str.isspace() and oslo's bool_from_string with CPython on strings built
// from the characters whose treatment differs between Python and Go.
func TestStringsAgainstCPython(t *testing.T) {
	alphabet := []rune("0123456789_+- \t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u00a0\u1680\u2007\u200b\u2028\u3000" +
		"\u0660\u0663\u06f5\u0967\uff13\U0001d7ce\u00b2\u2460\u00bd\u2155aAeEsStTrRuUyYoOnNİ\u0131K\ufffd")
	r := rand.New(rand.NewPCG(9, 9))
	inputs := []string{"", "0", "-0", "+7", "1_000", "1__0", "_1", "1_", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", strings.Repeat("9", 40), " 12 ",
		"\x1c12", "١٢", " yes ", "\x1ctrue\x1f", "TRUE", "On", "İ", "t"}
	for range 6000 {
		var b strings.Builder
		for range r.IntN(7) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		inputs = append(inputs, b.String())
	}
	// Every code point for isspace and the decimal digits.
	var all []string
	for c := rune(0); c <= utf8.MaxRune; c++ {
		if c >= 0xd800 && c < 0xe000 {
			continue
		}
		all = append(all, string(c))
	}
	script := `import json, sys
try:
    from oslo_utils import strutils
except ImportError:  # compare the rest
    strutils = None
d = json.load(sys.stdin)
def parse(s):
    try:
        return str(int(s))
    except ValueError:
        return None
json.dump({
    "ints": [parse(s) for s in d["inputs"]],
    "strips": [s.strip() for s in d["inputs"]],
    "digits": [s.isdigit() for s in d["inputs"]],
    "bools": strutils and [strutils.bool_from_string(s) for s in d["inputs"]],
    "spaces": "".join(c for c in d["all"] if c.isspace()),
    "decimals": "".join(c for c in d["all"] if c.isdecimal()),
}, sys.stdout)`
	var got struct {
		Ints             []*string
		Strips           []string
		Digits, Bools    []bool
		Spaces, Decimals string
	}
	runPython(t, "-c", []string{script}, map[string]any{"inputs": inputs, "all": all}, &got)
	for i, s := range inputs {
		n, err := cpython.Int(s)
		want := got.Ints[i]
		switch {
		case want == nil && err != cpython.ErrInvalidInt:
			t.Errorf("Int(%+q) = %d, %v; CPython raises ValueError", s, n, err)
		case want != nil && err == cpython.ErrInvalidInt:
			t.Errorf("Int(%+q) fails; CPython reads %s", s, *want)
		case want != nil && err == nil && fmt.Sprint(n) != *want:
			t.Errorf("Int(%+q) = %d, CPython %s", s, n, *want)
		case want != nil && err == cpython.ErrIntRange && (len(*want) < 19 || (n != math.MaxInt64 && n != math.MinInt64)):
			t.Errorf("Int(%+q) = %d, %v; CPython %s", s, n, err, *want)
		}
		if g := cpython.Strip(s); g != got.Strips[i] {
			t.Errorf("Strip(%+q) = %+q, CPython %+q", s, g, got.Strips[i])
		}
		if g := cpython.IsDigit(s); g != got.Digits[i] {
			t.Errorf("IsDigit(%+q) = %v, CPython %v", s, g, got.Digits[i])
		}
		if g := cpython.BoolFromString(s); got.Bools != nil && g != got.Bools[i] {
			t.Errorf("BoolFromString(%+q) = %v, oslo %v", s, g, got.Bools[i])
		}
	}
	var spaces, decimals strings.Builder
	for _, s := range all {
		c, _ := utf8.DecodeRuneInString(s)
		if cpython.IsSpace(c) {
			spaces.WriteRune(c)
		}
		if _, ok := cpython.Decimal(c); ok {
			decimals.WriteRune(c)
		}
	}
	if spaces.String() != got.Spaces {
		t.Errorf("IsSpace accepts %+q, CPython %+q", spaces.String(), got.Spaces)
	}
	if decimals.String() != got.Decimals {
		t.Error("Decimal and str.isdecimal disagree")
	}
}

func TestMain(m *testing.M) {
	// setops.py is addressed relative to the package directory.
	if _, err := os.Stat(filepath.Join("cpythontest", "testdata", "gen", "setops.py")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
