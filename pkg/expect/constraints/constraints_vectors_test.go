package constraints

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

type vectorInput struct {
	Flavor       topology.Flavor     `json:"flavor"`
	ImageProps   topology.ImageProps `json:"image_props"`
	AllowThreads *bool               `json:"allow_threads"`
}

// wantCell is an INSTANCE_CELL as the vectors write it; nulls decode to
// zero values, which is what "unset" means for every field compared here.
type wantCell struct {
	ID              *int          `json:"id"`
	CPUSet          cpuset.CPUSet `json:"cpuset"`
	PCPUSet         cpuset.CPUSet `json:"pcpuset"`
	Memory          int           `json:"memory"`
	PageSize        *int          `json:"pagesize"`
	CPUPolicy       *string       `json:"cpu_policy"`
	CPUThreadPolicy *string       `json:"cpu_thread_policy"`
}

type wantTopology struct {
	Cells                 []wantCell `json:"cells"`
	EmulatorThreadsPolicy *string    `json:"emulator_threads_policy"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// topologyDiff compares a numa_get_constraints result semantically: sets
// as sets (null = empty), ids, memory, page size and policies exactly.
// It returns "" when they agree.
func topologyDiff(want *wantTopology, got *topology.InstanceTopology) string {
	switch {
	case want == nil && got == nil:
		return ""
	case want == nil:
		return fmt.Sprintf("want None, got %+v", *got)
	case got == nil:
		return fmt.Sprintf("want %+v, got None", *want)
	}
	if w, g := deref(want.EmulatorThreadsPolicy), string(got.EmulatorThreadsPolicy); w != g {
		return fmt.Sprintf("emulator_threads_policy: want %q, got %q", w, g)
	}
	if len(want.Cells) != len(got.Cells) {
		return fmt.Sprintf("want %d cells, got %d", len(want.Cells), len(got.Cells))
	}
	for i, w := range want.Cells {
		g := got.Cells[i]
		if deref(w.ID) != g.ID || !w.CPUSet.Equal(g.CPUSet) || !w.PCPUSet.Equal(g.PCPUSet) ||
			w.Memory != g.MemoryMiB || deref(w.PageSize) != g.PageSizeKB ||
			deref(w.CPUPolicy) != string(g.CPUPolicy) || deref(w.CPUThreadPolicy) != string(g.CPUThreadPolicy) {
			return fmt.Sprintf("cell %d: want id=%d cpuset=%v pcpuset=%v memory=%d pagesize=%d policy=%q thread=%q, got %+v",
				i, deref(w.ID), w.CPUSet, w.PCPUSet, w.Memory, deref(w.PageSize), deref(w.CPUPolicy), deref(w.CPUThreadPolicy), g)
		}
	}
	return ""
}

// checkOutcome compares an error (or its absence) with the vector's
// expectation and, on success, unmarshals the expected result into want.
// It reports whether the caller should go on to compare results.
func checkOutcome(t *testing.T, v vectors.Vector, err error, want any) bool {
	t.Helper()
	if v.Expect.Error != "" {
		if got := nova.ClassOf(err); got != v.Expect.Error {
			t.Fatalf("want %s, got error %v (class %q)", v.Expect.Error, err, got)
		}
		return false
	}
	if err != nil {
		t.Fatalf("want result %s, got error %v", v.Expect.Result, err)
	}
	if err := json.Unmarshal(v.Expect.Result, want); err != nil {
		t.Fatalf("decoding expected result: %v", err)
	}
	return true
}

func TestPublicVectors(t *testing.T) {
	counts := runVectorFile(t, vectors.PublicFile())
	for _, name := range []string{
		vectors.FuncGetConstraints, vectors.FuncCPUPolicy, vectors.FuncRealtimeCPUs,
		vectors.FuncPageSize, vectors.FuncDesirableCPUTopologies, vectors.FuncBestCPUTopology,
	} {
		if counts[name] == 0 {
			t.Errorf("no public vector for %s", name)
		}
	}
}

// TestDifferentialVectors replays testdata/nova_differential.json: inputs
// chosen to reach every branch (broken values included) and the data-driven
// cases of Nova's own test_hardware.py, each run through Nova 26.2.2 itself.
// See testdata/gen/README.md for how it is produced.
func TestDifferentialVectors(t *testing.T) {
	runVectorFile(t, filepath.Join("testdata", "nova_differential.json"))
}

// runVectorFile runs every vector of the functions this package implements
// as a subtest and returns how many there were per function.
func runVectorFile(t *testing.T, path string) map[string]int {
	f, err := vectors.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	run := map[string]func(t *testing.T, v vectors.Vector, in vectorInput){
		vectors.FuncGetConstraints: func(t *testing.T, v vectors.Vector, in vectorInput) {
			got, err := Get(in.Flavor, in.ImageProps)
			var want *wantTopology
			if checkOutcome(t, v, err, &want) {
				if d := topologyDiff(want, got); d != "" {
					t.Fatal(d)
				}
			}
		},
		vectors.FuncCPUPolicy: func(t *testing.T, v vectors.Vector, in vectorInput) {
			got, err := CPUPolicy(in.Flavor, in.ImageProps)
			var want *string
			if checkOutcome(t, v, err, &want) && deref(want) != string(got) {
				t.Fatalf("want %q, got %q", deref(want), got)
			}
		},
		vectors.FuncRealtimeCPUs: func(t *testing.T, v vectors.Vector, in vectorInput) {
			got, ok, err := RealtimeCPUs(in.Flavor, in.ImageProps)
			var want *cpuset.CPUSet
			if checkOutcome(t, v, err, &want) {
				if (want != nil) != ok || (ok && !want.Equal(got)) {
					t.Fatalf("want %v, got %v (ok=%t)", want, got, ok)
				}
			}
		},
		vectors.FuncPageSize: func(t *testing.T, v vectors.Vector, in vectorInput) {
			// Compare Nova's own number: PageSize truncates "1.5KB" to 1 the
			// way an instance cell does, the function itself returns 1.5.
			got, ok, err := PageSizeValue(in.Flavor, in.ImageProps)
			var want *float64
			if checkOutcome(t, v, err, &want) && ((want != nil) != ok || deref(want) != got) {
				t.Fatalf("want %v, got %v (ok=%t)", deref(want), got, ok)
			}
			if err == nil {
				if trunc, err := PageSize(in.Flavor, in.ImageProps); err != nil || trunc != int(got) {
					t.Fatalf("PageSize: want %d, got %d, %v", int(got), trunc, err)
				}
			}
		},
		vectors.FuncDesirableCPUTopologies: func(t *testing.T, v vectors.Vector, in vectorInput) {
			got, err := DesirableCPUTopologies(in.Flavor, in.ImageProps, in.AllowThreads == nil || *in.AllowThreads)
			var want []topology.GuestCPUTopology
			if checkOutcome(t, v, err, &want) && !slices.Equal(want, got) {
				t.Fatalf("want %v,\n got %v", want, got)
			}
		},
		vectors.FuncBestCPUTopology: func(t *testing.T, v vectors.Vector, in vectorInput) {
			got, err := BestCPUTopology(in.Flavor, in.ImageProps, in.AllowThreads == nil || *in.AllowThreads)
			var want topology.GuestCPUTopology
			if checkOutcome(t, v, err, &want) && want != got {
				t.Fatalf("want %v, got %v", want, got)
			}
		},
	}
	counts := map[string]int{}
	for _, v := range f.Vectors {
		fn, ok := run[v.Function]
		if !ok {
			continue
		}
		counts[v.Function]++
		t.Run(v.ID, func(t *testing.T) {
			var in vectorInput
			if err := json.Unmarshal(v.Input, &in); err != nil {
				t.Fatalf("decoding input: %v", err)
			}
			fn(t, v, in)
		})
	}
	return counts
}
