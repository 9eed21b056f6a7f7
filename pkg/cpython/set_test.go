package cpython_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/cpython/cpythontest"
)

// machine replays the op lists of set_order.json with
// cpython.Set, the way setops.py replays it with CPython's own sets.
type machine struct {
	ints   map[string]*cpython.Set[int64]
	tuples map[string]*cpython.Set[cpython.Tuple]
}

func newMachine() *machine {
	return &machine{ints: map[string]*cpython.Set[int64]{}, tuples: map[string]*cpython.Set[cpython.Tuple]{}}
}

// member decodes an int, or a list of ints standing for a tuple.
func member(raw json.RawMessage) (int64, cpython.Tuple, bool, error) {
	var items []int
	if err := json.Unmarshal(raw, &items); err == nil {
		return 0, cpython.TupleOf(items...), true, nil
	}
	var n int64
	err := json.Unmarshal(raw, &n)
	return n, cpython.Tuple{}, false, err
}

func (m *machine) run(ops [][]json.RawMessage) error {
	for _, op := range ops {
		if err := m.step(op); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

func (m *machine) step(op []json.RawMessage) error {
	var name, dst string
	if len(op) < 2 || json.Unmarshal(op[0], &name) != nil || json.Unmarshal(op[1], &dst) != nil {
		return fmt.Errorf("malformed op")
	}
	args := op[2:]
	strArg := func(i int) string {
		var s string
		if i < len(args) {
			_ = json.Unmarshal(args[i], &s)
		}
		return s
	}
	switch name {
	case "set", "tset":
		var items []json.RawMessage
		if err := json.Unmarshal(args[0], &items); err != nil {
			return err
		}
		var ints []int64
		var tuples []cpython.Tuple
		for _, raw := range items {
			n, t, isTuple, err := member(raw)
			if err != nil {
				return err
			}
			if isTuple {
				tuples = append(tuples, t)
			} else {
				ints = append(ints, n)
			}
		}
		delete(m.ints, dst)
		delete(m.tuples, dst)
		if name == "tset" {
			m.tuples[dst] = cpython.NewSet(tuples...)
		} else {
			m.ints[dst] = cpython.NewSet(ints...)
		}
		return nil
	case "range":
		var lo, hi int64
		if json.Unmarshal(args[0], &lo) != nil || json.Unmarshal(args[1], &hi) != nil {
			return fmt.Errorf("bad range")
		}
		delete(m.tuples, dst)
		m.ints[dst] = cpython.RangeSet(lo, hi)
		return nil
	case "add", "discard":
		n, t, isTuple, err := member(args[0])
		if err != nil {
			return err
		}
		if isTuple {
			return memberOp(m.tuples, name, dst, t)
		}
		return memberOp(m.ints, name, dst, n)
	case "add_tuple":
		src, ok := m.ints[strArg(0)]
		dstSet, ok2 := m.tuples[dst]
		if !ok || !ok2 {
			return fmt.Errorf("add_tuple wants a tuple set and an int set")
		}
		var items []int
		for k := range src.All() {
			items = append(items, int(k))
		}
		dstSet.Add(cpython.TupleOf(items...))
		return nil
	}
	if _, ok := m.tuples[strArg(0)]; ok {
		return setOp(m.tuples, name, dst, strArg(0), strArg(1))
	}
	if _, ok := m.tuples[dst]; ok && name == "clear" {
		return setOp(m.tuples, name, dst, "", "")
	}
	if name != "clear" {
		delete(m.tuples, dst)
	}
	return setOp(m.ints, name, dst, strArg(0), strArg(1))
}

func memberOp[K cpython.Key](sets map[string]*cpython.Set[K], name, dst string, k K) error {
	s, ok := sets[dst]
	if !ok {
		return fmt.Errorf("no set %q of that member type", dst)
	}
	if name == "add" {
		s.Add(k)
	} else {
		s.Discard(k)
	}
	return nil
}

func setOp[K cpython.Key](sets map[string]*cpython.Set[K], name, dst, x, y string) error {
	get := func(n string) (*cpython.Set[K], error) {
		s, ok := sets[n]
		if !ok {
			return nil, fmt.Errorf("no set %q", n)
		}
		return s, nil
	}
	a, err := get(x)
	if name == "clear" {
		a, err = get(dst)
	}
	if err != nil {
		return err
	}
	switch name {
	case "copy":
		sets[dst] = a.Copy()
	case "rebuild":
		sets[dst] = a.Rebuild()
	case "clear":
		a.Clear()
	case "update", "intersection_update", "difference_update":
		d, err := get(dst)
		if err != nil {
			return err
		}
		switch name {
		case "update":
			d.Update(a)
		case "intersection_update":
			d.IntersectionUpdate(a)
		default:
			d.DifferenceUpdate(a)
		}
	case "union", "intersection", "difference":
		b, err := get(y)
		if err != nil {
			return err
		}
		switch name {
		case "union":
			sets[dst] = a.Union(b)
		case "intersection":
			sets[dst] = a.Intersection(b)
		default:
			sets[dst] = a.Difference(b)
		}
	default:
		return fmt.Errorf("unknown op %q", name)
	}
	return nil
}

// order renders a set's iteration order as the JSON setops.py writes.
func (m *machine) order(name string) (string, bool) {
	var v any
	if s, ok := m.ints[name]; ok {
		v = s.List()
	} else if s, ok := m.tuples[name]; ok {
		lists := [][]int{}
		for t := range s.All() {
			lists = append(lists, t.Ints())
		}
		v = lists
	} else {
		return "", false
	}
	b, _ := json.Marshal(v)
	if string(b) == "null" {
		b = []byte("[]")
	}
	return string(b), true
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	_ = json.Compact(&b, raw)
	return b.String()
}

// TestRecordedOrders replays every program of the recorded table (Nova's
// sets and the random CPython programs) and compares each named set's
// iteration order with the one recorded.
func TestRecordedOrders(t *testing.T) {
	counts := map[string]int{}
	for i, c := range cpythontest.All(t) {
		m := newMachine()
		if err := m.run(c.Ops); err != nil {
			t.Fatalf("case %d (%s): %v", i, c.Origin, err)
		}
		for name, want := range c.Want {
			got, ok := m.order(name)
			if !ok {
				t.Fatalf("case %d (%s): the program builds no set %q", i, c.Origin, name)
			}
			if w := compact(want); got != w {
				t.Errorf("case %d (%s %s): %s iterates as %s, CPython %s", i, c.Origin, c.Input, name, got, w)
			}
		}
		counts[c.Origin]++
	}
	for _, origin := range []string{cpythontest.ParseCPUSpec, cpythontest.NUMACellSet, cpythontest.FreeSiblings, cpythontest.HostSiblings, cpythontest.Random} {
		if counts[origin] == 0 {
			t.Errorf("no recorded case of origin %s", origin)
		}
	}
	// A table of ascending orders would not test the replay at all.
	unordered := 0
	for _, c := range cpythontest.Cases(t, cpythontest.ParseCPUSpec) {
		var flavor []int
		cpythontest.Decode(t, c.Want["flavor"], &flavor)
		if !slices.IsSorted(flavor) {
			unordered++
		}
	}
	if unordered == 0 {
		t.Error("every recorded parse_cpu_spec order is ascending")
	}
}

func TestSetBasics(t *testing.T) {
	var zero cpython.Set[int] // set()
	if zero.Len() != 0 || zero.Contains(3) || zero.Discard(3) || len(zero.List()) != 0 {
		t.Fatal("the zero Set is not an empty set")
	}
	zero.Add(8)
	zero.Add(2)
	if got := zero.List(); !slices.Equal(got, []int{8, 2}) {
		t.Errorf("set() then add 8, 2: got %v, CPython [8, 2]", got)
	}
	s := cpython.NewSet(0, 8)
	s.Discard(0)
	s.Add(16) // reuses the dummy left by 0
	if got := s.List(); !slices.Equal(got, []int{16, 8}) {
		t.Errorf("{0, 8} - 0 + 16: got %v, CPython [16, 8]", got)
	}
	var seen []int
	for k := range cpython.NewSet(1, 2, 3).All() {
		seen = append(seen, k)
		if k == 2 {
			break
		}
	}
	if !slices.Equal(seen, []int{1, 2}) {
		t.Errorf("breaking out of All: got %v", seen)
	}
	u := cpython.NewSet(5, 6)
	if got := u.Union(u).List(); !slices.Equal(got, []int{5, 6}) {
		t.Errorf("s | s: got %v", got)
	}
	u.DifferenceUpdate(u)
	if u.Len() != 0 {
		t.Errorf("s -= s left %v", u.List())
	}
	e := cpython.NewSet[int]()
	e.Extend(3, 11)
	if got := e.List(); !slices.Equal(got, []int{11, 3}) {
		t.Errorf("set().update([3, 11]): got %v, CPython [11, 3]", got)
	}
}

func TestHash(t *testing.T) {
	// Values printed by CPython 3.11 on x86-64.
	for _, c := range []struct {
		k    int64
		want int64
	}{
		{0, 0}, {7, 7}, {-1, -2}, {-2, -2}, {-7, -7}, {1<<61 - 1, 0}, {1 << 61, 1},
		{1<<63 - 1, 3}, {-1 << 63, -4}, {-(1<<61 - 1), 0}, {-(1 << 61), -1 - 1},
	} {
		if got := cpython.Hash(c.k); got != c.want {
			t.Errorf("hash(%d) = %d, CPython %d", c.k, got, c.want)
		}
	}
	for _, c := range []struct {
		t    cpython.Tuple
		want int64
	}{
		{cpython.TupleOf(), 5740354900026072187},
		{cpython.TupleOf(1, 2), -3550055125485641917},
		{cpython.TupleOf(-1), 8078679518589016365},
	} {
		if got := cpython.Hash(c.t); got != c.want {
			t.Errorf("hash(%v) = %d, CPython %d", c.t, got, c.want)
		}
	}
	if got := cpython.Hash(3); got != 3 {
		t.Errorf("hash of a Go int 3 = %d", got)
	}
	tp := cpython.TupleOf(3, -5, 1<<62)
	if tp.Len() != 3 || tp.At(1) != -5 || !slices.Equal(tp.Ints(), []int{3, -5, 1 << 62}) {
		t.Errorf("TupleOf(3, -5, 2**62) reads back as %v", tp.Ints())
	}
	if s := fmt.Sprint(cpython.TupleOf(4), cpython.TupleOf(), tp); s != "(4,) () (3, -5, 4611686018427387904)" {
		t.Errorf("tuple reprs: %s", s)
	}
	if strings.Contains(fmt.Sprint(cpython.TupleOf(1)), "packed") {
		t.Error("Tuple does not print as a tuple")
	}
}
