package domain

import (
	"fmt"
	"strconv"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// Alteration is one deliberate change to a domain's NUMA configuration,
// with the single Difference that Diff must then report against the
// domain's expected fragments. Negative tests apply one to a real domain
// (redefined through libvirt) to prove that a wrong domain is caught and
// the failure names the property.
type Alteration struct {
	// Name says what is changed, for test names.
	Name string
	// Want is what Diff must report, assuming the unaltered domain
	// conformed.
	Want  Difference
	apply func(*libvirtxml.Domain)
}

// Apply changes d in place.
func (a Alteration) Apply(d *libvirtxml.Domain) { a.apply(d) }

// Alterations returns the one-property changes that make sense for d: a
// vCPU pinned to another vCPU's host CPUs, a memnode whose mode is no
// longer strict, and a guest cell that gained a vCPU. Each keeps the domain
// valid for libvirt, which rewrites some changes away: it puts every vCPU
// no cell lists into cell 0, so a cell that loses a vCPU is not a change it
// stores, while one that gains a new vCPU is.
func Alterations(d *libvirtxml.Domain) []Alteration {
	var out []Alteration
	if t := d.CPUTune; t != nil && len(t.VCPUPin) > 1 {
		first, _ := cpuset.Parse(t.VCPUPin[0].CPUSet)
		for i := len(t.VCPUPin) - 1; i > 0; i-- {
			old, err := cpuset.Parse(t.VCPUPin[i].CPUSet)
			if err != nil || old.Equal(first) {
				continue
			}
			vcpu, to := t.VCPUPin[i].VCPU, t.VCPUPin[0].CPUSet
			out = append(out, Alteration{
				Name: fmt.Sprintf("vCPU %d pinned to vCPU %d's host CPUs", vcpu, t.VCPUPin[0].VCPU),
				Want: Difference{Path: fmt.Sprintf("cputune/vcpupin[vcpu=%d]/cpuset", vcpu), Expected: showList(old), Observed: showList(first)},
				apply: func(d *libvirtxml.Domain) {
					for j := range d.CPUTune.VCPUPin {
						if d.CPUTune.VCPUPin[j].VCPU == vcpu {
							d.CPUTune.VCPUPin[j].CPUSet = to
						}
					}
				},
			})
			break
		}
	}
	if t := d.NUMATune; t != nil && len(t.MemNodes) > 0 {
		cell := t.MemNodes[len(t.MemNodes)-1].CellID
		out = append(out, Alteration{
			Name: fmt.Sprintf("memnode %d in mode preferred", cell),
			Want: Difference{Path: fmt.Sprintf("numatune/memnode[cellid=%d]/mode", cell), Expected: strconv.Quote("strict"), Observed: strconv.Quote("preferred")},
			apply: func(d *libvirtxml.Domain) {
				for j := range d.NUMATune.MemNodes {
					if d.NUMATune.MemNodes[j].CellID == cell {
						d.NUMATune.MemNodes[j].Mode = "preferred"
					}
				}
			},
		})
	}
	// A new vCPU needs room in the guest topology: only when each socket
	// holds one vCPU (Nova's default) can a socket be added with it.
	if c := d.CPU; c != nil && c.Numa != nil && len(c.Numa.Cell) > 0 && d.VCPU != nil &&
		c.Topology != nil && c.Topology.Cores == 1 && c.Topology.Threads == 1 {
		old, err := cpuset.Parse(c.Numa.Cell[0].CPUs)
		if err == nil {
			id := c.Numa.Cell[0].ID
			added := int(d.VCPU.Value)
			grown := old.With(added)
			out = append(out, Alteration{
				Name: fmt.Sprintf("guest cell %d gained vCPU %d", derefID(id), added),
				Want: Difference{Path: fmt.Sprintf("cpu/numa/cell[id=%d]/cpus", derefID(id)), Expected: showList(old), Observed: showList(grown)},
				apply: func(d *libvirtxml.Domain) {
					d.VCPU.Value++
					d.CPU.Topology.Sockets++
					d.CPU.Numa.Cell[0].CPUs = grown.String()
				},
			})
		}
	}
	// Huge pages of the wrong size: 1 GiB instead of what Nova chose.
	if mb := d.MemoryBacking; mb != nil && mb.MemoryHugePages != nil && len(mb.MemoryHugePages.Hugepages) > 0 {
		p := mb.MemoryHugePages.Hugepages[0]
		if was, err := toBytes(uint64(p.Size), p.Unit); err == nil && was != 1<<30 {
			key := canonicalList(p.Nodeset)
			out = append(out, Alteration{
				Name: fmt.Sprintf("huge pages for nodes %q of 1 GiB", key),
				Want: Difference{Path: "memoryBacking/hugepages/page[nodeset=" + key + "]/size", Expected: showBytes(was), Observed: showBytes(1 << 30)},
				apply: func(d *libvirtxml.Domain) {
					d.MemoryBacking.MemoryHugePages.Hugepages[0].Size, d.MemoryBacking.MemoryHugePages.Hugepages[0].Unit = 1, "GiB"
				},
			})
		}
	}
	return out
}

func derefID(id *uint) uint {
	if id == nil {
		return 0
	}
	return *id
}
