package differential

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/oracle"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
	"github.com/numa-conformance/numa-conformance/pkg/vectors/replay"
)

// Timing compares Nova's and the Go fitter's in-process cost on one group
// of cases (a function, or a host size).
type Timing struct {
	Group string
	Cases int
	// NovaNS and GoNS are medians of per-case times, in nanoseconds. Nova's
	// is the oracle's measurement of the Nova call alone (object
	// construction excluded); Go's is the fitter call alone (JSON decoding
	// excluded).
	NovaNS, GoNS float64
	// Mismatches counts cases where the results differ: a benchmark of a
	// wrong answer is worthless, so the report shows it.
	Mismatches int
}

// Ratio is how many times faster the Go fitter is.
func (t Timing) Ratio() float64 {
	if t.GoNS == 0 {
		return 0
	}
	return t.NovaNS / t.GoNS
}

// Bench times the same cases in Nova and in Go. cases groups cases by a
// label; every case is also checked for equal results.
func Bench(ctx context.Context, judge Judge, groups []string, cases map[string][]Case) ([]Timing, error) {
	var out []Timing
	for _, group := range groups {
		cs := cases[group]
		oc := make([]oracle.Case, len(cs))
		for i, c := range cs {
			oc[i] = oracle.Case{ID: c.ID, Category: c.Category, Function: c.Function, Input: c.Input}
		}
		answers, err := judge.RunAll(ctx, oc)
		if err != nil {
			return nil, err
		}
		t := Timing{Group: group}
		var novaNS, goNS []float64
		for i, a := range answers {
			if a.OracleError != "" || a.ElapsedNS == 0 {
				continue // Nova refused while building its objects: no call to time
			}
			call, err := replay.Prepare(asVector(cs[i], a))
			if err != nil {
				return nil, err
			}
			if o, err := call.Check(); err != nil || !o.Pass {
				t.Mismatches++
			}
			novaNS = append(novaNS, float64(a.ElapsedNS))
			goNS = append(goNS, timeCall(call))
		}
		t.Cases = len(novaNS)
		t.NovaNS, t.GoNS = median(novaNS), median(goNS)
		out = append(out, t)
	}
	return out, nil
}

// timeCall measures one call, repeating it until the total is long enough
// for the clock to be accurate.
func timeCall(c replay.Call) float64 {
	const enough = 200 * time.Microsecond
	n := 1
	for {
		start := time.Now()
		for range n {
			c.Invoke()
		}
		if d := time.Since(start); d >= enough || n >= 1<<16 {
			return float64(d.Nanoseconds()) / float64(n)
		}
		n *= 4
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ByFunction draws n cases and groups them by Nova function.
func (g *Generator) ByFunction(n int) ([]string, map[string][]Case) {
	groups := map[string][]Case{}
	for range n {
		c := g.Next()
		groups[c.Function] = append(groups[c.Function], c)
	}
	names := make([]string, 0, len(groups))
	for k := range groups {
		names = append(names, k)
	}
	sort.Strings(names)
	return names, groups
}

// ScalingCases builds fit_host cases on hosts of the given cell count where
// the guest does not fit, the scheduler's most common answer and the one
// that makes Nova try every permutation of host cells: each host cell has 8
// cores of 2 threads, and the guest has min(cells, 4) cells of which the
// last asks for more memory than any host cell has. n variants differ in
// pinned CPUs and usage.
func ScalingCases(cells, n int) []Case {
	g := NewGenerator(uint64(cells))
	out := make([]Case, n)
	for i := range out {
		var host topology.HostTopology
		for c := range cells {
			var sibs []cpuset.CPUSet
			for core := range 8 {
				cpu := c*8 + core
				sibs = append(sibs, cpuset.New(cpu, cpu+cells*8))
			}
			all := cpuset.CPUSet{}
			for _, s := range sibs {
				all = all.Union(s)
			}
			socket := c / 2
			host.Cells = append(host.Cells, topology.HostCell{
				ID: c, CPUSet: all, PCPUSet: all, PinnedCPUs: g.subset(all, 0.2),
				MemoryMiB: 16384, MemoryUsageMiB: g.rng.IntN(4096), CPUUsage: g.rng.IntN(8),
				Socket: &socket, Siblings: sibs,
				MemPages: []topology.MemPage{{SizeKB: 4, Total: 16384 * 256}, {SizeKB: 2048, Total: 1024}},
			})
		}
		k := min(cells, 4)
		inst := topology.InstanceTopology{}
		for j := range k {
			mem := 1024
			if j == k-1 {
				mem = 32768 // fits nowhere: every permutation is tried
			}
			inst.Cells = append(inst.Cells, topology.InstanceCell{
				ID: j, PCPUSet: cpuset.Range(j*2, j*2+1), MemoryMiB: mem, CPUPolicy: topology.CPUPolicyDedicated,
			})
		}
		raw, _ := json.Marshal(map[string]any{
			"host_topology": host, "instance_topology": inst, "limits": nil,
			"conf": map[string]bool{"packing_host_numa_cells_allocation_strategy": false},
		})
		out[i] = Case{ID: fmt.Sprintf("scale-%d-%d", cells, i), Category: vectors.CategoryFitHost, Function: vectors.FuncFitHost, Input: raw}
	}
	return out
}
