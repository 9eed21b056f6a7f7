package constraints

import (
	"slices"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpython/cpythontest"
)

// TestCPUSpecIterationOrder checks parseCPUSpec and iterationOrder against
// the orders recorded from Nova (package cpythontest):
// list(parse_cpu_spec(spec)) for a flavor mask, and the order of the set
// ImageMetaProps stores for the same spec as hw_numa_cpus.0.
func TestCPUSpecIterationOrder(t *testing.T) {
	for _, c := range cpythontest.Cases(t, cpythontest.ParseCPUSpec) {
		var in struct{ Spec string }
		var flavor, image []int64
		cpythontest.Decode(t, c.Input, &in)
		cpythontest.Decode(t, c.Want["flavor"], &flavor)
		cpythontest.Decode(t, c.Want["image"], &image)
		spec, err := parseCPUSpec(in.Spec)
		if err != nil {
			t.Fatalf("%q: %v", in.Spec, err)
		}
		if got := spec.iterationOrder(); !slices.Equal(got, flavor) {
			t.Errorf("%q as a flavor mask: want order %v, got %v", in.Spec, flavor, got)
		}
		spec.rebuilt = true
		if got := spec.iterationOrder(); !slices.Equal(got, image) {
			t.Errorf("%q as an image property: want order %v, got %v", in.Spec, image, got)
		}
	}
}

func TestCPUSpecLargeFallsBackToAscending(t *testing.T) {
	spec, err := parseCPUSpec("0-300000")
	if err != nil {
		t.Fatal(err)
	}
	got := spec.iterationOrder()
	if len(got) != 300001 || !slices.IsSorted(got) {
		t.Fatalf("want the 300001 members in ascending order, got %d members", len(got))
	}
}
