package cpuset

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestParseNovaGrammar(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want []int
	}{
		{"", nil},
		{"1", []int{1}},
		{"0-3", []int{0, 1, 2, 3}},
		{"0-3,^2,5", []int{0, 1, 3, 5}},
		{"^2,0-3", []int{0, 1, 3}}, // exclusions apply after all inclusions
		{"0-7,^2-4", []int{0, 1, 5, 6, 7}},
		{" 1 , 2 - 3 ,,", []int{1, 2, 3}},
		{"1,1,1", []int{1}},
		{"+3", []int{3}},   // Python int() takes a sign
		{"1_0", []int{10}}, // and underscores between digits
		{"0--0", []int{0}}, // "0" .. int("-0")
		{"^1", nil},        // only an exclusion: empty
		{"3-3", []int{3}},
		{"\t4\n", []int{4}},
		{"\u0663,\u00a04-5\x1c", []int{3, 4, 5}}, // int() reads every script's digits; strip() all white space
	} {
		got, err := Parse(tc.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		if !slices.Equal(got.Members(), tc.want) && !(len(tc.want) == 0 && got.IsEmpty()) {
			t.Errorf("Parse(%q) = %v, want %v", tc.spec, got.Members(), tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{
		"a", "1-", "-1", "3-1", "^", "^a", "1-2-3", "1__0", "_1", "1_", "0-99999999999", "1.5", "^-3", "1,x",
	} {
		_, err := Parse(spec)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q): got %v, want *ParseError", spec, err)
			continue
		}
		if pe.Spec != spec {
			t.Errorf("Parse(%q): error names spec %q", spec, pe.Spec)
		}
	}
}

func TestStringUsesRanges(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 1, 2, 3, 5, 8, 9, 64, 65, 130}, "0-3,5,8-9,64-65,130"},
	} {
		if got := New(tc.in...).String(); got != tc.want {
			t.Errorf("New(%v).String() = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSetAlgebra(t *testing.T) {
	a, b := MustParse("0-5,64-66"), MustParse("4-9,66,200")
	check := func(name string, got CPUSet, want string) {
		t.Helper()
		if !got.Equal(MustParse(want)) {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	check("union", a.Union(b), "0-9,64-66,200")
	check("intersection", a.Intersection(b), "4-5,66")
	check("difference", a.Difference(b), "0-3,64-65")
	check("difference to empty", a.Difference(a), "")
	if a.Intersection(MustParse("100")).Len() != 0 || !a.Intersection(MustParse("100")).Equal(CPUSet{}) {
		t.Error("an empty result must equal the zero set")
	}
	if !MustParse("4,66").IsSubsetOf(a) || MustParse("4,67").IsSubsetOf(a) {
		t.Error("IsSubsetOf wrong")
	}
	if !a.Intersects(b) || a.Intersects(MustParse("300")) {
		t.Error("Intersects wrong")
	}
	if lo, _ := b.Min(); lo != 4 {
		t.Errorf("Min = %d", lo)
	}
	if hi, _ := b.Max(); hi != 200 {
		t.Errorf("Max = %d", hi)
	}
	if a.Len() != 9 {
		t.Errorf("Len = %d", a.Len())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var s CPUSet
	if err := json.Unmarshal([]byte(`[3,1,2,2]`), &s); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(s)
	if string(out) != `[1,2,3]` {
		t.Errorf("marshal = %s", out)
	}
	if err := json.Unmarshal([]byte(`null`), &s); err != nil || !s.IsEmpty() {
		t.Errorf("null should be the empty set, got %v %v", s, err)
	}
	if err := json.Unmarshal([]byte(`[-1]`), &s); err == nil {
		t.Error("negative CPU accepted")
	}
	if err := json.Unmarshal([]byte(`"0-3"`), &s); err == nil {
		t.Error("a string accepted where an array is expected")
	}
}

// FuzzParse checks the parser never panics, that every accepted list
// formats to a canonical string that parses back to the same set, and that
// rejected lists come with a *ParseError.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0-3,^2,5", "", ",", "^", "1-", "0-65535", "65536", "1_2", " +7 ", "0--0", "^0-3,0-7", "3-1", "\x00", "9999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error %T is not *ParseError", spec, err)
			}
			return
		}
		back, err := Parse(s.String())
		if err != nil || !back.Equal(s) {
			t.Fatalf("Parse(%q) = %s, which does not round-trip: %v %v", spec, s, back, err)
		}
	})
}
