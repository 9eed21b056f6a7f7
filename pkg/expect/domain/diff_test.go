package domain

import (
	"encoding/xml"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

func parseFragment[T any](t *testing.T, s string) *T {
	t.Helper()
	v := new(T)
	if err := xml.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	return v
}

// novaStyle is a full set of fragments written the way Nova serializes
// them.
func novaStyle(t *testing.T) Fragments {
	return Fragments{
		CPUTune: parseFragment[libvirtxml.DomainCPUTune](t, `<cputune>
  <emulatorpin cpuset="2-5,24-29"/>
  <vcpupin vcpu="0" cpuset="6"/>
  <vcpupin vcpu="1" cpuset="7"/>
  <vcpupin vcpu="2" cpuset="2-5"/>
  <vcpupin vcpu="3" cpuset="24-29"/>
  <vcpupin vcpu="4" cpuset="30"/>
  <vcpupin vcpu="5" cpuset="31"/>
  <vcpusched vcpus="0-1,4-5" scheduler="fifo" priority="1"/>
</cputune>`),
		CPUNUMA: parseFragment[libvirtxml.DomainNuma](t, `<numa>
  <cell id="0" cpus="0-2" memory="1048576" memAccess="shared"/>
  <cell id="1" cpus="3-5" memory="1048576" memAccess="shared"/>
</numa>`),
		NUMATune: parseFragment[libvirtxml.DomainNUMATune](t, `<numatune>
  <memory mode="strict" nodeset="0,3"/>
  <memnode cellid="0" mode="strict" nodeset="0"/>
  <memnode cellid="1" mode="strict" nodeset="3"/>
</numatune>`),
		MemoryBacking: parseFragment[libvirtxml.DomainMemoryBacking](t, `<memoryBacking>
  <hugepages>
    <page size="2048" nodeset="0" unit="KiB"/>
    <page size="2048" nodeset="1" unit="KiB"/>
  </hugepages>
  <nosharepages/>
  <locked/>
</memoryBacking>`),
	}
}

// libvirtStyle is the same guest as novaStyle, the way virsh dumpxml could
// show it: other attribute and element order, explicit units and defaults,
// CPU lists spelled differently, realtime scheduling regrouped.
func libvirtStyle(t *testing.T) Fragments {
	return Fragments{
		CPUTune: parseFragment[libvirtxml.DomainCPUTune](t, `<cputune>
  <vcpupin vcpu='5' cpuset='31'/>
  <vcpupin vcpu='4' cpuset='30'/>
  <vcpupin vcpu='3' cpuset='24,25,26,27,28,29'/>
  <vcpupin vcpu='2' cpuset='2-5'/>
  <vcpupin vcpu='1' cpuset='7'/>
  <vcpupin vcpu='0' cpuset='6'/>
  <emulatorpin cpuset='2-5,24-31,^30-31'/>
  <vcpusched vcpus='0-1' scheduler='fifo' priority='1'/>
  <vcpusched vcpus='4-5' scheduler='fifo' priority='1'/>
</cputune>`),
		CPUNUMA: parseFragment[libvirtxml.DomainNuma](t, `<numa>
  <cell id='1' cpus='3-5' memory='1' unit='GiB' memAccess='shared'/>
  <cell id='0' cpus='0,1,2' memory='1048576' unit='KiB' memAccess='shared'/>
</numa>`),
		NUMATune: parseFragment[libvirtxml.DomainNUMATune](t, `<numatune>
  <memory mode='strict' placement='static' nodeset='0,3'/>
  <memnode cellid='1' mode='strict' nodeset='3'/>
  <memnode cellid='0' mode='strict' nodeset='0'/>
</numatune>`),
		MemoryBacking: parseFragment[libvirtxml.DomainMemoryBacking](t, `<memoryBacking>
  <hugepages>
    <page size='2' unit='MiB' nodeset='1'/>
    <page size='2048' unit='KiB' nodeset='0'/>
  </hugepages>
  <nosharepages/>
  <locked/>
</memoryBacking>`),
	}
}

func TestDiffEquivalentSpellings(t *testing.T) {
	if diffs := Diff(novaStyle(t), libvirtStyle(t)); len(diffs) > 0 {
		t.Errorf("equivalent fragments reported as different:\n%s", joinDiffs(diffs))
	}
	if diffs := Diff(Fragments{}, Fragments{}); diffs != nil {
		t.Errorf("empty fragments differ: %v", diffs)
	}
}

func TestDiffReportsEachChange(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *Fragments)
		want   []Difference
	}{
		{"vcpu cpuset present", func(f *Fragments) { s := cpuset.MustParse("0-1"); f.VCPUCPUSet = &s },
			[]Difference{{"vcpu/cpuset", Absent, "0-1"}}},
		{"iothreads", func(f *Fragments) { f.IOThreads = 1 },
			[]Difference{{"iothreads", Absent, "1"}}},
		{"extra vcpupin", func(f *Fragments) {
			f.CPUTune.VCPUPin = append(f.CPUTune.VCPUPin, libvirtxml.DomainCPUTuneVCPUPin{VCPU: 6, CPUSet: "1"})
		}, []Difference{{"cputune/vcpupin[vcpu=6]", Absent, `<vcpupin vcpu="6" cpuset="1"/>`}}},
		{"duplicate vcpupin", func(f *Fragments) {
			f.CPUTune.VCPUPin = append(f.CPUTune.VCPUPin, libvirtxml.DomainCPUTuneVCPUPin{VCPU: 0, CPUSet: "6"})
		}, []Difference{{"cputune/vcpupin[vcpu=0]", `<vcpupin vcpu="0" cpuset="6"/>`, `<vcpupin vcpu="0" cpuset="6"/> <vcpupin vcpu="0" cpuset="6"/>`}}},
		{"unparseable cpuset", func(f *Fragments) { f.CPUTune.VCPUPin[0].CPUSet = "6-x" },
			[]Difference{{"cputune/vcpupin[vcpu=5]/cpuset", `"31"`, `"6-x" (unparseable)`}}},
		{"realtime vcpus", func(f *Fragments) { f.CPUTune.VCPUSched = f.CPUTune.VCPUSched[:1] },
			[]Difference{{"cputune/vcpusched[scheduler=fifo,priority=1]/vcpus", "0-1,4-5", "0-1"}}},
		{"realtime priority", func(f *Fragments) { p := 2; f.CPUTune.VCPUSched[1].Priority = &p },
			[]Difference{
				{"cputune/vcpusched[scheduler=fifo,priority=1]/vcpus", "0-1,4-5", "0-1"},
				{"cputune/vcpusched[scheduler=fifo,priority=2]/vcpus", Absent, "4-5"},
			}},
		{"shares", func(f *Fragments) { f.CPUTune.Shares = &libvirtxml.DomainCPUTuneShares{Value: 1024} },
			[]Difference{{"cputune/shares", Absent, "<shares>1024</shares>"}}},
		{"setting Nova never writes", func(f *Fragments) {
			f.CPUTune.EmulatorSched = &libvirtxml.DomainCPUTuneEmulatorSched{Scheduler: "fifo"}
		}, []Difference{{"cputune (other settings)", "<cputune/>", `<cputune><emulatorsched scheduler="fifo"/></cputune>`}}},
		{"memory placement", func(f *Fragments) { f.NUMATune.Memory.Placement = "auto" },
			[]Difference{{"numatune/memory/placement", `"static"`, `"auto"`}}},
		{"memnode missing", func(f *Fragments) { f.NUMATune.MemNodes = f.NUMATune.MemNodes[:1] },
			[]Difference{{"numatune/memnode[cellid=0]", `<memnode cellid="0" mode="strict" nodeset="0"/>`, Absent}}},
		{"hugepage size", func(f *Fragments) { f.MemoryBacking.MemoryHugePages.Hugepages[0].Size = 1 },
			[]Difference{{"memoryBacking/hugepages/page[nodeset=1]/size", "2048 KiB", "1024 KiB"}}},
		{"hugepages gone", func(f *Fragments) { f.MemoryBacking.MemoryHugePages = nil },
			[]Difference{{"memoryBacking/hugepages", `<hugepages><page size="2048" unit="KiB" nodeset="0"/><page size="2048" unit="KiB" nodeset="1"/></hugepages>`, Absent}}},
		{"not locked", func(f *Fragments) { f.MemoryBacking.MemoryLocked = nil },
			[]Difference{{"memoryBacking/locked", "<locked/>", Absent}}},
		{"file backed", func(f *Fragments) { f.MemoryBacking.MemorySource = &libvirtxml.DomainMemorySource{Type: "file"} },
			[]Difference{{"memoryBacking/source", Absent, `<source type="file"/>`}}},
		{"memAccess", func(f *Fragments) { f.CPUNUMA.Cell[0].MemAccess = "" },
			[]Difference{{"cpu/numa/cell[id=1]/memAccess", `"shared"`, Absent}}},
		{"cell distances", func(f *Fragments) {
			f.CPUNUMA.Cell[1].Distances = &libvirtxml.DomainCellDistances{Siblings: []libvirtxml.DomainCellSibling{{ID: 0, Value: 10}}}
		}, []Difference{{"cpu/numa/cell[id=0] (other settings)", "<cell memory=\"0\"/>", `<cell memory="0"><distances><sibling id="0" value="10"/></distances></cell>`}}},
		{"numatune gone", func(f *Fragments) { f.NUMATune = nil },
			[]Difference{{"numatune", `<numatune><memory mode="strict" nodeset="0,3"/><memnode cellid="0" mode="strict" nodeset="0"/><memnode cellid="1" mode="strict" nodeset="3"/></numatune>`, Absent}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := libvirtStyle(t)
			c.change(&got)
			diffs := Diff(novaStyle(t), got)
			if len(diffs) != len(c.want) {
				t.Fatalf("got %d differences, want %d:\n%s", len(diffs), len(c.want), joinDiffs(diffs))
			}
			for i := range diffs {
				if diffs[i] != c.want[i] {
					t.Errorf("difference %d:\n got  %s\n want %s", i, diffs[i], c.want[i])
				}
			}
		})
	}
}

func TestDifferenceString(t *testing.T) {
	d := Difference{Path: "numatune/memnode[cellid=1]/mode", Expected: `"strict"`, Observed: `"preferred"`}
	if got, want := d.String(), `numatune/memnode[cellid=1]/mode: expected "strict", observed "preferred"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestFragmentsXML(t *testing.T) {
	f := novaStyle(t)
	s := cpuset.MustParse("2-3")
	f.VCPUCPUSet = &s
	out, err := f.XML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<memoryBacking>", `<vcpu cpuset="2-3"/>`, `<emulatorpin cpuset="2-5,24-29"/>`,
		`<memnode cellid="1" mode="strict" nodeset="3"/>`, "<cpu>\n  <numa>", `memAccess="shared"`} {
		if !strings.Contains(out, want) {
			t.Errorf("XML lacks %s:\n%s", want, out)
		}
	}
	// What XML writes reads back as the same fragments.
	var dom libvirtxml.Domain
	if err := dom.Unmarshal("<domain>" + out + "</domain>"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	back, err := FromDomain(&dom)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := Diff(f, back); len(diffs) > 0 {
		t.Errorf("round trip differs:\n%s", joinDiffs(diffs))
	}
	if out, _ := (Fragments{}).XML(); out != "" {
		t.Errorf("empty fragments render as %q", out)
	}
}
