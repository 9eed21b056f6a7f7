package report

import (
	"encoding/xml"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Placement is where a guest's NUMA cells sit on the host's, as one side
// (the expectation or the live domain) says.
type Placement struct {
	Cells []GuestCell
	// Emulator is the host CPUs of <emulatorpin>; "" when unpinned.
	Emulator string
	// Note says why there are no cells to draw, when there are none.
	Note string
}

// GuestCell is one guest NUMA cell and where it landed.
type GuestCell struct {
	ID int
	// Nodes is the host nodeset the cell's memory is bound to ("1",
	// "0-1"); "" when unbound.
	Nodes     string
	VCPUs     string
	MemoryMiB int
	// PageSize is the page size backing the cell ("2048 KiB"); "" for
	// the default small pages.
	PageSize string
	// Pins are the cell's vCPU pinnings, "vCPU 0-1 → CPU 2-3", with
	// vCPUs sharing a host CPU set grouped.
	Pins []string
	// Differs is set when the other side places this cell differently.
	Differs bool
}

func (c GuestCell) same(o GuestCell) bool {
	return c.ID == o.ID && c.Nodes == o.Nodes && c.VCPUs == o.VCPUs && c.MemoryMiB == o.MemoryMiB &&
		c.PageSize == o.PageSize && slices.Equal(c.Pins, o.Pins)
}

// PlacementFromXML reads a placement from domain XML: a whole <domain>, or
// the fragments of expected.xml (its elements without the root).
func PlacementFromXML(doc string) (*Placement, error) {
	doc = strings.TrimSpace(doc)
	if !strings.HasPrefix(doc, "<domain") {
		doc = "<domain>" + doc + "</domain>"
	}
	var d libvirtxml.Domain
	if err := d.Unmarshal(doc); err != nil {
		return nil, err
	}
	p := &Placement{}
	memnode := map[int]string{}
	var wholeNodes string
	if d.NUMATune != nil {
		for _, m := range d.NUMATune.MemNodes {
			memnode[int(m.CellID)] = m.Nodeset
		}
		if d.NUMATune.Memory != nil {
			wholeNodes = d.NUMATune.Memory.Nodeset
		}
	}
	pins := map[int]string{}
	if d.CPUTune != nil {
		for _, v := range d.CPUTune.VCPUPin {
			pins[int(v.VCPU)] = v.CPUSet
		}
		if d.CPUTune.EmulatorPin != nil {
			p.Emulator = d.CPUTune.EmulatorPin.CPUSet
		}
	}
	pages := map[int]string{}
	if d.MemoryBacking != nil && d.MemoryBacking.MemoryHugePages != nil {
		for _, hp := range d.MemoryBacking.MemoryHugePages.Hugepages {
			size := fmt.Sprintf("%d %s", hp.Size, cmpOr(hp.Unit, "KiB"))
			set, err := cpuset.Parse(hp.Nodeset)
			if err != nil {
				return nil, fmt.Errorf("memoryBacking/hugepages/page nodeset %q: %w", hp.Nodeset, err)
			}
			for c := range set.All {
				pages[c] = size
			}
			if hp.Nodeset == "" {
				pages[-1] = size
			}
		}
	}
	var cells []libvirtxml.DomainCell
	if d.CPU != nil && d.CPU.Numa != nil {
		cells = d.CPU.Numa.Cell
	}
	if len(cells) == 0 {
		if wholeNodes == "" && len(pins) == 0 {
			p.Note = "no guest NUMA topology and no pinning"
			return p, nil
		}
		// No guest cells: draw the whole guest as one, bound where
		// numatune/memory says.
		c := GuestCell{ID: 0, Nodes: wholeNodes, PageSize: pages[-1]}
		if d.VCPU != nil {
			c.VCPUs = cpuset.Range(0, int(d.VCPU.Value)-1).String()
		}
		if d.Memory != nil {
			c.MemoryMiB = int(kib(d.Memory.Value, d.Memory.Unit) / 1024)
		}
		c.Pins = groupPins(slices.Sorted(maps.Keys(pins)), pins)
		p.Cells = []GuestCell{c}
		p.Note = "the guest has no NUMA cells: shown as one"
		return p, nil
	}
	for i, dc := range cells {
		id := i
		if dc.ID != nil {
			id = int(*dc.ID)
		}
		vcpus, err := cpuset.Parse(dc.CPUs)
		if err != nil {
			return nil, fmt.Errorf("cpu/numa/cell[id=%d] cpus %q: %w", id, dc.CPUs, err)
		}
		c := GuestCell{ID: id, Nodes: memnode[id], VCPUs: vcpus.String(),
			MemoryMiB: int(kib(dc.Memory, dc.Unit) / 1024), PageSize: cmpOr(pages[id], pages[-1])}
		c.Pins = groupPins(vcpus.Members(), pins)
		p.Cells = append(p.Cells, c)
	}
	return p, nil
}

// PlacementFromTopology reads a placement from the fitter's placed
// topology, whose cell ids are host cells.
func PlacementFromTopology(t *topology.InstanceTopology) *Placement {
	if t == nil {
		return &Placement{Note: "no placed topology"}
	}
	p := &Placement{}
	for i, tc := range t.Cells {
		c := GuestCell{ID: i, Nodes: strconv.Itoa(tc.ID), VCPUs: tc.VCPUs().String(), MemoryMiB: tc.MemoryMiB}
		if tc.PageSizeKB > 0 {
			c.PageSize = fmt.Sprintf("%d KiB", tc.PageSizeKB)
		}
		pins := map[int]string{}
		for v, h := range tc.CPUPinning {
			pins[v] = strconv.Itoa(h)
		}
		c.Pins = groupPins(slices.Sorted(maps.Keys(pins)), pins)
		p.Cells = append(p.Cells, c)
	}
	return p
}

// groupPins lists the pinnings of vcpus, grouping vCPUs pinned to the same
// host CPUs.
func groupPins(vcpus []int, pins map[int]string) []string {
	var order []string
	by := map[string][]int{}
	for _, v := range vcpus {
		h, ok := pins[v]
		if !ok {
			continue
		}
		if s, err := cpuset.Parse(h); err == nil {
			h = s.String()
		}
		if _, seen := by[h]; !seen {
			order = append(order, h)
		}
		by[h] = append(by[h], v)
	}
	var out []string
	for _, h := range order {
		out = append(out, fmt.Sprintf("vCPU %s → CPU %s", cpuset.New(by[h]...), h))
	}
	return out
}

// markDifferences flags the cells one side places differently from the
// other, matching cells by guest cell id.
func markDifferences(exp, obs *Placement) {
	if exp == nil || obs == nil {
		return
	}
	find := func(p *Placement, id int) *GuestCell {
		for i := range p.Cells {
			if p.Cells[i].ID == id {
				return &p.Cells[i]
			}
		}
		return nil
	}
	for _, pair := range [][2]*Placement{{exp, obs}, {obs, exp}} {
		for i := range pair[0].Cells {
			c := &pair[0].Cells[i]
			o := find(pair[1], c.ID)
			c.Differs = o == nil || !c.same(*o)
		}
	}
}

func kib(v uint, unit string) uint64 {
	switch strings.ToLower(unit) {
	case "m", "mib":
		return uint64(v) * 1024
	case "g", "gib":
		return uint64(v) * 1024 * 1024
	case "b", "bytes":
		return uint64(v) / 1024
	}
	return uint64(v)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var numaCells = regexp.MustCompile(`(\d+) NUMA cells?`)

// hostNodeCount reads the number of host NUMA cells from run.json's host
// description ("libvirt 9.0.0, QEMU 7.2.22, 2 NUMA cells"); 0 if unknown.
func hostNodeCount(desc string) int {
	m := numaCells.FindStringSubmatch(desc)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// numaElements extracts the NUMA-related top-level elements of a domain
// (vcpu, memoryBacking, cputune, numatune, cpu), verbatim and dedented, so
// they can be read beside expected.xml.
func numaElements(doc string) string {
	want := map[string]bool{"vcpu": true, "memoryBacking": true, "cputune": true, "numatune": true, "cpu": true}
	dec := xml.NewDecoder(strings.NewReader(doc))
	var parts []string
	depth, start := 0, int64(0)
	var inside string
	for {
		before := dec.InputOffset()
		tok, err := dec.RawToken()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && want[t.Name.Local] {
				inside, start = t.Name.Local, before
			}
		case xml.EndElement:
			if depth == 2 && inside == t.Name.Local {
				parts = append(parts, dedent(doc[start:dec.InputOffset()]))
				inside = ""
			}
			depth--
		}
	}
	return strings.Join(parts, "\n")
}

// dedent removes the indentation of an element's later lines, which
// carry their depth in the whole document.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines[1:] {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, " "))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	// The closing tag sits one level out from the children: keep the
	// element's own level at column 0.
	if indent > 0 {
		last := lines[len(lines)-1]
		if n := len(last) - len(strings.TrimLeft(last, " ")); n < indent {
			indent = n
		}
		for i := 1; i < len(lines); i++ {
			if len(lines[i]) >= indent {
				lines[i] = lines[i][indent:]
			}
		}
	}
	return strings.Join(lines, "\n")
}
