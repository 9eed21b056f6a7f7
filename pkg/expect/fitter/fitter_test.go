package fitter

import (
	"maps"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The expected values in this file that are not obvious from the code were
// checked against python3-nova 2:26.2.2 on Debian 12.

func cell(id int, cpus []int, memMiB int) topology.HostCell {
	set := cpuset.New(cpus...)
	c := topology.HostCell{ID: id, CPUSet: set, PCPUSet: set, MemoryMiB: memMiB,
		MemPages: []topology.MemPage{{SizeKB: 4, Total: memMiB * 256}}}
	for _, x := range cpus {
		c.Siblings = append(c.Siblings, cpuset.New(x))
	}
	return c
}

func shared(id int, cpus []int, memMiB int) topology.InstanceCell {
	return topology.InstanceCell{ID: id, CPUSet: cpuset.New(cpus...), MemoryMiB: memMiB}
}

func dedicated(id int, cpus []int, memMiB int) topology.InstanceCell {
	return topology.InstanceCell{ID: id, PCPUSet: cpuset.New(cpus...), MemoryMiB: memMiB, CPUPolicy: topology.CPUPolicyDedicated}
}

func mustFit(t *testing.T, host topology.HostTopology, inst topology.InstanceTopology, opts Options) *topology.InstanceTopology {
	t.Helper()
	got, err := FitInstance(host, inst, nil, opts)
	if err != nil {
		t.Fatalf("FitInstance: %v", err)
	}
	if got == nil {
		t.Fatal("FitInstance: no fit")
	}
	return got
}

func hostIDs(t *topology.InstanceTopology) []int {
	var ids []int
	for _, c := range t.Cells {
		ids = append(ids, c.ID)
	}
	return ids
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A guest fitted, accounted, then a second guest fitted on what is left,
// and the first freed again: the basic chain a harness runs.
func TestChainFitUsageFit(t *testing.T) {
	host := topology.HostTopology{Cells: []topology.HostCell{cell(0, []int{0, 1, 2, 3}, 4096), cell(1, []int{4, 5, 6, 7}, 4096)}}
	a := mustFit(t, host, topology.InstanceTopology{Cells: []topology.InstanceCell{dedicated(0, []int{0, 1, 2}, 1024)}}, Options{})
	if a.Cells[0].ID != 0 || !maps.Equal(a.Cells[0].CPUPinning, map[int]int{0: 0, 1: 1, 2: 2}) {
		t.Fatalf("first guest: %s", fmtInstance(a))
	}
	used, err := Usage(host, *a, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c := used.Cells[0]; !c.PinnedCPUs.Equal(cpuset.New(0, 1, 2)) || c.MemoryUsageMiB != 1024 || c.CPUUsage != 0 {
		t.Fatalf("usage after first guest: %+v", c)
	}
	// Spread: cell 1 now has more free memory and more free pCPUs.
	b := mustFit(t, used, topology.InstanceTopology{Cells: []topology.InstanceCell{dedicated(0, []int{0, 1}, 1024)}}, Options{})
	if b.Cells[0].ID != 1 || !maps.Equal(b.Cells[0].CPUPinning, map[int]int{0: 4, 1: 5}) {
		t.Fatalf("second guest: %s", fmtInstance(b))
	}
	// Pack: cell 0 is the fuller one; its last free pCPU is too few.
	c, err := FitInstance(used, topology.InstanceTopology{Cells: []topology.InstanceCell{dedicated(0, []int{0}, 1024)}}, nil, Options{Pack: true})
	if err != nil || c == nil || c.Cells[0].ID != 0 || c.Cells[0].CPUPinning[0] != 3 {
		t.Fatalf("packed guest: %v %v", c, err)
	}
	freed, err := Usage(used, *a, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := diffHost(host, freed); d != "" {
		t.Fatalf("freeing did not restore the host:\n%s", d)
	}
	if _, err := Usage(freed, *a, true, Options{}); nova.ClassOf(err) != "CPUUnpinningInvalid" {
		t.Fatalf("freeing twice: want CPUUnpinningInvalid, got %v", err)
	}
	if _, err := Usage(used, *a, false, Options{}); nova.ClassOf(err) != "CPUPinningInvalid" {
		t.Fatalf("pinning twice: want CPUPinningInvalid, got %v", err)
	}
}

// Host cells are re-ordered only when the host has more cells than the
// guest; spread prefers free memory and few used CPUs, pack the opposite.
func TestSpreadVsPack(t *testing.T) {
	h0, h1, h2 := cell(0, []int{0, 1, 2, 3}, 4096), cell(1, []int{4, 5, 6, 7}, 4096), cell(2, []int{8, 9, 10, 11}, 4096)
	h0.MemoryUsageMiB, h1.MemoryUsageMiB, h2.CPUUsage = 1024, 3072, 2
	host := topology.HostTopology{Cells: []topology.HostCell{h0, h1, h2}}
	for _, c := range []struct {
		name string
		cell topology.InstanceCell
		pack bool
		want int
	}{
		{"shared spread", shared(0, []int{0}, 1024), false, 0},
		{"shared pack", shared(0, []int{0}, 1024), true, 2},
		{"dedicated spread", dedicated(0, []int{0}, 1024), false, 2},
		{"dedicated pack", dedicated(0, []int{0}, 1024), true, 1},
	} {
		got := mustFit(t, host, topology.InstanceTopology{Cells: []topology.InstanceCell{c.cell}}, Options{Pack: c.pack})
		if got.Cells[0].ID != c.want {
			t.Errorf("%s: landed on host cell %d, want %d", c.name, got.Cells[0].ID, c.want)
		}
	}
	// As many guest cells as host cells: no re-ordering at all.
	got := mustFit(t, host, topology.InstanceTopology{Cells: []topology.InstanceCell{shared(0, []int{0}, 512), shared(1, []int{1}, 512), shared(2, []int{2}, 512)}}, Options{Pack: true})
	if !equalInts(hostIDs(got), []int{0, 1, 2}) {
		t.Errorf("equal cell counts: got %v", hostIDs(got))
	}
}

// isolate on a legacy SMT host pins one thread per fully free core and
// accounts whole cores. The emulator CPU is the first free thread left
// after removing the cores just used, which can be the sibling of a CPU
// another guest pinned: Nova 26.2.2 then fails to account the guest
// (CPUPinningInvalid), and so does the fitter.
func TestIsolateWithEmulatorThreads(t *testing.T) {
	c := topology.HostCell{
		ID: 0, CPUSet: cpuset.Range(0, 7), PCPUSet: cpuset.Range(0, 7), MemoryMiB: 4096,
		Siblings: []cpuset.CPUSet{cpuset.New(0, 4), cpuset.New(1, 5), cpuset.New(2, 6), cpuset.New(3, 7)},
		MemPages: []topology.MemPage{{SizeKB: 4, Total: 1 << 20}},
	}
	inst := topology.InstanceTopology{
		Cells:                 []topology.InstanceCell{dedicated(0, []int{0, 1}, 1024)},
		EmulatorThreadsPolicy: topology.EmulatorThreadsIsolate,
	}
	inst.Cells[0].CPUThreadPolicy = topology.ThreadPolicyIsolate

	host := topology.HostTopology{Cells: []topology.HostCell{c}}
	got := mustFit(t, host, inst, Options{})
	gc := got.Cells[0]
	if !maps.Equal(gc.CPUPinning, map[int]int{0: 0, 1: 1}) || !gc.CPUSetReserved.Equal(cpuset.New(2)) {
		t.Fatalf("isolate on a free host: %s", fmtInstance(got))
	}
	used, err := Usage(host, *got, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := cpuset.New(0, 1, 2, 4, 5, 6); !used.Cells[0].PinnedCPUs.Equal(want) {
		t.Fatalf("isolate usage pinned %s, want %s (whole cores, emulator CPU included)", used.Cells[0].PinnedCPUs, want)
	}

	c.PinnedCPUs = cpuset.New(0)
	host = topology.HostTopology{Cells: []topology.HostCell{c}}
	got = mustFit(t, host, inst, Options{})
	gc = got.Cells[0]
	if !maps.Equal(gc.CPUPinning, map[int]int{0: 1, 1: 2}) || !gc.CPUSetReserved.Equal(cpuset.New(4)) {
		t.Fatalf("isolate next to a half-used core: %s", fmtInstance(got))
	}
	if _, err := Usage(host, *got, false, Options{}); nova.ClassOf(err) != "CPUPinningInvalid" {
		t.Fatalf("accounting it: got %v, want CPUPinningInvalid", err)
	}

	// New-style host (cpuset != pcpuset) with SMT: bug #1889633, no fit.
	c.CPUSet = cpuset.New()
	if got, _ := FitInstance(topology.HostTopology{Cells: []topology.HostCell{c}}, inst, nil, Options{}); got != nil {
		t.Fatalf("isolate on a new-style SMT host fitted: %s", fmtInstance(got))
	}
}

// Nova locks a guest cell that asked for "large" pages to the size chosen in
// its first per-cell fit, even one that then failed: guest cell 1 first
// meets host cell 1 (2 MiB pages only, too few CPUs), and is then placed on
// host cell 2 with 2 MiB pages although 1 GiB pages would fit there.
func TestPageSizeLockedAcrossPermutations(t *testing.T) {
	pages := func(gib int) []topology.MemPage {
		p := []topology.MemPage{{SizeKB: 4, Total: 1 << 20}, {SizeKB: 2048, Total: 1024}}
		if gib > 0 {
			p = append(p, topology.MemPage{SizeKB: 1 << 20, Total: gib})
		}
		return p
	}
	h0, h1, h2 := cell(0, []int{0, 1, 2, 3}, 4096), cell(1, []int{4}, 4096), cell(2, []int{8, 9, 10, 11}, 4096)
	h0.MemPages, h1.MemPages, h2.MemPages = pages(2), pages(0), pages(2)
	host := topology.HostTopology{Cells: []topology.HostCell{h0, h1, h2}}
	inst := topology.InstanceTopology{Cells: []topology.InstanceCell{shared(0, []int{0, 1}, 1024), shared(1, []int{2, 3}, 1024)}}
	inst.Cells[0].PageSizeKB, inst.Cells[1].PageSizeKB = topology.PageSizeLarge, topology.PageSizeLarge
	got := mustFit(t, host, inst, Options{})
	if !equalInts(hostIDs(got), []int{0, 2}) || got.Cells[0].PageSizeKB != 1<<20 || got.Cells[1].PageSizeKB != 2048 {
		t.Fatalf("got %s", fmtInstance(got))
	}
	if inst.Cells[1].PageSizeKB != topology.PageSizeLarge {
		t.Fatal("the caller's instance cell was modified")
	}
}

// Nova's fit cache is keyed on (host cell id, instance cell id) after the
// instance cell ids were overwritten with host ids, so a guest cell can
// inherit another's "fits": here guest cell 2 (8 GiB) "fits" on a 4 GiB host
// cell, without pinning. Nova 26.2.2 returns exactly this.
func TestFitCacheCrosstalk(t *testing.T) {
	var host topology.HostTopology
	for i := range 4 {
		host.Cells = append(host.Cells, cell(i, []int{4 * i, 4*i + 1, 4*i + 2, 4*i + 3}, 4096))
	}
	inst := topology.InstanceTopology{Cells: []topology.InstanceCell{dedicated(0, []int{0}, 1024), dedicated(1, []int{1}, 1024), dedicated(2, []int{2}, 8192)}}
	got := mustFit(t, host, inst, Options{})
	if !equalInts(hostIDs(got), []int{1, 2, 0}) || got.Cells[0].CPUPinning[0] != 4 || got.Cells[1].CPUPinning[1] != 8 || len(got.Cells[2].CPUPinning) != 0 {
		t.Fatalf("got %s", fmtInstance(got))
	}
	// With ids that cannot collide, the same guest does not fit.
	for i := range host.Cells {
		host.Cells[i].ID += 10
	}
	if got, _ := FitInstance(host, inst, nil, Options{}); got != nil {
		t.Fatalf("without id collisions: got %s", fmtInstance(got))
	}
}

// A mixed cell without dedicated vCPUs never fits in Zed (bug #1994526) and
// fits from 28.0 on.
func TestMixedCellWithoutPinnedCPUs(t *testing.T) {
	hc := cell(0, []int{0, 1, 2, 3}, 4096)
	ic := topology.InstanceCell{ID: 0, CPUSet: cpuset.New(0, 1), MemoryMiB: 1024, CPUPolicy: topology.CPUPolicyMixed}
	if got, err := FitCell(hc, ic, nil, 0, Options{}); got != nil || err != nil {
		t.Fatalf("Zed: got %v, %v; want no fit", got, err)
	}
	got, err := FitCell(hc, ic, nil, 0, Options{Profile: nova.Epoxy})
	if err != nil || got == nil || len(got.CPUPinning) != 0 || got.ID != 0 {
		t.Fatalf("Epoxy: got %v, %v; want a fit without pinning", got, err)
	}
	// Its empty pinning is accounted without error.
	if _, err := Usage(topology.HostTopology{Cells: []topology.HostCell{hc}}, topology.InstanceTopology{Cells: []topology.InstanceCell{*got}}, false, Options{}); err != nil {
		t.Fatalf("usage of an empty pinning: %v", err)
	}
}

// Errors Nova lets escape, and the one numa_fit_instance_to_host swallows.
func TestErrors(t *testing.T) {
	hc := cell(0, []int{0, 1}, 4096)
	explicit := shared(0, []int{0}, 1024)
	explicit.PageSizeKB = 2048
	if _, err := FitCell(hc, explicit, nil, 0, Options{}); nova.ClassOf(err) != "MemoryPageSizeNotSupported" {
		t.Errorf("FitCell with a page size the host lacks: got %v", err)
	}
	if got, err := FitInstance(topology.HostTopology{Cells: []topology.HostCell{hc}}, topology.InstanceTopology{Cells: []topology.InstanceCell{explicit}}, nil, Options{}); got != nil || err != nil {
		t.Errorf("FitInstance with a page size the host lacks: got %v, %v; want no fit", got, err)
	}

	noSiblings := hc
	noSiblings.Siblings = nil
	if _, err := FitInstance(topology.HostTopology{Cells: []topology.HostCell{noSiblings}}, topology.InstanceTopology{Cells: []topology.InstanceCell{dedicated(0, []int{0}, 512)}}, nil, Options{}); nova.ClassOf(err) != "ValueError" {
		t.Errorf("pinned guest on a cell without siblings: got %v, want ValueError", err)
	}

	host := topology.HostTopology{Cells: []topology.HostCell{hc}}
	unpinned := dedicated(0, []int{0}, 512) // cpu_pinning None
	if _, err := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{unpinned}}, false, Options{}); nova.ClassOf(err) != "AttributeError" {
		t.Errorf("usage of a dedicated cell without pinning: got %v, want AttributeError", err)
	}
	if h, err := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{unpinned}}, false, Options{Profile: nova.For(nova.V(27, 1, 0))}); err != nil || !h.Cells[0].PinnedCPUs.IsEmpty() || h.Cells[0].MemoryUsageMiB != 512 {
		t.Errorf("usage of a dedicated cell without pinning from 27.1.0: got %+v, %v; want its memory counted and nothing pinned", h.Cells[0], err)
	}
	unknown := dedicated(0, []int{0}, 512)
	unknown.CPUPinning = map[int]int{0: 9}
	if _, err := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{unknown}}, false, Options{}); nova.ClassOf(err) != "CPUPinningUnknown" {
		t.Errorf("pinning a CPU outside pcpuset: got %v, want CPUPinningUnknown", err)
	}
	host.Cells[0].MemPages = nil
	if _, err := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{shared(0, []int{0}, 512)}}, false, Options{}); nova.ClassOf(err) != "IndexError" {
		t.Errorf("usage on a cell without mempages: got %v, want IndexError", err)
	}
}

// Page usage goes through Python's true division and an integer field.
func TestUsagePages(t *testing.T) {
	hc := cell(0, []int{0, 1}, 4096)
	hc.MemPages = []topology.MemPage{{SizeKB: 2048, Total: 100, Used: 1}, {SizeKB: 4, Total: 1 << 20, Used: 10}}
	host := topology.HostTopology{Cells: []topology.HostCell{hc}}
	ic := shared(0, []int{0}, 3) // 3 MiB = 1.5 pages of 2 MiB
	ic.PageSizeKB = 2048
	used, err := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{ic}}, false, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := used.Cells[0].MemPages[0].Used; got != 2 { // int(1 + 1.5)
		t.Errorf("used 2 MiB pages: got %d, want 2", got)
	}
	freed, err := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{ic}}, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := freed.Cells[0].MemPages[0].Used; got != 0 { // int(max(0, 1 - 1.5))
		t.Errorf("freed 2 MiB pages: got %d, want 0", got)
	}
	// No page size: the smallest size is charged.
	if used, _ := Usage(host, topology.InstanceTopology{Cells: []topology.InstanceCell{shared(0, []int{0}, 1)}}, false, Options{}); used.Cells[0].MemPages[1].Used != 10+256 {
		t.Errorf("small pages: got %+v", used.Cells[0].MemPages)
	}
	if host.Cells[0].MemPages[0].Used != 1 {
		t.Error("the caller's host was modified")
	}
}

// CPython's set order decides which thread of a core gets the lower vCPU:
// {3, 11} iterates as [11, 3] once Nova has coerced it.
func TestPinningFollowsSetOrder(t *testing.T) {
	hc := topology.HostCell{
		ID: 0, CPUSet: cpuset.New(2, 3, 10, 11), PCPUSet: cpuset.New(2, 3, 10, 11), MemoryMiB: 4096,
		Siblings: []cpuset.CPUSet{cpuset.New(3, 11), cpuset.New(2, 10)},
	}
	got, err := FitCell(hc, dedicated(0, []int{0, 1, 2, 3}, 1024), nil, 0, Options{})
	if err != nil || got == nil {
		t.Fatal(got, err)
	}
	if want := map[int]int{0: 11, 1: 3, 2: 2, 3: 10}; !maps.Equal(got.CPUPinning, want) {
		t.Fatalf("pinning %v, want %v", got.CPUPinning, want)
	}
}

func TestSiblingOrderUnstable(t *testing.T) {
	for _, c := range []struct {
		group []int
		want  bool
	}{
		{[]int{3}, false},
		{[]int{0, 16}, false},
		{[]int{2, 8}, false},
		{[]int{3, 11}, true}, // [11, 3], [3, 11], [11, 3], ...
		{[]int{5, 13}, true},
		{[]int{7, 135}, true},
		{[]int{3, 39}, false}, // 39 = 3 + 36: distinct slots
		{[]int{0, 1, 2, 3, 4, 5, 6, 7, 8}, false},
	} {
		if got := SiblingOrderUnstable(cpuset.New(c.group...)); got != c.want {
			t.Errorf("SiblingOrderUnstable(%v) = %v, want %v", c.group, got, c.want)
		}
	}
}

// FitInstance reuses scratch space between calls; concurrent callers must
// not see each other's.
func TestConcurrentFits(t *testing.T) {
	host := smtHost(4, 4, 16, 2)
	inst := guest(2, 2, 1024, topology.CPUPolicyDedicated, "", "", 0)
	want := mustFit(t, host, inst, Options{})
	done := make(chan string)
	for g := range 4 {
		go func() {
			var msg string
			for range 200 {
				h, i := host, inst
				if g%2 == 1 {
					h = smtHost(6, 2, 16, 0) // a different shape in between
					FitInstance(h, guest(3, 1, 512, topology.CPUPolicyDedicated, "", "", 0), nil, Options{})
					h = host
				}
				got, err := FitInstance(h, i, nil, Options{})
				if err != nil {
					msg = err.Error()
					break
				}
				if d := diffInstance(want, got); d != "" {
					msg = d
					break
				}
			}
			done <- msg
		}()
	}
	for range 4 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
