// Package differential makes Nova itself the judge of the reference fitter
// on cases nobody wrote by hand: it generates random but well-formed cases in
// the nova-numa-vectors/1 schema, has both Nova's Python code (through the
// oracle) and the Go fitter compute them, and shrinks every disagreement to a
// small vector ready to become a regression test.
//
// Generation is pure and seeded: the same seed yields the same cases on
// every machine.
package differential

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// Case is one generated input for one Nova function, in the vector schema.
type Case struct {
	ID       string          `json:"id"`
	Category string          `json:"category"`
	Function string          `json:"function"`
	Input    json.RawMessage `json:"input"`
}

// Generator produces reproducible cases from a seed.
type Generator struct {
	rng  *rand.Rand
	seed uint64
	n    int
}

// NewGenerator returns a generator whose cases depend only on seed.
func NewGenerator(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), seed: seed}
}

// Mix is how often each category is drawn, in parts. Fitting dominates
// because that is where hosts are strangest.
var Mix = []struct {
	Function string
	Weight   int
}{
	{vectors.FuncFitHost, 40},
	{vectors.FuncFitCell, 12},
	{vectors.FuncUsage, 10},
	{vectors.FuncGetConstraints, 24},
	{vectors.FuncCPUPolicy, 2},
	{vectors.FuncRealtimeCPUs, 3},
	{vectors.FuncPageSize, 3},
	{vectors.FuncBestCPUTopology, 4},
	{vectors.FuncDesirableCPUTopologies, 2},
}

// Next returns the next case, its function drawn according to Mix.
func (g *Generator) Next() Case {
	total := 0
	for _, m := range Mix {
		total += m.Weight
	}
	r := g.rng.IntN(total)
	for _, m := range Mix {
		if r < m.Weight {
			return g.For(m.Function)
		}
		r -= m.Weight
	}
	panic("unreachable")
}

// For returns the next case for one function.
func (g *Generator) For(function string) Case {
	g.n++
	c := Case{ID: fmt.Sprintf("gen-%d-%06d", g.seed, g.n), Function: function}
	var in any
	switch function {
	case vectors.FuncFitHost:
		c.Category = vectors.CategoryFitHost
		host := g.Host()
		in = map[string]any{
			"host_topology":     host,
			"instance_topology": g.Instance(len(host.Cells)),
			"limits":            g.Limits(),
			"conf":              map[string]bool{"packing_host_numa_cells_allocation_strategy": g.rng.IntN(3) == 0},
		}
	case vectors.FuncFitCell:
		c.Category = vectors.CategoryFitCell
		host := g.Host()
		inst := g.Instance(1)
		reserved := 0
		if inst.EmulatorThreadsPolicy == topology.EmulatorThreadsIsolate {
			reserved = 1
		}
		in = map[string]any{
			"host_cell":       host.Cells[g.rng.IntN(len(host.Cells))],
			"instance_cell":   inst.Cells[0],
			"limits":          g.Limits(),
			"cpuset_reserved": reserved,
		}
	case vectors.FuncUsage:
		c.Category = vectors.CategoryUsage
		host := g.Host()
		inst := g.Placed(host)
		in = map[string]any{"host_topology": host, "instance_topology": inst, "free": g.rng.IntN(4) == 0}
	case vectors.FuncGetConstraints, vectors.FuncCPUPolicy, vectors.FuncRealtimeCPUs, vectors.FuncPageSize:
		c.Category = vectors.CategoryConstraints
		if function != vectors.FuncGetConstraints {
			c.Category = vectors.CategoryPolicy
		}
		f, img := g.FlavorImage()
		in = map[string]any{"flavor": f, "image_props": img}
	case vectors.FuncBestCPUTopology, vectors.FuncDesirableCPUTopologies:
		c.Category = vectors.CategoryCPUTopology
		f, img := g.TopologyFlavorImage()
		in = map[string]any{"flavor": f, "image_props": img, "allow_threads": g.rng.IntN(5) != 0}
	default:
		panic("differential: no generator for " + function)
	}
	raw, err := json.Marshal(in)
	if err != nil {
		panic(err)
	}
	c.Input = raw
	return c
}

func (g *Generator) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

func (g *Generator) chance(p float64) bool { return g.rng.Float64() < p }

// Host draws a host of 1-8 cells with 1-32 CPUs each, thread siblings of 1,
// 2 or 4, one of the CPU configurations Nova supports (legacy: the same CPUs
// shared and dedicated; new-style: cpu_shared_set and cpu_dedicated_set
// split; or only one of them), partly used CPUs and memory, and page sizes
// with some pages used.
func (g *Generator) Host() topology.HostTopology {
	ncells := 1 + g.rng.IntN(8)
	if g.chance(0.5) {
		ncells = 1 + g.rng.IntN(4)
	}
	threads := []int{1, 2, 2, 4}[g.rng.IntN(4)]
	cores := 1 + g.rng.IntN(max(1, 32/threads))
	if g.chance(0.6) {
		cores = 1 + g.rng.IntN(max(1, 8/threads))
	}
	perCell := cores * threads
	total := ncells * perCell
	// Linux numbers a core's second thread total/threads higher on most
	// x86 hosts ("interleaved"); some number siblings consecutively. The
	// interleaved form with an offset that is not a multiple of 8 is where
	// Python's set order stops being ascending.
	interleaved := threads > 1 && g.chance(0.5)
	mode := g.pick("legacy", "legacy", "legacy", "split", "split", "split", "dedicated-only", "shared-only")
	withPages := g.chance(0.7)
	sortedSiblings := g.chance(0.8)
	cells := make([]topology.HostCell, ncells)
	for ci := range cells {
		var sibs []cpuset.CPUSet
		for core := range cores {
			var members []int
			for t := range threads {
				if interleaved {
					members = append(members, t*(total/threads)+ci*cores+core)
				} else {
					members = append(members, ci*perCell+core*threads+t)
				}
			}
			sibs = append(sibs, cpuset.New(members...))
		}
		all := cpuset.CPUSet{}
		for _, s := range sibs {
			all = all.Union(s)
		}
		var shared, dedicated cpuset.CPUSet
		switch mode {
		case "legacy":
			shared, dedicated = all, all
		case "shared-only":
			shared = all
		case "dedicated-only":
			dedicated = all
		case "split":
			// Whole cores go one way or the other, as operators split them.
			for _, s := range sibs {
				if g.chance(0.5) {
					shared = shared.Union(s)
				} else {
					dedicated = dedicated.Union(s)
				}
			}
		}
		// Nova's siblings list only holds CPUs it may use.
		var usable []cpuset.CPUSet
		for _, s := range sibs {
			if u := s.Intersection(shared.Union(dedicated)); !u.IsEmpty() {
				usable = append(usable, u)
			}
		}
		if !sortedSiblings {
			g.rng.Shuffle(len(usable), func(i, j int) { usable[i], usable[j] = usable[j], usable[i] })
		}
		memory := []int{512, 1024, 2048, 4096, 8192, 16384, 65536}[g.rng.IntN(7)]
		if g.chance(0.5) {
			memory = 4096
		}
		cell := topology.HostCell{
			ID:         ci,
			CPUSet:     shared,
			PCPUSet:    dedicated,
			PinnedCPUs: g.subset(dedicated, []float64{0, 0.1, 0.3, 0.6}[g.rng.IntN(4)]),
			MemoryMiB:  memory,
			Siblings:   usable,
		}
		if g.chance(0.5) {
			cell.CPUUsage = g.rng.IntN(2*shared.Len() + 1)
		}
		if g.chance(0.4) {
			cell.MemoryUsageMiB = g.rng.IntN(memory + memory/4 + 1)
		}
		// Nova's objects raise on reading an unset socket or mempages, and the
		// libvirt driver always sets both: so do we. No page sizes at all is
		// an empty list, not an unset field.
		socket := ci / max(1, (ncells+1)/2)
		cell.Socket = &socket
		cell.MemPages = []topology.MemPage{}
		if withPages {
			cell.MemPages = g.pages(memory)
		}
		cells[ci] = cell
	}
	return topology.HostTopology{Cells: cells}
}

// pages draws a cell's page sizes: 4 KiB pages covering the cell, and
// sometimes a pool of 2 MiB and 1 GiB pages, partly used and reserved.
func (g *Generator) pages(memoryMiB int) []topology.MemPage {
	small := memoryMiB * 256
	out := []topology.MemPage{{SizeKB: 4, Total: small, Used: g.rng.IntN(small/2 + 1)}}
	if g.chance(0.7) {
		total := g.rng.IntN(memoryMiB/2/2 + 2)
		used := g.rng.IntN(total/2 + 1)
		out = append(out, topology.MemPage{SizeKB: 2048, Total: total, Used: used, Reserved: min(g.rng.IntN(2), total-used)})
	}
	if g.chance(0.3) {
		total := g.rng.IntN(memoryMiB/1024 + 2)
		out = append(out, topology.MemPage{SizeKB: 1048576, Total: total, Used: g.rng.IntN(total/2 + 1)})
	}
	return out
}

// subset keeps each member of s with probability p.
func (g *Generator) subset(s cpuset.CPUSet, p float64) cpuset.CPUSet {
	var keep []int
	for m := range s.All {
		if g.chance(p) {
			keep = append(keep, m)
		}
	}
	return cpuset.New(keep...)
}

// Instance draws a guest topology as numa_get_constraints would produce it:
// 1 to hostCells+1 cells (so some cannot fit), one CPU policy, thread policy
// and page size for all cells, consecutive guest vCPUs.
func (g *Generator) Instance(hostCells int) topology.InstanceTopology {
	// Mostly no more guest cells than host cells: a guest that cannot fit
	// by count is refused before any interesting code runs.
	n := 1 + g.rng.IntN(min(hostCells, 4))
	if g.chance(0.05) {
		n = hostCells + 1
	}
	policy := []topology.CPUPolicy{"", "", topology.CPUPolicyShared, topology.CPUPolicyDedicated, topology.CPUPolicyDedicated, topology.CPUPolicyMixed}[g.rng.IntN(6)]
	var thread topology.ThreadPolicy
	var emu topology.EmulatorThreadsPolicy
	if policy == topology.CPUPolicyDedicated || policy == topology.CPUPolicyMixed {
		thread = []topology.ThreadPolicy{"", "", topology.ThreadPolicyPrefer, topology.ThreadPolicyIsolate, topology.ThreadPolicyRequire}[g.rng.IntN(5)]
		emu = []topology.EmulatorThreadsPolicy{"", "", topology.EmulatorThreadsShare, topology.EmulatorThreadsIsolate}[g.rng.IntN(4)]
	} else if g.chance(0.2) {
		emu = topology.EmulatorThreadsShare
	}
	// Explicit sizes are rarer than symbolic ones: most hosts lack 1 GiB
	// pages, and a size the host lacks only ever means "does not fit".
	pagesize := []int{0, 0, 0, 0, 0, topology.PageSizeSmall, topology.PageSizeLarge, topology.PageSizeAny, 4, 2048, 1048576}[g.rng.IntN(11)]
	cells := make([]topology.InstanceCell, n)
	next := 0
	for i := range cells {
		k := 1 + g.rng.IntN(4)
		vcpus := cpuset.Range(next, next+k-1)
		next += k
		var floating, pinned cpuset.CPUSet
		switch policy {
		case topology.CPUPolicyDedicated:
			pinned = vcpus
		case topology.CPUPolicyMixed:
			pinned = g.subset(vcpus, 0.6)
			floating = vcpus.Difference(pinned)
		default:
			floating = vcpus
		}
		mem := 128 * (1 + g.rng.IntN(12))
		if g.chance(0.1) {
			mem = 1024 * (1 + g.rng.IntN(4))
		}
		cells[i] = topology.InstanceCell{
			ID: i, CPUSet: floating, PCPUSet: pinned, MemoryMiB: mem,
			PageSizeKB: pagesize, CPUPolicy: policy, CPUThreadPolicy: thread,
		}
	}
	return topology.InstanceTopology{Cells: cells, EmulatorThreadsPolicy: emu}
}

// Placed draws a guest already placed on host: each guest cell on a
// distinct host cell, pinned vCPUs on that cell's free dedicated CPUs (or,
// now and then, on already pinned ones, which Nova must refuse).
func (g *Generator) Placed(host topology.HostTopology) topology.InstanceTopology {
	inst := g.Instance(len(host.Cells))
	inst.Cells = inst.Cells[:min(len(inst.Cells), len(host.Cells))]
	order := g.rng.Perm(len(host.Cells))
	for i := range inst.Cells {
		c := &inst.Cells[i]
		hc := host.Cells[order[i]]
		c.ID = hc.ID
		if c.PageSizeKB < 0 {
			c.PageSizeKB = 0
			if len(hc.MemPages) > 0 {
				c.PageSizeKB = hc.MemPages[g.rng.IntN(len(hc.MemPages))].SizeKB
			}
		}
		if c.PCPUSet.IsEmpty() {
			continue
		}
		free := hc.FreePCPUs().Members()
		if g.chance(0.1) {
			free = hc.PCPUSet.Members()
		}
		g.rng.Shuffle(len(free), func(a, b int) { free[a], free[b] = free[b], free[a] })
		c.CPUPinning = map[int]int{}
		for j, v := range c.PCPUSet.Members() {
			if j < len(free) {
				c.CPUPinning[v] = free[j]
			}
		}
		if len(c.CPUPinning) < c.PCPUSet.Len() {
			// Not enough CPUs: Nova never stores such a guest, so unpin it.
			c.PCPUSet, c.CPUSet, c.CPUPinning = cpuset.CPUSet{}, c.VCPUs(), nil
			c.CPUPolicy, c.CPUThreadPolicy = "", ""
		}
	}
	if len(inst.Cells) > 0 && inst.EmulatorThreadsPolicy == topology.EmulatorThreadsIsolate && inst.Cells[0].CPUPinning != nil {
		hc := host.Cells[order[0]]
		rest := hc.FreePCPUs().Members()
		for _, p := range inst.Cells[0].CPUPinning {
			rest = slices.DeleteFunc(rest, func(x int) bool { return x == p })
		}
		if len(rest) > 0 {
			inst.Cells[0].CPUSetReserved = cpuset.New(rest[0])
		}
	}
	return inst
}

// Limits draws overcommit limits, or none.
func (g *Generator) Limits() *topology.Limits {
	if g.chance(0.4) {
		return nil
	}
	return &topology.Limits{
		CPUAllocationRatio: []float64{1, 2, 4, 16}[g.rng.IntN(4)],
		RAMAllocationRatio: []float64{1, 1.5}[g.rng.IntN(2)],
	}
}

// FlavorImage draws a flavor and image over every key numa_get_constraints
// reads, with valid values mostly and invalid or conflicting ones now and
// then: those must yield the same exception class on both sides.
func (g *Generator) FlavorImage() (topology.Flavor, topology.ImageProps) {
	vcpus := []int{1, 2, 3, 4, 6, 8, 16}[g.rng.IntN(7)]
	mem := []int{256, 512, 1000, 1024, 2048, 3072, 4096}[g.rng.IntN(7)]
	f := topology.Flavor{VCPUs: vcpus, MemoryMB: mem, ExtraSpecs: map[string]string{}}
	img := topology.ImageProps{}
	nodes := 1 + g.rng.IntN(4)
	// Where the NUMA layout lives: the flavor, the image, both (a conflict
	// Nova rejects), or nowhere.
	switch g.pick("flavor", "flavor", "flavor", "image", "image", "none", "none", "both", "mixed") {
	case "flavor":
		g.numaLayout(f.ExtraSpecs, "hw:", nodes, vcpus, mem)
	case "image":
		g.numaLayout(img, "hw_", nodes, vcpus, mem)
	case "both":
		g.numaLayout(f.ExtraSpecs, "hw:", nodes, vcpus, mem)
		g.numaLayout(img, "hw_", nodes, vcpus, mem)
	case "mixed":
		// Flavor node count with image CPU and memory lists is accepted.
		f.ExtraSpecs["hw:numa_nodes"] = strconv.Itoa(nodes)
		g.numaLists(img, "hw_", nodes, vcpus, mem)
	}
	maybe := func(p float64, m map[string]string, key string, values ...string) {
		if g.chance(p) {
			m[key] = g.pick(values...)
		}
	}
	// Each key is rare enough that most cases are valid requests (which
	// exercise the topology builders) while every conflict still shows up
	// in a few thousand cases.
	policy := ""
	if g.chance(0.45) {
		policy = g.pick("dedicated", "dedicated", "shared", "mixed", "mixed", "bogus")
		f.ExtraSpecs["hw:cpu_policy"] = policy
	}
	pinned := policy == "dedicated" || policy == "mixed"
	maybe(0.06, img, "hw_cpu_policy", "dedicated", "shared", "mixed")
	if pinned || g.chance(0.1) {
		maybe(0.3, f.ExtraSpecs, "hw:cpu_thread_policy", "prefer", "isolate", "require", "bogus")
		maybe(0.2, f.ExtraSpecs, "hw:emulator_threads_policy", "share", "isolate", "isolate", "bogus")
	}
	maybe(0.04, img, "hw_cpu_thread_policy", "prefer", "isolate", "require")
	if policy == "mixed" || g.chance(0.05) {
		maybe(0.8, f.ExtraSpecs, "hw:cpu_dedicated_mask", "^0", "^0", "0", "0-1", "^0-1", "1-2", "^0-15", "99", "x")
	}
	if pinned || g.chance(0.05) {
		maybe(0.15, f.ExtraSpecs, "hw:cpu_realtime", "yes", "true", "no", "1", "bogus")
		maybe(0.1, f.ExtraSpecs, "hw:cpu_realtime_mask", "^0", "0", "^0-1", "1-2", "0-15")
	}
	maybe(0.03, img, "hw_cpu_realtime_mask", "^0", "^1", "1")
	maybe(0.3, f.ExtraSpecs, "hw:mem_page_size", "small", "large", "large", "any", "2048", "2MB", "1GB", "4", "4KB", "1048576", "2MiB", "foo")
	maybe(0.05, img, "hw_mem_page_size", "small", "large", "2048", "1GB", "any")
	maybe(0.04, f.ExtraSpecs, "hw:locked_memory", "true", "false")
	maybe(0.02, img, "hw_locked_memory", "true", "false")
	maybe(0.03, f.ExtraSpecs, "resources:PCPU", strconv.Itoa(vcpus), strconv.Itoa(vcpus+1), "1")
	maybe(0.02, f.ExtraSpecs, "resources:VCPU", strconv.Itoa(vcpus))
	maybe(0.03, f.ExtraSpecs, "trait:HW_CPU_HYPERTHREADING", "required", "forbidden")
	maybe(0.02, img, "trait:HW_CPU_HYPERTHREADING", "required")
	return f, img
}

// numaLayout writes a node count and, half the time, manual CPU and memory
// lists, under prefix ("hw:" for flavors, "hw_" for images).
func (g *Generator) numaLayout(m map[string]string, prefix string, nodes, vcpus, mem int) {
	if g.chance(0.05) {
		m[prefix+"numa_nodes"] = g.pick("0", "-1", "x", "")
	} else {
		m[prefix+"numa_nodes"] = strconv.Itoa(nodes)
	}
	if g.chance(0.5) {
		g.numaLists(m, prefix, nodes, vcpus, mem)
	}
}

// numaLists writes hw:numa_cpus.N and hw:numa_mem.N for a random partition
// of the vCPUs and memory, with an occasional flaw (a gap in N, a CPU out of
// range or twice, memory that does not add up, a list missing).
func (g *Generator) numaLists(m map[string]string, prefix string, nodes, vcpus, mem int) {
	perm := g.rng.Perm(vcpus)
	memLeft := mem
	for n := range nodes {
		var cpus []int
		if n == nodes-1 {
			cpus = perm
		} else if len(perm) > 0 {
			k := 1 + g.rng.IntN(len(perm))
			cpus, perm = perm[:k], perm[k:]
		}
		cm := memLeft
		if n < nodes-1 {
			cm = max(1, mem/nodes)
			memLeft -= cm
		}
		m[fmt.Sprintf("%scpus.%d", prefix+"numa_", n)] = listSpec(cpus)
		m[fmt.Sprintf("%smem.%d", prefix+"numa_", n)] = strconv.Itoa(cm)
	}
	switch g.rng.IntN(20) {
	case 0:
		delete(m, prefix+"numa_cpus.0")
	case 1:
		m[prefix+"numa_cpus.0"] = strconv.Itoa(vcpus + 2)
	case 2:
		m[prefix+"numa_mem.0"] = strconv.Itoa(mem * 2)
	case 3:
		for n := range nodes {
			delete(m, fmt.Sprintf("%smem.%d", prefix+"numa_", n))
		}
	case 4:
		m[prefix+"numa_cpus.0"] = "0,0"
	}
}

// listSpec formats CPUs the way people write them: ranges where they can,
// in the order given otherwise.
func listSpec(cpus []int) string {
	if len(cpus) == 0 {
		return ""
	}
	s := slices.Clone(cpus)
	slices.Sort(s)
	if s[len(s)-1]-s[0] == len(s)-1 && len(s) > 1 {
		return fmt.Sprintf("%d-%d", s[0], s[len(s)-1])
	}
	parts := make([]string, len(cpus))
	for i, c := range cpus {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}

// TopologyFlavorImage draws a flavor and image over the guest CPU topology
// keys (preferred and maximum sockets, cores, threads).
func (g *Generator) TopologyFlavorImage() (topology.Flavor, topology.ImageProps) {
	vcpus := []int{1, 2, 3, 4, 6, 8, 12, 16, 24, 28, 32}[g.rng.IntN(11)]
	f := topology.Flavor{VCPUs: vcpus, MemoryMB: 2048, ExtraSpecs: map[string]string{}}
	img := topology.ImageProps{}
	num := func() string { return g.pick("1", "2", "3", "4", "8", "16") }
	for _, k := range []string{"sockets", "cores", "threads"} {
		if g.chance(0.25) {
			f.ExtraSpecs["hw:cpu_"+k] = num()
		}
		if g.chance(0.15) {
			f.ExtraSpecs["hw:cpu_max_"+k] = num()
		}
		if g.chance(0.15) {
			img["hw_cpu_"+k] = num()
		}
		if g.chance(0.15) {
			img["hw_cpu_max_"+k] = num()
		}
	}
	return f, img
}
