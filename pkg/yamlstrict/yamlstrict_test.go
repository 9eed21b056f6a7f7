package yamlstrict

import "testing"

func TestParseRefusesDuplicateKeys(t *testing.T) {
	_, err := Parse([]byte(`cloud: local
hosts:
  a:
    uri: qemu:///system
    uri: qemu+tcp://a/system
hosts:
  b: {uri: qemu+tcp://b/system}
`))
	dups := Duplicates(err)
	if len(dups) != 2 {
		t.Fatalf("want both duplicates reported, got %v", err)
	}
	if d := dups[0]; d.Key != "hosts" || d.Line != 6 || d.Column != 1 || d.FirstLine != 2 {
		t.Errorf("first: %+v", d)
	}
	if d := dups[1]; d.Key != "uri" || d.Line != 5 || d.Column != 5 || d.FirstLine != 4 || d.FirstColumn != 5 {
		t.Errorf("second: %+v", d)
	}
	if want := `line 6, column 1: key "hosts" given again (first at line 2, column 1)`; err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("message: %v", err)
	}
}

func TestParseAcceptsMergeKeysAndDistinctKeys(t *testing.T) {
	if _, err := Parse([]byte("base: &b {uri: x}\nhosts:\n  a:\n    <<: *b\n    cpu_shared_set: '0-1'\n  b:\n    <<: *b\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte("a: [1, 2\n")); err == nil {
		t.Fatal("a syntax error was accepted")
	}
}

func TestTypeProblemAndKeyOf(t *testing.T) {
	for entry, want := range map[string]string{
		"line 6: cannot unmarshal !!str `four` into int":                 `want an integer, got "four"`,
		"line 3: cannot unmarshal !!str `maybe` into bool":               `want true or false, got "maybe"`,
		"line 9: cannot unmarshal !!map into []string":                   "want a list, got a mapping",
		"line 2: cannot unmarshal !!int `2` into string":                 `want a string (quote numbers: "2"), got "2"`,
		"line 4: cannot unmarshal !!seq `[1, 2]` into map[string]string": "want a mapping, got a list",
		"line 4: something else":                                         "",
	} {
		p, ok := TypeProblem(entry)
		if p.Text != want || ok != (want != "") {
			t.Errorf("TypeProblem(%q) = %q, %v; want %q", entry, p.Text, ok, want)
		}
	}
	doc, err := Parse([]byte("fixtures:\n  - name: a\n    flavor:\n      vcpus: four\n      extra_specs:\n        hw:numa_nodes: 2\n    other: {vcpus: 1, specs: [a]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{Line: 4, Tag: "!!str", Value: "four"}, "fixtures.flavor.vcpus"},
		{Problem{Line: 6, Tag: "!!int", Value: "2"}, "fixtures.flavor.extra_specs.hw:numa_nodes"},
		{Problem{Line: 7, Tag: "!!seq"}, "fixtures.other.specs"},
		{Problem{Line: 7, Tag: "!!bool"}, "fixtures.other"},
		{Problem{Line: 9, Tag: "!!str"}, ""},
	} {
		if got := KeyOf(doc, tc.p); got != tc.want {
			t.Errorf("KeyOf(%+v) = %q; want %q", tc.p, got, tc.want)
		}
	}
}
