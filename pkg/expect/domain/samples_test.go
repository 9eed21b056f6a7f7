package domain

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython/cpythontest"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The samples in testdata were recorded from a real Nova 26.2.2 + libvirt
// 9.0 on a two-node host (see testdata/SAMPLES-README.md): node 0 has CPUs
// 0-1, node 1 CPUs 2-3, each pair thread siblings.

// Host configurations the samples were recorded with.
var (
	// legacyConfig sets no CPU-set option: every online CPU serves both
	// floating and pinned guests.
	legacyConfig = Config{}
	// splitConfig is cpu_shared_set=0-1, cpu_dedicated_set=2-3.
	splitConfig  = Config{CPUSharedSet: setPtr("0-1"), CPUDedicatedSet: setPtr("2-3")}
	sampleOnline = cpuset.MustParse("0-3")
)

func setPtr(spec string) *cpuset.CPUSet {
	s := cpuset.MustParse(spec)
	return &s
}

// sample is one recorded guest with what it asked for and where the claim
// put it. The fitted topology is written out by hand from the server's
// topology API output (checked against the *-topology.json files where they
// exist) and the domain XML.
type sample struct {
	name     string
	xmlFile  string
	topoFile string // GET /servers/{id}/topology output, if recorded
	cfg      Config
	noSMT    bool // host rebooted with threads=1
	flavor   topology.Flavor
	fitted   topology.InstanceTopology
}

var samples = []sample{
	{
		name:     "numa_vm_1",
		xmlFile:  "nova-numa_vm_1.xml",
		topoFile: "nova-numa_vm_1-topology.json",
		cfg:      legacyConfig,
		flavor: topology.Flavor{Name: "numa_vm_1", VCPUs: 4, MemoryMB: 2048, ExtraSpecs: map[string]string{
			"hw:numa_nodes": "2", "hw:numa_mempolicy": "preferred",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.MustParse("0-1"), MemoryMiB: 1024},
			{ID: 1, CPUSet: cpuset.MustParse("2-3"), MemoryMiB: 1024},
		}},
	},
	{
		name:     "numa_vm_2",
		xmlFile:  "nova-numa_vm_2.xml",
		topoFile: "nova-numa_vm_2-topology.json",
		cfg:      legacyConfig,
		flavor: topology.Flavor{Name: "numa_vm_2", VCPUs: 4, MemoryMB: 2048, ExtraSpecs: map[string]string{
			"hw:numa_nodes": "2", "hw:numa_cpus.0": "2,3", "hw:numa_cpus.1": "0,1",
			"hw:numa_mem.0": "1024", "hw:numa_mem.1": "1024",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.MustParse("2-3"), MemoryMiB: 1024},
			{ID: 1, CPUSet: cpuset.MustParse("0-1"), MemoryMiB: 1024},
		}},
	},
	{
		name:    "ded1",
		xmlFile: "nova-ded1.xml",
		cfg:     splitConfig,
		flavor: topology.Flavor{Name: "ded1", VCPUs: 1, MemoryMB: 512, ExtraSpecs: map[string]string{
			"hw:cpu_policy": "dedicated",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 1, PCPUSet: cpuset.New(0), MemoryMiB: 512, CPUPolicy: topology.CPUPolicyDedicated,
				CPUPinning: map[int]int{0: 2}},
		}},
	},
	{
		// The README says only "1 vCPU NUMA guest (shared)"; hw:numa_nodes=1
		// is the request that gives such a guest.
		name:    "shared1-with-ded1",
		xmlFile: "nova-shared1-with-ded1.xml",
		cfg:     splitConfig,
		flavor: topology.Flavor{Name: "shared1", VCPUs: 1, MemoryMB: 512, ExtraSpecs: map[string]string{
			"hw:numa_nodes": "1",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.New(0), MemoryMiB: 512},
		}},
	},
	{
		name:     "ded2_require",
		xmlFile:  "nova-ded2_require.xml",
		topoFile: "nova-ded2_require-topology.json",
		cfg:      splitConfig,
		flavor: topology.Flavor{Name: "ded2_require", VCPUs: 2, MemoryMB: 512, ExtraSpecs: map[string]string{
			"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "require",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 1, PCPUSet: cpuset.MustParse("0-1"), MemoryMiB: 512, CPUPolicy: topology.CPUPolicyDedicated,
				CPUThreadPolicy: topology.ThreadPolicyRequire, CPUPinning: map[int]int{0: 2, 1: 3}},
		}},
	},
	{
		name:    "ded1_isolate-nosmt",
		xmlFile: "nova-ded1_isolate-nosmt.xml",
		cfg:     splitConfig,
		noSMT:   true,
		flavor: topology.Flavor{Name: "ded1_isolate", VCPUs: 1, MemoryMB: 512, ExtraSpecs: map[string]string{
			"hw:cpu_policy": "dedicated", "hw:cpu_thread_policy": "isolate",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 1, PCPUSet: cpuset.New(0), MemoryMiB: 512, CPUPolicy: topology.CPUPolicyDedicated,
				CPUThreadPolicy: topology.ThreadPolicyIsolate, CPUPinning: map[int]int{0: 2}},
		}},
	},
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sampleCaps(t *testing.T, noSMT bool) *libvirtxml.Caps {
	t.Helper()
	caps := &libvirtxml.Caps{}
	if err := caps.Unmarshal(string(readTestdata(t, "caps-compute-numa.xml"))); err != nil {
		t.Fatal(err)
	}
	if noSMT {
		// Rebooted with threads=1: every CPU is its own core.
		for _, c := range caps.Host.NUMA.Cells.Cells {
			for i := range c.CPUS.CPUs {
				c.CPUS.CPUs[i].Siblings = strconv.Itoa(c.CPUS.CPUs[i].ID)
			}
		}
	}
	return caps
}

func sampleDomain(t *testing.T, file string) *libvirtxml.Domain {
	t.Helper()
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(string(readTestdata(t, file))); err != nil {
		t.Fatal(err)
	}
	return d
}

func sampleInput(t *testing.T, s sample) Input {
	t.Helper()
	host, err := HostFromCapabilities(sampleCaps(t, s.noSMT), s.cfg, sampleOnline)
	if err != nil {
		t.Fatal(err)
	}
	fitted := s.fitted.Clone()
	return Input{
		Instance:       &fitted,
		Flavor:         s.flavor,
		Image:          topology.ImageProps{},
		Host:           host,
		HostOnlineCPUs: sampleOnline,
		Config:         s.cfg,
		Profile:        nova.Zed,
	}
}

// TestSamples builds each recorded guest's fragments and compares them with
// what the real Nova + libvirt produced.
func TestSamples(t *testing.T) {
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			if s.topoFile != "" {
				checkAgainstTopologyAPI(t, s)
			}
			want, err := Build(sampleInput(t, s))
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			got, err := FromDomain(sampleDomain(t, s.xmlFile))
			if err != nil {
				t.Fatal(err)
			}
			if diffs := Diff(want, got); len(diffs) > 0 {
				t.Errorf("expected fragments differ from the live domain %s:\n%s\nexpected:\n%s", s.xmlFile, joinDiffs(diffs), mustXML(want))
			}
			// Guard against a vacuous pass: these are all NUMA guests.
			if want.CPUTune == nil || want.NUMATune == nil || want.CPUNUMA == nil {
				t.Errorf("expected cputune, numatune and cpu/numa for a NUMA guest; got %+v", want)
			}
		})
	}
}

// checkAgainstTopologyAPI confirms that the hand-written fitted topology is
// the one the server's topology API reported.
func checkAgainstTopologyAPI(t *testing.T, s sample) {
	t.Helper()
	var api struct {
		Nodes []struct {
			VCPUSet    []int          `json:"vcpu_set"`
			MemoryMB   int            `json:"memory_mb"`
			HostNode   int            `json:"host_node"`
			CPUPinning map[string]int `json:"cpu_pinning"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(readTestdata(t, s.topoFile), &api); err != nil {
		t.Fatal(err)
	}
	if len(api.Nodes) != len(s.fitted.Cells) {
		t.Fatalf("%s has %d nodes, the sample's fitted topology %d cells", s.topoFile, len(api.Nodes), len(s.fitted.Cells))
	}
	for i, n := range api.Nodes {
		c := s.fitted.Cells[i]
		pin := map[int]int{}
		for k, v := range n.CPUPinning {
			vcpu, err := strconv.Atoi(k)
			if err != nil {
				t.Fatal(err)
			}
			pin[vcpu] = v
		}
		if len(c.CPUPinning) == 0 && len(pin) == 0 {
			pin = c.CPUPinning
		}
		if !cpuset.New(n.VCPUSet...).Equal(c.VCPUs()) || n.MemoryMB != c.MemoryMiB || n.HostNode != c.ID || !reflect.DeepEqual(pin, c.CPUPinning) {
			t.Errorf("%s node %d = %+v, but the sample's cell %d is %+v", s.topoFile, i, n, i, c)
		}
	}
}

// TestAlterationsAreCaught applies each of Alterations to every recorded
// live domain and checks that Diff reports exactly the difference the
// alteration promises.
func TestAlterationsAreCaught(t *testing.T) {
	total := 0
	for _, s := range samples {
		want, err := Build(sampleInput(t, s))
		if err != nil {
			t.Fatalf("%s: Build: %v", s.xmlFile, err)
		}
		for _, alt := range Alterations(sampleDomain(t, s.xmlFile)) {
			total++
			t.Run(s.xmlFile+"/"+alt.Name, func(t *testing.T) {
				d := sampleDomain(t, s.xmlFile)
				alt.Apply(d)
				got, err := FromDomain(d)
				if err != nil {
					t.Fatal(err)
				}
				if diffs := Diff(want, got); len(diffs) != 1 || diffs[0] != alt.Want {
					t.Errorf("want exactly %q, got:\n%s", alt.Want.String(), joinDiffs(diffs))
				}
			})
		}
	}
	if total < len(samples)*2 {
		t.Errorf("only %d alterations over %d samples", total, len(samples))
	}
}

// TestSamplesDiffNamesTheChange alters properties Alterations does not
// cover, one at a time, and checks that Diff reports exactly that property.
func TestSamplesDiffNamesTheChange(t *testing.T) {
	vm1 := samples[0]
	want, err := Build(sampleInput(t, vm1))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	cases := []struct {
		path         string
		change       func(d *libvirtxml.Domain)
		wantExpected string
		wantObserved string
	}{
		{
			path: "cpu/numa/cell[id=1]/memory",
			change: func(d *libvirtxml.Domain) {
				d.CPU.Numa.Cell[1].Memory, d.CPU.Numa.Cell[1].Unit = 512, "MiB"
			},
			wantExpected: "1048576 KiB", wantObserved: "524288 KiB",
		},
		{
			path: "cputune/emulatorpin",
			change: func(d *libvirtxml.Domain) {
				d.CPUTune.EmulatorPin = nil
			},
			wantExpected: `<emulatorpin cpuset="0-3"/>`, wantObserved: Absent,
		},
		{
			path: "numatune/memory/nodeset",
			change: func(d *libvirtxml.Domain) {
				d.NUMATune.Memory.Nodeset = "0"
			},
			wantExpected: "0-1", wantObserved: "0",
		},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			d := sampleDomain(t, vm1.xmlFile)
			c.change(d)
			got, err := FromDomain(d)
			if err != nil {
				t.Fatal(err)
			}
			diffs := Diff(want, got)
			if len(diffs) != 1 {
				t.Fatalf("want exactly one difference at %s, got %d:\n%s", c.path, len(diffs), joinDiffs(diffs))
			}
			d0 := diffs[0]
			if d0.Path != c.path || d0.Expected != c.wantExpected || d0.Observed != c.wantObserved {
				t.Errorf("got %q, want %s: expected %s, observed %s", d0.String(), c.path, c.wantExpected, c.wantObserved)
			}
		})
	}
}

// TestHostFromCapabilitiesSample checks the host model against the recorded
// capabilities, under both host configurations of the samples.
func TestHostFromCapabilitiesSample(t *testing.T) {
	s0, s1 := 0, 1
	pages := func(small int) []topology.MemPage {
		return []topology.MemPage{{SizeKB: 4, Total: small}, {SizeKB: 2048}, {SizeKB: 1048576}}
	}
	nm := func() *topology.NetworkMetadata { return &topology.NetworkMetadata{Physnets: []string{}} }
	cases := []struct {
		name string
		cfg  Config
		want topology.HostTopology
	}{
		{"legacy", legacyConfig, topology.HostTopology{Cells: []topology.HostCell{
			{ID: 0, CPUSet: cpuset.MustParse("0-1"), PCPUSet: cpuset.MustParse("0-1"), MemoryMiB: 2958, Socket: &s0,
				Siblings: []cpuset.CPUSet{cpuset.MustParse("0-1")}, MemPages: pages(757297), NetworkMetadata: nm()},
			{ID: 1, CPUSet: cpuset.MustParse("2-3"), PCPUSet: cpuset.MustParse("2-3"), MemoryMiB: 2976, Socket: &s1,
				Siblings: []cpuset.CPUSet{cpuset.MustParse("2-3")}, MemPages: pages(761949), NetworkMetadata: nm()},
		}}},
		{"split", splitConfig, topology.HostTopology{Cells: []topology.HostCell{
			{ID: 0, CPUSet: cpuset.MustParse("0-1"), MemoryMiB: 2958, Socket: &s0,
				Siblings: []cpuset.CPUSet{cpuset.MustParse("0-1")}, MemPages: pages(757297), NetworkMetadata: nm()},
			{ID: 1, PCPUSet: cpuset.MustParse("2-3"), MemoryMiB: 2976, Socket: &s1,
				Siblings: []cpuset.CPUSet{cpuset.MustParse("2-3")}, MemPages: pages(761949), NetworkMetadata: nm()},
		}}},
		{"shared-only", Config{CPUSharedSet: setPtr("1-3")}, topology.HostTopology{Cells: []topology.HostCell{
			{ID: 0, CPUSet: cpuset.New(1), MemoryMiB: 2958, Socket: &s0,
				Siblings: []cpuset.CPUSet{cpuset.New(1)}, MemPages: pages(757297), NetworkMetadata: nm()},
			{ID: 1, CPUSet: cpuset.MustParse("2-3"), MemoryMiB: 2976, Socket: &s1,
				Siblings: []cpuset.CPUSet{cpuset.MustParse("2-3")}, MemPages: pages(761949), NetworkMetadata: nm()},
		}}},
		{"reserved-pages", Config{VCPUPinSet: setPtr("0,2-3"), ReservedHugePages: []ReservedHugePages{{Node: 1, SizeKB: 4, Count: 1000}}},
			topology.HostTopology{Cells: []topology.HostCell{
				{ID: 0, CPUSet: cpuset.New(0), PCPUSet: cpuset.New(0), MemoryMiB: 2958, Socket: &s0,
					Siblings: []cpuset.CPUSet{cpuset.New(0)}, MemPages: pages(757297), NetworkMetadata: nm()},
				{ID: 1, CPUSet: cpuset.MustParse("2-3"), PCPUSet: cpuset.MustParse("2-3"), MemoryMiB: 2976, Socket: &s1,
					Siblings: []cpuset.CPUSet{cpuset.MustParse("2-3")},
					MemPages: []topology.MemPage{{SizeKB: 4, Total: 761949, Reserved: 1000}, {SizeKB: 2048}, {SizeKB: 1048576}}, NetworkMetadata: nm()},
			}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := HostFromCapabilities(sampleCaps(t, false), c.cfg, sampleOnline)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !reflect.DeepEqual(*got, c.want) {
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(c.want)
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}

	t.Run("offline dedicated CPU", func(t *testing.T) {
		_, err := HostFromCapabilities(sampleCaps(t, false), Config{CPUDedicatedSet: setPtr("2-4")}, sampleOnline)
		if nova.ClassOf(err) != "Invalid" {
			t.Errorf("got %v, want Invalid", err)
		}
	})
	t.Run("no NUMA support", func(t *testing.T) {
		caps := sampleCaps(t, false)
		caps.Host.CPU.Arch = "s390x"
		if got, err := HostFromCapabilities(caps, legacyConfig, sampleOnline); got != nil || err != nil {
			t.Errorf("got %v, %v; want no topology", got, err)
		}
	})
}

// TestSiblingOrder checks the sibling-group order against CPython 3.11
// running Nova's own expression on the per-CPU siblings strings (package
// cpythontest).
func TestSiblingOrder(t *testing.T) {
	for i, c := range cpythontest.Cases(t, cpythontest.HostSiblings) {
		var in struct{ Siblings []string }
		var want [][]int
		cpythontest.Decode(t, c.Input, &in)
		cpythontest.Decode(t, c.Result, &want)
		groups, err := pySiblingOrder(in.Siblings)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var got, wantStr []string
		for _, g := range groups {
			got = append(got, g.String())
		}
		for _, g := range want {
			wantStr = append(wantStr, cpuset.New(g...).String())
		}
		if !reflect.DeepEqual(got, wantStr) {
			t.Errorf("case %d (%d CPUs, first %q): got %q, want %q", i, len(in.Siblings), in.Siblings[0], got, wantStr)
		}
	}
}
