package fitter

import (
	"encoding/json"

	"github.com/numa-conformance/numa-conformance/pkg/vectors"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// smtHost builds a legacy-configured host (cpuset == pcpuset): cells cells
// of cores cores with two threads each, sibling pairs (c, c+stride), 4 KiB
// and 2 MiB pages. pinnedEvery pins one core in every that many cores
// (0: nothing pinned).
func smtHost(cells, cores, stride, pinnedEvery int) topology.HostTopology {
	var h topology.HostTopology
	for i := range cells {
		var all []int
		var sibs []cpuset.CPUSet
		var pinned []int
		for c := range cores {
			cpu := i*cores + c
			all = append(all, cpu, cpu+stride)
			sibs = append(sibs, cpuset.New(cpu, cpu+stride))
			if pinnedEvery > 0 && c%pinnedEvery == 0 {
				pinned = append(pinned, cpu, cpu+stride)
			}
		}
		set := cpuset.New(all...)
		h.Cells = append(h.Cells, topology.HostCell{
			ID: i, CPUSet: set, PCPUSet: set, PinnedCPUs: cpuset.New(pinned...),
			MemoryMiB: 65536, MemoryUsageMiB: 1024 * (i % 3), CPUUsage: i % 4,
			Siblings: sibs,
			MemPages: []topology.MemPage{
				{SizeKB: 4, Total: 65536 * 128},
				{SizeKB: 2048, Total: 16384, Used: 1024 * (i % 2)},
			},
		})
	}
	return h
}

// guest builds an instance with cells cells of vcpus vCPUs and memMiB each.
func guest(cells, vcpus, memMiB int, policy topology.CPUPolicy, thread topology.ThreadPolicy, emu topology.EmulatorThreadsPolicy, pagesize int) topology.InstanceTopology {
	t := topology.InstanceTopology{EmulatorThreadsPolicy: emu}
	for i := range cells {
		c := topology.InstanceCell{ID: i, MemoryMiB: memMiB, PageSizeKB: pagesize, CPUPolicy: policy, CPUThreadPolicy: thread}
		cpus := cpuset.Range(i*vcpus, (i+1)*vcpus-1)
		if policy == topology.CPUPolicyDedicated {
			c.PCPUSet = cpus
		} else {
			c.CPUSet = cpus
		}
		t.Cells = append(t.Cells, c)
	}
	return t
}

var benchSink *topology.InstanceTopology

func benchFit(b *testing.B, host topology.HostTopology, inst topology.InstanceTopology, limits *topology.Limits, wantFit bool) {
	b.Helper()
	got, err := FitInstance(host, inst, limits, Options{})
	if err != nil || (got != nil) != wantFit {
		b.Fatalf("FitInstance = %v, %v; want fit %v", got, err, wantFit)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		benchSink, _ = FitInstance(host, inst, limits, Options{})
	}
}

// BenchmarkFitInstance8x16Siblings: 8 cells x 16 CPUs (8 cores x 2
// threads, sibling stride 100, not a multiple of 8, so CPython's set order matters), one core in
// four already pinned.
func BenchmarkFitInstance8x16Siblings(b *testing.B) {
	host := smtHost(8, 8, 100, 4)
	limits := &topology.Limits{CPUAllocationRatio: 4, RAMAllocationRatio: 1.5}
	b.Run("shared-2cells", func(b *testing.B) {
		benchFit(b, host, guest(2, 4, 4096, "", "", "", 0), limits, true)
	})
	b.Run("dedicated-4cells-prefer-hugepages", func(b *testing.B) {
		benchFit(b, host, guest(4, 4, 2048, topology.CPUPolicyDedicated, "", "", topology.PageSizeLarge), limits, true)
	})
	b.Run("dedicated-4cells-isolate-emu-isolate", func(b *testing.B) {
		benchFit(b, host, guest(4, 2, 2048, topology.CPUPolicyDedicated, topology.ThreadPolicyIsolate, topology.EmulatorThreadsIsolate, 0), limits, true)
	})
}

// BenchmarkFit16Cells: 16 host cells, 4 guest cells. "first" fits on the
// first permutation; "none" has a last guest cell that fits nowhere, so
// all 43680 permutations are walked (Nova does the same, with its caches).
func BenchmarkFit16Cells(b *testing.B) {
	host := smtHost(16, 8, 16*8, 0)
	b.Run("first", func(b *testing.B) {
		benchFit(b, host, guest(4, 4, 2048, topology.CPUPolicyDedicated, topology.ThreadPolicyRequire, "", 0), nil, true)
	})
	// Host cell ids 100-115 never collide with guest cell ids 0-3, so
	// Nova's id-keyed cache cannot mistake one guest cell for another and
	// every permutation is tried.
	offset := host.Clone()
	for i := range offset.Cells {
		offset.Cells[i].ID += 100
	}
	b.Run("none-all-permutations", func(b *testing.B) {
		inst := guest(4, 4, 2048, topology.CPUPolicyDedicated, "", "", 0)
		inst.Cells[3].MemoryMiB = 70000
		benchFit(b, offset, inst, nil, false)
	})
	b.Run("none-all-permutations-shared", func(b *testing.B) {
		inst := guest(4, 4, 2048, "", "", "", 0)
		inst.Cells[3].CPUSet = cpuset.Range(100, 140)
		benchFit(b, offset, inst, nil, false)
	})
	// With ids 0-15 the same request "fits": guest cell 0, renamed 3
	// after landing on host cell 3, leaves (host 0, id 3) in Nova's fit
	// cache, which guest cell 3 later hits. Nova returns that bogus
	// placement, and so does the fitter.
	b.Run("cache-crosstalk", func(b *testing.B) {
		inst := guest(4, 4, 2048, topology.CPUPolicyDedicated, "", "", 0)
		inst.Cells[3].MemoryMiB = 70000
		benchFit(b, host, inst, nil, true)
	})
}

func BenchmarkUsage8x16(b *testing.B) {
	host := smtHost(8, 8, 100, 4)
	inst, err := FitInstance(host, guest(4, 4, 2048, topology.CPUPolicyDedicated, topology.ThreadPolicyIsolate, topology.EmulatorThreadsIsolate, 2048), nil, Options{})
	if err != nil || inst == nil {
		b.Fatal(inst, err)
	}
	b.ReportAllocs()
	for range b.N {
		if _, err := Usage(host, *inst, false, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFitCell(b *testing.B) {
	host := smtHost(1, 8, 100, 4).Cells[0]
	inst := guest(1, 4, 2048, topology.CPUPolicyDedicated, "", "", 0).Cells[0]
	limits := &topology.Limits{CPUAllocationRatio: 4, RAMAllocationRatio: 1.5}
	if got, err := FitCell(host, inst, limits, 1, Options{}); got == nil || err != nil {
		b.Fatal(got, err)
	}
	b.ReportAllocs()
	for range b.N {
		FitCell(host, inst, limits, 1, Options{})
	}
}

// BenchmarkRecordedFitHost runs every fit_host case recorded from Nova (a
// mix of small random hosts and guests) once per iteration.
func BenchmarkRecordedFitHost(b *testing.B) {
	f, err := vectors.Load("testdata/recorded-zed.json")
	if err != nil {
		b.Fatal(err)
	}
	// The fit_host input of the vector schema.
	type fitHostInput struct {
		Host   topology.HostTopology     `json:"host_topology"`
		Inst   topology.InstanceTopology `json:"instance_topology"`
		Limits *topology.Limits          `json:"limits"`
		Conf   struct {
			Pack bool `json:"packing_host_numa_cells_allocation_strategy"`
		} `json:"conf"`
	}
	var ins []fitHostInput
	for _, v := range f.ByFunction(vectors.FuncFitHost) {
		var in fitHostInput
		if err := json.Unmarshal(v.Input, &in); err != nil {
			b.Fatal(err)
		}
		ins = append(ins, in)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for i := range ins {
			benchSink, _ = FitInstance(ins[i].Host, ins[i].Inst, ins[i].Limits, Options{Pack: ins[i].Conf.Pack})
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ins)), "ns/fit")
}
