// Package cpythontest hands tests the set iteration orders recorded from
// Nova on CPython 3.11 (testdata/set_order.json, written by
// testdata/gen/set_order.py). Package cpython replays every case's program
// of set operations; the packages modelling Nova check their own functions
// against the cases of the Nova code they model, so one table serves both.
package cpythontest

import (
	_ "embed"
	"encoding/json"
	"sync"
	"testing"
)

// Origins of the cases: the Nova expression whose sets a case records.
const (
	// ParseCPUSpec: list(parse_cpu_spec(spec)) as "flavor", and the order
	// of the set ImageMetaProps stores for the same spec as "image".
	// Input: {"spec": string}.
	ParseCPUSpec = "parse_cpu_spec"
	// NUMACellSet: list(set(members)) as "plain", and the order of a
	// NUMACell set field assigned set(members) as "coerced".
	// Input: {"members": []int}.
	NUMACellSet = "numa_cell_set"
	// FreeSiblings: NUMACell.free_pcpus as "free" and each
	// NUMACell.free_siblings[i] as "free_sib<i>".
	// Input: {"pcpus": []int, "pinned": []int, "siblings": [][]int}.
	FreeSiblings = "free_siblings"
	// HostSiblings: the set of sibling tuples _get_host_numa_topology
	// builds from one cell's per-CPU siblings strings, as "groups", and
	// the sorted list of sets it returns as the case's Result.
	// Input: {"siblings": []string}.
	HostSiblings = "host_siblings"
	// Random: programs with no Nova behind them, recorded from CPython
	// alone: seeded random ones (input {}) and a few written for behaviours
	// the other cases miss (input {"about": what they pin down}).
	Random = "cpython"
)

// Case is one recorded case.
type Case struct {
	Origin string `json:"origin"`
	// Input is the Nova-level input, in the form documented for Origin.
	Input json.RawMessage `json:"input"`
	// Ops is the program of set operations that builds the recorded sets:
	// each op is [name, destination, arguments...], as interpreted by
	// run() in testdata/gen/set_order.py.
	Ops [][]json.RawMessage `json:"ops"`
	// Want maps a set of the program to its recorded iteration order: a
	// list of ints, or of lists of ints for a set of tuples.
	Want map[string]json.RawMessage `json:"want"`
	// Result is Nova's final result where it is not a set's order.
	Result json.RawMessage `json:"result,omitempty"`
}

// Table is the decoded set_order.json.
type Table struct {
	Python string `json:"python"`
	Nova   string `json:"nova"`
	Cases  []Case `json:"cases"`
}

//go:embed testdata/set_order.json
var setOrderJSON []byte

var load = sync.OnceValues(func() (Table, error) {
	var t Table
	err := json.Unmarshal(setOrderJSON, &t)
	return t, err
})

// All returns every recorded case.
func All(t testing.TB) []Case {
	t.Helper()
	table, err := load()
	if err != nil {
		t.Fatalf("testdata/set_order.json: %v", err)
	}
	return table.Cases
}

// Cases returns the cases of one origin; it fails the test if there are
// none, so that a test cannot pass by checking nothing.
func Cases(t testing.TB, origin string) []Case {
	t.Helper()
	var out []Case
	for _, c := range All(t) {
		if c.Origin == origin {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no recorded case of origin %q", origin)
	}
	return out
}

// Decode unmarshals raw (an Input, Want entry or Result) into v, failing
// the test on malformed data.
func Decode(t testing.TB, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("recorded case: %v", err)
	}
}
