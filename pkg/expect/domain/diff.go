package domain

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// Absent is what a Difference shows for an element or attribute that is not
// there.
const Absent = "(absent)"

// Difference is one semantic mismatch between expected and observed
// fragments.
type Difference struct {
	// Path names the element or attribute, XPath-like, with repeated
	// elements identified by their key: "cputune/vcpupin[vcpu=2]/cpuset",
	// "numatune/memnode[cellid=1]/mode", "cpu/numa/cell[id=0]/cpus".
	Path string
	// Expected and Observed are the two values in canonical form (CPU
	// lists as Nova formats them, memory in KiB), a whole element as XML
	// when only one side has it, or Absent.
	Expected string
	Observed string
}

// String renders the difference on one line for test and report output.
func (d Difference) String() string {
	return fmt.Sprintf("%s: expected %s, observed %s", d.Path, d.Expected, d.Observed)
}

// FromDomain extracts the fragments Nova controls from a domain, typically
// one read back from libvirt, so that Diff can compare it with what Build
// computed. The fragments share memory with d.
//
// An unparseable <vcpu cpuset> is an error: no libvirt writes one, and
// Fragments holds that attribute as a set.
func FromDomain(d *libvirtxml.Domain) (Fragments, error) {
	f := Fragments{
		CPUTune:       d.CPUTune,
		NUMATune:      d.NUMATune,
		MemoryBacking: d.MemoryBacking,
		IOThreads:     d.IOThreads,
	}
	if d.CPU != nil {
		f.CPUNUMA = d.CPU.Numa
	}
	if d.VCPU != nil && d.VCPU.CPUSet != "" {
		s, err := cpuset.Parse(d.VCPU.CPUSet)
		if err != nil {
			return Fragments{}, fmt.Errorf("domain <vcpu cpuset=%q>: %w", d.VCPU.CPUSet, err)
		}
		f.VCPUCPUSet = &s
	}
	return f, nil
}

// Diff compares two sets of fragments semantically and returns every
// difference, in document order; nil means they are equivalent.
//
// CPU and node lists compare as sets, memory sizes after unit conversion,
// and repeated elements by their key (vcpupin by vcpu, iothreadpin by
// iothread, memnode by cellid, NUMA cell by id, huge page by nodeset), so
// attribute order, element order and libvirt's defaults (unit='KiB',
// mode='strict', placement='static') do not count. The realtime
// <vcpusched> elements compare as one vCPU set per scheduler and priority,
// because libvirt regroups them. An element present on one side only is a
// difference; so is any setting Nova never writes (emulatorsched,
// cachetune, ...) that appears on one side only.
func Diff(want, got Fragments) []Difference {
	var d differ
	d.cpuSetPtr("vcpu/cpuset", want.VCPUCPUSet, got.VCPUCPUSet)
	if want.IOThreads != got.IOThreads {
		d.add("iothreads", countOrAbsent(want.IOThreads), countOrAbsent(got.IOThreads))
	}
	d.cputune(want.CPUTune, got.CPUTune)
	d.numatune(want.NUMATune, got.NUMATune)
	d.memoryBacking(want.MemoryBacking, got.MemoryBacking)
	d.cpuNUMA(want.CPUNUMA, got.CPUNUMA)
	return d.diffs
}

type differ struct{ diffs []Difference }

func (d *differ) add(path, expected, observed string) {
	d.diffs = append(d.diffs, Difference{Path: path, Expected: expected, Observed: observed})
}

// presence reports a difference when exactly one side has the element, and
// whether both have it (so the caller should look inside).
func presence[T any](d *differ, path, name string, want, got *T) bool {
	switch {
	case want == nil && got == nil:
		return false
	case want == nil:
		d.add(path, Absent, render(name, got))
		return false
	case got == nil:
		d.add(path, render(name, want), Absent)
		return false
	}
	return true
}

func countOrAbsent(n uint) string {
	if n == 0 {
		return Absent
	}
	return strconv.FormatUint(uint64(n), 10)
}

// cpuSetPtr compares two optional sets.
func (d *differ) cpuSetPtr(path string, want, got *cpuset.CPUSet) {
	switch {
	case want == nil && got == nil:
	case want == nil:
		d.add(path, Absent, got.String())
	case got == nil:
		d.add(path, want.String(), Absent)
	case !want.Equal(*got):
		d.add(path, want.String(), got.String())
	}
}

// cpuList compares two CPU (or node) list attributes as sets. A list that
// does not parse is compared as text and shown as written.
func (d *differ) cpuList(path, want, got string) {
	ws, werr := cpuset.Parse(want)
	gs, gerr := cpuset.Parse(got)
	if werr == nil && gerr == nil {
		if !ws.Equal(gs) {
			d.add(path, showList(ws), showList(gs))
		}
		return
	}
	if want != got {
		d.add(path, rawList(want, werr), rawList(got, gerr))
	}
}

func showList(s cpuset.CPUSet) string {
	if s.IsEmpty() {
		return `""`
	}
	return s.String()
}

func rawList(s string, err error) string {
	if err != nil {
		return strconv.Quote(s) + " (unparseable)"
	}
	return strconv.Quote(s)
}

// canonicalList is the key form of a CPU list: Nova's formatting when it
// parses, the text as written otherwise.
func canonicalList(s string) string {
	if set, err := cpuset.Parse(s); err == nil {
		return set.String()
	}
	return s
}

// str compares two attribute values after applying a default to empty ones.
func (d *differ) str(path, want, got, dflt string) {
	if want == "" {
		want = dflt
	}
	if got == "" {
		got = dflt
	}
	if want != got {
		d.add(path, quoteOrAbsent(want), quoteOrAbsent(got))
	}
}

func quoteOrAbsent(s string) string {
	if s == "" {
		return Absent
	}
	return strconv.Quote(s)
}

// memory compares two sizes given with libvirt units.
func (d *differ) memory(path string, want uint64, wantUnit string, got uint64, gotUnit string) {
	wb, werr := toBytes(want, wantUnit)
	gb, gerr := toBytes(got, gotUnit)
	if werr == nil && gerr == nil {
		if wb != gb {
			d.add(path, showBytes(wb), showBytes(gb))
		}
		return
	}
	if want != got || wantUnit != gotUnit {
		d.add(path, fmt.Sprintf("%d %s", want, wantUnit), fmt.Sprintf("%d %s", got, gotUnit))
	}
}

// unitBytes are libvirt's memory units (virScaleInteger); no unit means KiB
// for every element compared here.
var unitBytes = map[string]uint64{
	"": 1 << 10, "b": 1, "bytes": 1,
	"KB": 1e3, "k": 1 << 10, "KiB": 1 << 10,
	"MB": 1e6, "M": 1 << 20, "MiB": 1 << 20,
	"GB": 1e9, "G": 1 << 30, "GiB": 1 << 30,
	"TB": 1e12, "T": 1 << 40, "TiB": 1 << 40,
	"PB": 1e15, "P": 1 << 50, "PiB": 1 << 50,
	"EB": 1e18, "E": 1 << 60, "EiB": 1 << 60,
}

func toBytes(v uint64, unit string) (uint64, error) {
	m, ok := unitBytes[unit]
	if !ok {
		return 0, fmt.Errorf("unknown memory unit %q", unit)
	}
	if v != 0 && v > ^uint64(0)/m {
		return 0, fmt.Errorf("%d %s overflows", v, unit)
	}
	return v * m, nil
}

func showBytes(b uint64) string {
	if b%1024 == 0 {
		return fmt.Sprintf("%d KiB", b/1024)
	}
	return fmt.Sprintf("%d bytes", b)
}

// flag compares an empty marker element such as <locked/>.
func flag[T any](d *differ, path, name string, want, got *T) {
	presence(d, path, name, want, got)
}

// keyed compares two lists of repeated elements matched by key, visiting
// the keys in the order cmpKey gives. An element on one side only, or a key
// repeated a different number of times, is reported whole.
func keyed[T any, K comparable](d *differ, path func(K) string, name string, want, got []T,
	key func(T) K, cmpKey func(a, b K) int, same func(path string, w, g T)) {
	wm, gm := map[K][]T{}, map[K][]T{}
	for _, v := range want {
		wm[key(v)] = append(wm[key(v)], v)
	}
	for _, v := range got {
		gm[key(v)] = append(gm[key(v)], v)
	}
	keys := slices.Collect(maps.Keys(wm))
	for k := range gm {
		if _, ok := wm[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, cmpKey)
	for _, k := range keys {
		w, g := wm[k], gm[k]
		p := path(k)
		switch {
		case len(w) == 0:
			d.add(p, Absent, renderAll(name, g))
		case len(g) == 0:
			d.add(p, renderAll(name, w), Absent)
		case len(w) != len(g):
			d.add(p, renderAll(name, w), renderAll(name, g))
		default:
			for i := range w {
				same(p, w[i], g[i])
			}
		}
	}
}

func (d *differ) cputune(want, got *libvirtxml.DomainCPUTune) {
	if !presence(d, "cputune", "cputune", want, got) {
		return
	}
	if presence(d, "cputune/shares", "shares", want.Shares, got.Shares) && want.Shares.Value != got.Shares.Value {
		d.add("cputune/shares", fmt.Sprint(want.Shares.Value), fmt.Sprint(got.Shares.Value))
	}
	if presence(d, "cputune/period", "period", want.Period, got.Period) && want.Period.Value != got.Period.Value {
		d.add("cputune/period", fmt.Sprint(want.Period.Value), fmt.Sprint(got.Period.Value))
	}
	if presence(d, "cputune/quota", "quota", want.Quota, got.Quota) && want.Quota.Value != got.Quota.Value {
		d.add("cputune/quota", fmt.Sprint(want.Quota.Value), fmt.Sprint(got.Quota.Value))
	}
	if presence(d, "cputune/emulatorpin", "emulatorpin", want.EmulatorPin, got.EmulatorPin) {
		d.cpuList("cputune/emulatorpin/cpuset", want.EmulatorPin.CPUSet, got.EmulatorPin.CPUSet)
	}
	keyed(d, func(k uint) string { return fmt.Sprintf("cputune/vcpupin[vcpu=%d]", k) }, "vcpupin",
		want.VCPUPin, got.VCPUPin,
		func(p libvirtxml.DomainCPUTuneVCPUPin) uint { return p.VCPU }, cmp.Compare[uint],
		func(path string, w, g libvirtxml.DomainCPUTuneVCPUPin) { d.cpuList(path+"/cpuset", w.CPUSet, g.CPUSet) })
	keyed(d, func(k uint) string { return fmt.Sprintf("cputune/iothreadpin[iothread=%d]", k) }, "iothreadpin",
		want.IOThreadPin, got.IOThreadPin,
		func(p libvirtxml.DomainCPUTuneIOThreadPin) uint { return p.IOThread }, cmp.Compare[uint],
		func(path string, w, g libvirtxml.DomainCPUTuneIOThreadPin) {
			d.cpuList(path+"/cpuset", w.CPUSet, g.CPUSet)
		})
	d.vcpusched(want.VCPUSched, got.VCPUSched)

	// Whatever else the two hold (settings Nova never writes) must agree
	// too.
	rest := func(t *libvirtxml.DomainCPUTune) *libvirtxml.DomainCPUTune {
		c := *t
		c.Shares, c.Period, c.Quota, c.EmulatorPin = nil, nil, nil, nil
		c.VCPUPin, c.IOThreadPin, c.VCPUSched = nil, nil, nil
		return &c
	}
	d.rest("cputune", "cputune", rest(want), rest(got))
}

// vcpusched compares realtime scheduling per (scheduler, priority) class,
// as the set of vCPUs in that class: libvirt stores the setting per vCPU
// and regroups the elements when it writes them back.
func (d *differ) vcpusched(want, got []libvirtxml.DomainCPUTuneVCPUSched) {
	group := func(side []libvirtxml.DomainCPUTuneVCPUSched) (map[string]cpuset.CPUSet, map[string]string) {
		sets, raw := map[string]cpuset.CPUSet{}, map[string]string{}
		for _, s := range side {
			k := "scheduler=" + s.Scheduler
			if s.Priority != nil {
				k += ",priority=" + strconv.Itoa(*s.Priority)
			}
			vs, err := cpuset.Parse(s.VCPUs)
			if err != nil {
				raw[k] += s.VCPUs + ";"
				continue
			}
			sets[k] = sets[k].Union(vs)
		}
		return sets, raw
	}
	ws, wr := group(want)
	gs, gr := group(got)
	keys := map[string]bool{}
	for _, m := range []map[string]cpuset.CPUSet{ws, gs} {
		for k := range m {
			keys[k] = true
		}
	}
	for _, m := range []map[string]string{wr, gr} {
		for k := range m {
			keys[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		path := "cputune/vcpusched[" + k + "]/vcpus"
		if wr[k] != gr[k] {
			d.add(path, quoteOrAbsent(wr[k]), quoteOrAbsent(gr[k]))
			continue
		}
		w, wok := ws[k]
		g, gok := gs[k]
		switch {
		case !wok && !gok:
		case !wok:
			d.add(path, Absent, g.String())
		case !gok:
			d.add(path, w.String(), Absent)
		case !w.Equal(g):
			d.add(path, w.String(), g.String())
		}
	}
}

func (d *differ) numatune(want, got *libvirtxml.DomainNUMATune) {
	if !presence(d, "numatune", "numatune", want, got) {
		return
	}
	if presence(d, "numatune/memory", "memory", want.Memory, got.Memory) {
		d.str("numatune/memory/mode", want.Memory.Mode, got.Memory.Mode, "strict")
		d.cpuList("numatune/memory/nodeset", want.Memory.Nodeset, got.Memory.Nodeset)
		d.str("numatune/memory/placement", want.Memory.Placement, got.Memory.Placement, "static")
	}
	keyed(d, func(k uint) string { return fmt.Sprintf("numatune/memnode[cellid=%d]", k) }, "memnode",
		want.MemNodes, got.MemNodes,
		func(n libvirtxml.DomainNUMATuneMemNode) uint { return n.CellID }, cmp.Compare[uint],
		func(path string, w, g libvirtxml.DomainNUMATuneMemNode) {
			d.str(path+"/mode", w.Mode, g.Mode, "strict")
			d.cpuList(path+"/nodeset", w.Nodeset, g.Nodeset)
		})
}

func (d *differ) memoryBacking(want, got *libvirtxml.DomainMemoryBacking) {
	if !presence(d, "memoryBacking", "memoryBacking", want, got) {
		return
	}
	if presence(d, "memoryBacking/hugepages", "hugepages", want.MemoryHugePages, got.MemoryHugePages) {
		keyed(d, func(k string) string { return "memoryBacking/hugepages/page[nodeset=" + k + "]" }, "page",
			want.MemoryHugePages.Hugepages, got.MemoryHugePages.Hugepages,
			func(p libvirtxml.DomainMemoryHugepage) string { return canonicalList(p.Nodeset) }, compareLists,
			func(path string, w, g libvirtxml.DomainMemoryHugepage) {
				d.memory(path+"/size", uint64(w.Size), w.Unit, uint64(g.Size), g.Unit)
			})
	}
	flag(d, "memoryBacking/nosharepages", "nosharepages", want.MemoryNosharepages, got.MemoryNosharepages)
	flag(d, "memoryBacking/locked", "locked", want.MemoryLocked, got.MemoryLocked)
	if presence(d, "memoryBacking/source", "source", want.MemorySource, got.MemorySource) {
		d.str("memoryBacking/source/type", want.MemorySource.Type, got.MemorySource.Type, "")
	}
	if presence(d, "memoryBacking/access", "access", want.MemoryAccess, got.MemoryAccess) {
		d.str("memoryBacking/access/mode", want.MemoryAccess.Mode, got.MemoryAccess.Mode, "")
	}
	if presence(d, "memoryBacking/allocation", "allocation", want.MemoryAllocation, got.MemoryAllocation) {
		d.str("memoryBacking/allocation/mode", want.MemoryAllocation.Mode, got.MemoryAllocation.Mode, "")
		if want.MemoryAllocation.Threads != got.MemoryAllocation.Threads {
			d.add("memoryBacking/allocation/threads", countOrAbsent(want.MemoryAllocation.Threads), countOrAbsent(got.MemoryAllocation.Threads))
		}
	}
	flag(d, "memoryBacking/discard", "discard", want.MemoryDiscard, got.MemoryDiscard)
}

// compareLists orders canonical CPU-list keys by their first member, so
// "page[nodeset=2]" comes before "page[nodeset=10]".
func compareLists(a, b string) int {
	ma, ea := cpuset.Parse(a)
	mb, eb := cpuset.Parse(b)
	if ea == nil && eb == nil {
		x, _ := ma.Min()
		y, _ := mb.Min()
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func (d *differ) cpuNUMA(want, got *libvirtxml.DomainNuma) {
	if !presence(d, "cpu/numa", "numa", want, got) {
		return
	}
	cellKey := func(c libvirtxml.DomainCell) string {
		if c.ID == nil {
			return "?"
		}
		return strconv.FormatUint(uint64(*c.ID), 10)
	}
	keyed(d, func(k string) string { return "cpu/numa/cell[id=" + k + "]" }, "cell",
		want.Cell, got.Cell, cellKey, compareNumeric,
		func(path string, w, g libvirtxml.DomainCell) {
			d.cpuList(path+"/cpus", w.CPUs, g.CPUs)
			d.memory(path+"/memory", uint64(w.Memory), w.Unit, uint64(g.Memory), g.Unit)
			d.str(path+"/memAccess", w.MemAccess, g.MemAccess, "")
			d.str(path+"/discard", w.Discard, g.Discard, "")
			rest := func(c libvirtxml.DomainCell) *libvirtxml.DomainCell {
				c.ID, c.CPUs, c.Memory, c.Unit, c.MemAccess, c.Discard = nil, "", 0, "", "", ""
				return &c
			}
			d.rest(path, "cell", rest(w), rest(g))
		})
	wr, gr := *want, *got
	wr.Cell, gr.Cell = nil, nil
	d.rest("cpu/numa", "numa", &wr, &gr)
}

// compareNumeric orders decimal keys numerically, others after them.
func compareNumeric(a, b string) int {
	x, ea := strconv.Atoi(a)
	y, eb := strconv.Atoi(b)
	switch {
	case ea == nil && eb == nil:
		return cmp.Compare(x, y)
	case ea == nil:
		return -1
	case eb == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// rest compares, as XML, what is left of an element once the settings
// compared one by one have been cleared.
func (d *differ) rest(path, name string, want, got any) {
	w, g := render(name, want), render(name, got)
	if w != g {
		d.add(path+" (other settings)", w, g)
	}
}

var emptyElement = regexp.MustCompile(`<([A-Za-z_][\w.-]*)((?:\s[^<>]*)?)></([A-Za-z_][\w.-]*)>`)

// render writes v as one compact XML element named name, with empty
// elements self-closed as libvirt writes them.
func render(name string, v any) string {
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	if err := enc.EncodeElement(v, xml.StartElement{Name: xml.Name{Local: name}}); err != nil {
		return fmt.Sprintf("%+v", v)
	}
	if err := enc.Flush(); err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return selfClose(b.String())
}

func renderAll[T any](name string, vs []T) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = render(name, v)
	}
	return strings.Join(parts, " ")
}
