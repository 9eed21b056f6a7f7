package constraints

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestPythonSetOrder checks the CPython set replay against iteration
// orders recorded from Nova's Python (testdata/python_set_order.json):
// list(parse_cpu_spec(spec)) for a flavor mask, and the order of the set
// ImageMetaProps stores for the same spec as hw_numa_cpus.0.
func TestPythonSetOrder(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "python_set_order.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Spec          string
		Flavor, Image []int64
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	unordered := 0
	for _, c := range cases {
		spec, err := parseCPUSpec(c.Spec)
		if err != nil {
			t.Fatalf("%q: %v", c.Spec, err)
		}
		if got := spec.iterationOrder(); !slices.Equal(got, c.Flavor) {
			t.Errorf("%q as a flavor mask: want order %v, got %v", c.Spec, c.Flavor, got)
		}
		spec.rebuilt = true
		if got := spec.iterationOrder(); !slices.Equal(got, c.Image) {
			t.Errorf("%q as an image property: want order %v, got %v", c.Spec, c.Image, got)
		}
		if !slices.IsSorted(c.Flavor) {
			unordered++
		}
	}
	if unordered == 0 {
		t.Error("no case has a non-ascending order; the corpus does not test the replay")
	}
}

func TestPySetLargeFallsBackToAscending(t *testing.T) {
	spec, err := parseCPUSpec("0-300000")
	if err != nil {
		t.Fatal(err)
	}
	got := spec.iterationOrder()
	if len(got) != 300001 || !slices.IsSorted(got) {
		t.Fatalf("want the 300001 members in ascending order, got %d members", len(got))
	}
}
