package domain

import (
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// twoNodeHost is a host with two cells of two CPUs each, 4 KiB and 2 MiB
// pages, configured with cpu_shared_set=0,2 and cpu_dedicated_set=1,3.
func twoNodeHost() *topology.HostTopology {
	pages := []topology.MemPage{{SizeKB: 4, Total: 262144}, {SizeKB: 2048, Total: 512}}
	return &topology.HostTopology{Cells: []topology.HostCell{
		{ID: 0, CPUSet: cpuset.New(0), PCPUSet: cpuset.New(1), MemoryMiB: 1024, MemPages: pages},
		{ID: 1, CPUSet: cpuset.New(2), PCPUSet: cpuset.New(3), MemoryMiB: 1024, MemPages: pages},
	}}
}

func splitHostConfig() Config {
	return Config{CPUSharedSet: setPtr("0,2"), CPUDedicatedSet: setPtr("1,3")}
}

func wantClass(t *testing.T, err error, class string) {
	t.Helper()
	if got := nova.ClassOf(err); got != class {
		t.Errorf("got error %v (class %q), want %s", err, got, class)
	}
}

func TestNUMAConfigWithoutGuestTopology(t *testing.T) {
	online := cpuset.MustParse("0-3")
	cases := []struct {
		name string
		cfg  Config
		want *cpuset.CPUSet
	}{
		{"nothing configured: no pinning", Config{}, nil},
		{"only dedicated: no pinning", Config{CPUDedicatedSet: setPtr("1,3")}, nil},
		{"cpu_shared_set", splitHostConfig(), setPtr("0,2")},
		{"vcpu_pin_set wins over cpu_shared_set", Config{VCPUPinSet: setPtr("1-2"), CPUSharedSet: setPtr("0,2")}, setPtr("1-2")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := NUMAConfig(Input{Host: twoNodeHost(), HostOnlineCPUs: online, Config: c.cfg,
				Flavor: topology.Flavor{VCPUs: 2, MemoryMB: 512}})
			if err != nil {
				t.Fatal(err)
			}
			if diffs := Diff(Fragments{VCPUCPUSet: c.want}, f); len(diffs) > 0 {
				t.Errorf("%s", joinDiffs(diffs))
			}
		})
	}

	t.Run("shared set not online", func(t *testing.T) {
		_, err := NUMAConfig(Input{HostOnlineCPUs: online, Config: Config{CPUSharedSet: setPtr("2-5")}})
		wantClass(t, err, "Invalid")
	})
	t.Run("option that parses empty", func(t *testing.T) {
		_, err := ParseCPUListOption("vcpu_pin_set", "0-1,^0-1")
		wantClass(t, err, "Invalid")
		if s, err := ParseCPUListOption("vcpu_pin_set", ""); s != nil || err != nil {
			t.Errorf("empty option: got %v, %v; want unset", s, err)
		}
	})
}

func TestNUMAConfigHostWithoutTopology(t *testing.T) {
	inst := &topology.InstanceTopology{Cells: []topology.InstanceCell{
		{ID: 0, CPUSet: cpuset.New(0), MemoryMiB: 1024},
		{ID: 1, CPUSet: cpuset.New(1), MemoryMiB: 1024},
	}}
	f, err := NUMAConfig(Input{Instance: inst, HostOnlineCPUs: cpuset.MustParse("0-3"), Config: Config{CPUSharedSet: setPtr("2-3")}})
	if err != nil {
		t.Fatal(err)
	}
	want := Fragments{
		VCPUCPUSet: setPtr("2-3"),
		CPUNUMA: parseFragment[libvirtxml.DomainNuma](t, `<numa>
  <cell id="0" cpus="0" memory="1048576"/>
  <cell id="1" cpus="1" memory="1048576"/>
</numa>`),
	}
	if diffs := Diff(want, f); len(diffs) > 0 {
		t.Errorf("%s", joinDiffs(diffs))
	}

	t.Run("no NUMA support", func(t *testing.T) {
		_, err := NUMAConfig(Input{Instance: &topology.InstanceTopology{}, HostFeatures: HostFeatures{NoNUMASupport: true}})
		wantClass(t, err, "NUMATopologyUnsupported")
		f, err := NUMAConfig(Input{HostFeatures: HostFeatures{NoNUMASupport: true}, Host: twoNodeHost()})
		if err != nil || f.CPUTune != nil || f.CPUNUMA != nil || f.VCPUCPUSet != nil {
			t.Errorf("non-NUMA guest on a host without NUMA support: got %+v, %v; want nothing", f, err)
		}
	})
}

// These go through the realtime-mask parsing of package constraints.
func TestNUMAConfigEmulatorThreads(t *testing.T) {
	online := cpuset.MustParse("0-3")
	dedicated := func(policy topology.EmulatorThreadsPolicy, reserved cpuset.CPUSet) *topology.InstanceTopology {
		return &topology.InstanceTopology{EmulatorThreadsPolicy: policy, Cells: []topology.InstanceCell{
			{ID: 1, PCPUSet: cpuset.New(0), MemoryMiB: 512, CPUPolicy: topology.CPUPolicyDedicated,
				CPUPinning: map[int]int{0: 3}, CPUSetReserved: reserved},
		}}
	}
	flavor := topology.Flavor{VCPUs: 1, MemoryMB: 512, ExtraSpecs: map[string]string{"hw:cpu_policy": "dedicated"}}
	cases := []struct {
		name     string
		inst     *topology.InstanceTopology
		cfg      Config
		emulator string
	}{
		{"no policy: the vCPUs' CPUs", dedicated("", cpuset.CPUSet{}), splitHostConfig(), "3"},
		{"share: cpu_shared_set", dedicated(topology.EmulatorThreadsShare, cpuset.CPUSet{}), splitHostConfig(), "0,2"},
		{"share without cpu_shared_set: like no policy", dedicated(topology.EmulatorThreadsShare, cpuset.CPUSet{}), Config{CPUDedicatedSet: setPtr("1,3")}, "3"},
		{"isolate: the reserved CPU", dedicated(topology.EmulatorThreadsIsolate, cpuset.New(1)), splitHostConfig(), "1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Build(Input{Instance: c.inst, Flavor: flavor, Host: twoNodeHost(), HostOnlineCPUs: online, Config: c.cfg})
			if err != nil {
				t.Fatal(err)
			}
			want := Fragments{
				CPUTune: parseFragment[libvirtxml.DomainCPUTune](t, `<cputune><emulatorpin cpuset="`+c.emulator+`"/><vcpupin vcpu="0" cpuset="3"/></cputune>`),
				CPUNUMA: parseFragment[libvirtxml.DomainNuma](t, `<numa><cell id="0" cpus="0" memory="524288"/></numa>`),
				NUMATune: parseFragment[libvirtxml.DomainNUMATune](t,
					`<numatune><memory mode="strict" nodeset="1"/><memnode cellid="0" mode="strict" nodeset="1"/></numatune>`),
			}
			if diffs := Diff(want, f); len(diffs) > 0 {
				t.Errorf("%s", joinDiffs(diffs))
			}
		})
	}
	t.Run("share with cpu_shared_set offline", func(t *testing.T) {
		_, err := NUMAConfig(Input{Instance: dedicated(topology.EmulatorThreadsShare, cpuset.CPUSet{}), Flavor: flavor,
			Host: twoNodeHost(), HostOnlineCPUs: cpuset.MustParse("1,3"),
			Config: Config{VCPUPinSet: setPtr("1,3"), CPUSharedSet: setPtr("0,2")}})
		wantClass(t, err, "Invalid")
	})
}

func TestBuildCPUQuotaAndIOThreads(t *testing.T) {
	flavor := topology.Flavor{VCPUs: 1, MemoryMB: 512, ExtraSpecs: map[string]string{
		"quota:cpu_shares": "2048", "quota:cpu_period": "20000", "quota:cpu_quota": "-1",
	}}
	f, err := Build(Input{Flavor: flavor, Profile: nova.Profile{IOThreadPinning: true}})
	if err != nil {
		t.Fatal(err)
	}
	want := Fragments{
		IOThreads: 1,
		CPUTune:   parseFragment[libvirtxml.DomainCPUTune](t, `<cputune><shares>2048</shares><period>20000</period><quota>-1</quota></cputune>`),
	}
	if diffs := Diff(want, f); len(diffs) > 0 {
		t.Errorf("%s", joinDiffs(diffs))
	}

	flavor.ExtraSpecs = map[string]string{"quota:cpu_shares": "lots"}
	_, err = Build(Input{Flavor: flavor})
	wantClass(t, err, "ValueError")
	flavor.ExtraSpecs = map[string]string{"quota:cpu_shares": "1_000"}
	_, err = Build(Input{Flavor: flavor, HostFeatures: HostFeatures{NoCPUControlPolicy: true}})
	wantClass(t, err, "UnsupportedHostCPUControlPolicy")
}

func TestMemoryBacking(t *testing.T) {
	numatune := parseFragment[libvirtxml.DomainNUMATune](t,
		`<numatune><memory mode="strict" nodeset="0-1"/><memnode cellid="0" mode="strict" nodeset="1"/><memnode cellid="1" mode="strict" nodeset="0"/></numatune>`)
	paged := func(sizes ...int) *topology.InstanceTopology {
		inst := &topology.InstanceTopology{}
		for i, s := range sizes {
			inst.Cells = append(inst.Cells, topology.InstanceCell{ID: 1 - i, CPUSet: cpuset.New(i), MemoryMiB: 512, PageSizeKB: s})
		}
		return inst
	}
	flavor := func(specs ...string) topology.Flavor {
		f := topology.Flavor{VCPUs: 2, MemoryMB: 1024, ExtraSpecs: map[string]string{}}
		for i := 0; i+1 < len(specs); i += 2 {
			f.ExtraSpecs[specs[i]] = specs[i+1]
		}
		return f
	}
	cases := []struct {
		name  string
		in    Input
		want  string // "" = no element
		class string
	}{
		{"huge pages per guest cell", Input{Instance: paged(2048, 2048), Host: twoNodeHost()},
			`<memoryBacking><hugepages><page size="2048" nodeset="0" unit="KiB"/><page size="2048" nodeset="1" unit="KiB"/></hugepages></memoryBacking>`, ""},
		{"small pages only: nothing", Input{Instance: paged(4, 4), Host: twoNodeHost()}, "", ""},
		{"mixed sizes", Input{Instance: paged(4, 2048), Host: twoNodeHost()},
			`<memoryBacking><hugepages><page size="2048" nodeset="1" unit="KiB"/></hugepages></memoryBacking>`, ""},
		{"no page size", Input{Instance: paged(0, 0), Host: twoNodeHost()}, "", ""},
		{"file backed", Input{Config: Config{FileBackedMemory: 1024}},
			`<memoryBacking><source type="file"/><access mode="shared"/><allocation mode="immediate"/><discard/></memoryBacking>`, ""},
		{"file backed with huge pages", Input{Instance: paged(2048), Host: twoNodeHost(), Config: Config{FileBackedMemory: 1024}}, "", "MemoryPagesUnsupported"},
		{"huge pages, host without NUMA support", Input{Instance: paged(2048), Host: twoNodeHost(), HostFeatures: HostFeatures{NoNUMASupport: true}}, "", "MemoryPagesUnsupported"},
		{"huge pages, host without topology", Input{Instance: paged(2048)}, "", "MemoryPagesUnsupported"},
		{"locked by image", Input{Flavor: flavor("hw:mem_page_size", "large"), Image: topology.ImageProps{"hw_locked_memory": "yes"}},
			`<memoryBacking><locked/></memoryBacking>`, ""},
		{"locked: flavor and image disagree", Input{Flavor: flavor("hw:mem_page_size", "large", "hw:locked_memory", "true"), Image: topology.ImageProps{"hw_locked_memory": "false"}},
			"", "FlavorImageLockedMemoryConflict"},
		{"locked without page size", Input{Flavor: flavor("hw:locked_memory", "1")}, "", "LockMemoryForbidden"},
		{"not locked", Input{Flavor: flavor("hw:locked_memory", "no")}, "", ""},
		{"SEV", Input{Flavor: flavor("hw:mem_encryption", "true"), Image: topology.ImageProps{"hw_firmware_type": "uefi"},
			HostFeatures: HostFeatures{AMDSEV: true, MachineType: "pc-q35-7.2"}}, `<memoryBacking><locked/></memoryBacking>`, ""},
		{"SEV not supported by the host", Input{Flavor: flavor("hw:mem_encryption", "true")}, "", ""},
		{"SEV without UEFI", Input{Flavor: flavor("hw:mem_encryption", "true"), HostFeatures: HostFeatures{AMDSEV: true}}, "", "FlavorImageConflict"},
		{"SEV on the default machine type", Input{Flavor: flavor("hw:mem_encryption", "true"), Image: topology.ImageProps{"hw_firmware_type": "uefi"},
			HostFeatures: HostFeatures{AMDSEV: true}}, "", "InvalidMachineType"},
		{"SEV on q35 from the image", Input{Flavor: flavor("hw:mem_encryption", "1"), Image: topology.ImageProps{"hw_firmware_type": "uefi", "hw_machine_type": "q35"},
			HostFeatures: HostFeatures{AMDSEV: true}}, `<memoryBacking><locked/></memoryBacking>`, ""},
		{"SEV on pc machine type", Input{Image: topology.ImageProps{"hw_mem_encryption": "true", "hw_firmware_type": "uefi"},
			HostFeatures: HostFeatures{AMDSEV: true, MachineType: "pc"}}, "", "InvalidMachineType"},
		{"SEV: flavor and image disagree", Input{Flavor: flavor("hw:mem_encryption", "true"), Image: topology.ImageProps{"hw_mem_encryption": "false", "hw_firmware_type": "uefi"},
			HostFeatures: HostFeatures{AMDSEV: true}}, "", "FlavorImageConflict"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := MemoryBacking(c.in, numatune)
			if c.class != "" {
				wantClass(t, err, c.class)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want *libvirtxml.DomainMemoryBacking
			if c.want != "" {
				want = parseFragment[libvirtxml.DomainMemoryBacking](t, c.want)
			}
			if diffs := Diff(Fragments{MemoryBacking: want}, Fragments{MemoryBacking: got}); len(diffs) > 0 {
				t.Errorf("%s", joinDiffs(diffs))
			}
		})
	}
	t.Run("only cells with a memnode", func(t *testing.T) {
		one := parseFragment[libvirtxml.DomainNUMATune](t, `<numatune><memnode cellid="1" mode="strict" nodeset="0"/></numatune>`)
		got, err := MemoryBacking(Input{Instance: paged(2048, 2048), Host: twoNodeHost()}, one)
		if err != nil {
			t.Fatal(err)
		}
		want := parseFragment[libvirtxml.DomainMemoryBacking](t, `<memoryBacking><hugepages><page size="2048" nodeset="1" unit="KiB"/></hugepages></memoryBacking>`)
		if diffs := Diff(Fragments{MemoryBacking: want}, Fragments{MemoryBacking: got}); len(diffs) > 0 {
			t.Errorf("%s", joinDiffs(diffs))
		}
	})
}
