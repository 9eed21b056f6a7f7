package constraints

import (
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// getCase is one numa_get_constraints call. want is the exception class,
// or "" for success, in which case check (if set) inspects the result.
// Every expectation here was confirmed against Nova 26.2.2.
type getCase struct {
	name   string
	vcpus  int
	mem    int
	specs  map[string]string
	image  map[string]string
	want   string
	check  func(t *testing.T, got *topology.InstanceTopology)
	noNUMA bool
}

func specs(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func oneCell(cpus, pcpus string, policy topology.CPUPolicy, thread topology.ThreadPolicy, page int) func(t *testing.T, got *topology.InstanceTopology) {
	return func(t *testing.T, got *topology.InstanceTopology) {
		t.Helper()
		if len(got.Cells) != 1 {
			t.Fatalf("want 1 cell, got %+v", got.Cells)
		}
		c := got.Cells[0]
		if !c.CPUSet.Equal(cpuset.MustParse(cpus)) || !c.PCPUSet.Equal(cpuset.MustParse(pcpus)) ||
			c.CPUPolicy != policy || c.CPUThreadPolicy != thread || c.PageSizeKB != page {
			t.Fatalf("want cpuset=%s pcpuset=%s policy=%q thread=%q pagesize=%d, got %+v", cpus, pcpus, policy, thread, page, c)
		}
	}
}

var getCases = []getCase{
	// a.3.1 CPU policy
	{name: "policy/invalid flavor value", specs: specs("hw:cpu_policy", "Dedicated"), want: "InvalidCPUAllocationPolicy"},
	{name: "policy/invalid image value fails at ImageMeta", image: specs("hw_cpu_policy", "foo"), want: "ValueError"},
	{name: "policy/empty image value fails at ImageMeta", image: specs("hw_cpu_policy", ""), want: "ValueError"},
	{name: "policy/flavor dedicated beats image shared", specs: specs("hw:cpu_policy", "dedicated"), image: specs("hw_cpu_policy", "shared"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "policy/flavor mixed refuses image dedicated", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "0"),
		image: specs("hw_cpu_policy", "dedicated"), want: "ImageCPUPinningForbidden"},
	{name: "policy/flavor shared refuses image mixed", specs: specs("hw:cpu_policy", "shared"), image: specs("hw_cpu_policy", "mixed"), want: "ImageCPUPinningForbidden"},
	{name: "policy/image alone", image: specs("hw_cpu_policy", "dedicated"), check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "policy/shared alone builds no topology", specs: specs("hw:cpu_policy", "shared"), noNUMA: true},
	{name: "policy/empty flavor value is unset", specs: specs("hw:cpu_policy", ""), image: specs("hw_cpu_policy", "dedicated"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},

	// a.3.2 thread policy
	{name: "thread/invalid flavor value", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", "foo"), want: "InvalidCPUThreadAllocationPolicy"},
	{name: "thread/flavor prefer beats image isolate", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", "prefer"),
		image: specs("hw_cpu_thread_policy", "isolate"), check: oneCell("", "0-3", topology.CPUPolicyDedicated, topology.ThreadPolicyPrefer, 0)},
	{name: "thread/image when flavor unset", specs: specs("hw:cpu_policy", "dedicated"), image: specs("hw_cpu_thread_policy", "require"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, topology.ThreadPolicyRequire, 0)},
	{name: "thread/flavor isolate refuses image require", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", "isolate"),
		image: specs("hw_cpu_thread_policy", "require"), want: "ImageCPUThreadPolicyForbidden"},
	{name: "thread/flavor isolate accepts same image value", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", "isolate"),
		image: specs("hw_cpu_thread_policy", "isolate"), check: oneCell("", "0-3", topology.CPUPolicyDedicated, topology.ThreadPolicyIsolate, 0)},
	{name: "thread/empty flavor value conflicts with any image value", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", ""),
		image: specs("hw_cpu_thread_policy", "prefer"), want: "ImageCPUThreadPolicyForbidden"},
	{name: "thread/empty flavor value is refused by the instance cell", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", ""), want: "ValueError"},
	{name: "thread/empty flavor value is harmless without a topology", specs: specs("hw:cpu_thread_policy", ""), noNUMA: true},

	// a.3.3 realtime
	{name: "realtime/no mask and no emulator policy", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_realtime", "yes"), want: "RealtimeMaskNotFoundOrInvalid"},
	{name: "realtime/no mask with emulator policy", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_realtime", "yes", "hw:emulator_threads_policy", "share"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "realtime/mask excluding everything", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_realtime", "true", "hw:cpu_realtime_mask", "^0-3"), want: "RealtimeMaskNotFoundOrInvalid"},
	{name: "realtime/mask beyond the vCPUs", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_realtime", "true", "hw:cpu_realtime_mask", "2-70000"), want: "RealtimeMaskNotFoundOrInvalid"},
	{name: "realtime/bad mask is Invalid", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_realtime", "true", "hw:cpu_realtime_mask", "3-1"), want: "Invalid"},
	{name: "realtime/bad emulator policy is checked inside", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_realtime", "true", "hw:emulator_threads_policy", "foo"), want: "InvalidEmulatorThreadsPolicy"},
	{name: "realtime/image mask wins", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_realtime", "on", "hw:cpu_realtime_mask", "0-70000"),
		image: specs("hw_cpu_realtime_mask", "^0"), check: oneCell("0", "1-3", topology.CPUPolicyMixed, "", 0)},
	{name: "realtime/typo in the switch disables it", specs: specs("hw:cpu_realtime", "ture", "hw:cpu_realtime_mask", "x"), noNUMA: true},

	// a.3.4 dedicated mask and emulator policy
	{name: "dedicated mask/all vCPUs", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "0-3"), want: "InvalidMixedInstanceDedicatedMask"},
	{name: "dedicated mask/empty", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "^0-3"), want: "InvalidMixedInstanceDedicatedMask"},
	{name: "dedicated mask/beyond the vCPUs", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "1,7"), want: "InvalidMixedInstanceDedicatedMask"},
	{name: "dedicated mask/malformed", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "1-x"), want: "Invalid"},
	{name: "emulator/invalid value", specs: specs("hw:cpu_policy", "dedicated", "hw:emulator_threads_policy", "Isolate"), want: "InvalidEmulatorThreadsPolicy"},

	// a.3.5 placement resources
	{name: "resources/with a CPU policy", specs: specs("hw:cpu_policy", "shared", "resources:VCPU", "4"), want: "InvalidRequest"},
	{name: "resources/with an image CPU policy", specs: specs("resources:PCPU", "4"), image: specs("hw_cpu_policy", "dedicated"), want: "InvalidRequest"},
	{name: "resources/VCPU and PCPU", specs: specs("resources1:VCPU", "2", "resources2:PCPU", "2"), want: "InvalidRequest"},
	{name: "resources/PCPU short for isolate", specs: specs("resources:PCPU", "4", "hw:emulator_threads_policy", "isolate"), want: "InvalidRequest"},
	{name: "resources/PCPU for isolate", specs: specs("resources:PCPU", "5", "hw:emulator_threads_policy", "isolate"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "resources/PCPU summed over groups", specs: specs("resources1:PCPU", "1", "resources2:PCPU", "3"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "resources/non-integer ignored", specs: specs("resources:PCPU", "four"), noNUMA: true},
	{name: "resources/VCPU means shared", specs: specs("resources:VCPU", "4", "hw:cpu_thread_policy", "prefer"), want: "CPUThreadPolicyConfigurationInvalid"},
	{name: "resources/key prefix match", specs: specs("resources:PCPU_EXTRA", "4"), check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},

	// a.3.6 hyperthreading trait
	{name: "trait/with a thread policy", specs: specs("hw:cpu_policy", "dedicated", "hw:cpu_thread_policy", "prefer", "trait:HW_CPU_HYPERTHREADING", "forbidden"), want: "InvalidRequest"},
	{name: "trait/forbidden means isolate", specs: specs("hw:cpu_policy", "dedicated", "trait:HW_CPU_HYPERTHREADING", "forbidden"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, topology.ThreadPolicyIsolate, 0)},
	{name: "trait/image required means require", specs: specs("hw:cpu_policy", "dedicated"), image: specs("trait:HW_CPU_HYPERTHREADING", "required"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, topology.ThreadPolicyRequire, 0)},
	{name: "trait/image forbidden is not a required trait", specs: specs("hw:cpu_policy", "dedicated"), image: specs("trait:HW_CPU_HYPERTHREADING", "forbidden"),
		check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "trait/empty flavor value hides the image trait", specs: specs("hw:cpu_policy", "dedicated", "trait:HW_CPU_HYPERTHREADING", ""),
		image: specs("trait:HW_CPU_HYPERTHREADING", "required"), check: oneCell("", "0-3", topology.CPUPolicyDedicated, "", 0)},
	{name: "trait/needs a pinning policy", specs: specs("trait:HW_CPU_HYPERTHREADING", "required"), want: "CPUThreadPolicyConfigurationInvalid"},

	// a.3.7 sanity checks
	{name: "sanity/isolate emulator without pinning", specs: specs("hw:emulator_threads_policy", "isolate"), want: "BadRequirementEmulatorThreadsPolicy"},
	{name: "sanity/share emulator without pinning", specs: specs("hw:emulator_threads_policy", "share", "hw:numa_nodes", "1"),
		check: func(t *testing.T, got *topology.InstanceTopology) {
			if got.EmulatorThreadsPolicy != topology.EmulatorThreadsShare {
				t.Fatalf("want emulator policy share, got %+v", got)
			}
		}},
	{name: "sanity/dedicated mask without mixed", specs: specs("hw:cpu_dedicated_mask", "0"), want: "RequiredMixedInstancePolicy"},
	{name: "sanity/realtime without pinning", specs: specs("hw:cpu_realtime", "yes", "hw:cpu_realtime_mask", "^0"), want: "RealtimeConfigurationInvalid"},
	{name: "sanity/mixed needs a mask", specs: specs("hw:cpu_policy", "mixed"), want: "RequiredMixedOrRealtimeCPUMask"},
	{name: "sanity/mixed with both masks", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "0", "hw:cpu_realtime", "yes", "hw:cpu_realtime_mask", "^0"),
		want: "RequiredMixedOrRealtimeCPUMask"},

	// a.3.8 node count
	{name: "nodes/flavor and image", specs: specs("hw:numa_nodes", "1"), image: specs("hw_numa_nodes", "1"), want: "ImageNUMATopologyForbidden"},
	{name: "nodes/image zero does not conflict", specs: specs("hw:numa_nodes", "2"), image: specs("hw_numa_nodes", "0"),
		check: func(t *testing.T, got *topology.InstanceTopology) {
			if len(got.Cells) != 2 {
				t.Fatalf("want 2 cells, got %+v", got.Cells)
			}
		}},
	{name: "nodes/image zero", image: specs("hw_numa_nodes", "0"), want: "InvalidNUMANodesNumber"},
	{name: "nodes/not canonical", specs: specs("hw:numa_nodes", "02"), want: "InvalidNUMANodesNumber"},
	{name: "nodes/image not an int", image: specs("hw_numa_nodes", "two"), want: "ValueError"},
	{name: "nodes/image int() accepts blanks", image: specs("hw_numa_nodes", " 2 "),
		check: func(t *testing.T, got *topology.InstanceTopology) {
			if len(got.Cells) != 2 {
				t.Fatalf("want 2 cells, got %+v", got.Cells)
			}
		}},
	{name: "nodes/uneven split", specs: specs("hw:numa_nodes", "3"), want: "ImageNUMATopologyAsymmetric"},
	{name: "nodes/more nodes than vCPUs", specs: specs("hw:numa_nodes", "8"), want: "ImageNUMATopologyAsymmetric"},

	// a.3.9 page size
	{name: "page/image without flavor", image: specs("hw_mem_page_size", "large"), want: "MemoryPageSizeForbidden"},
	{name: "page/image under flavor any", specs: specs("hw:mem_page_size", "any"), image: specs("hw_mem_page_size", "1GB"),
		check: oneCell("0-3", "", "", "", 1048576)},
	{name: "page/image under explicit flavor size", specs: specs("hw:mem_page_size", "2048"), image: specs("hw_mem_page_size", "2048"), want: "MemoryPageSizeForbidden"},
	{name: "page/small is a trigger", specs: specs("hw:mem_page_size", "small"), check: oneCell("0-3", "", "", "", topology.PageSizeSmall)},
	{name: "page/unit without B", specs: specs("hw:mem_page_size", "2M"), want: "MemoryPageSizeInvalid"},
	{name: "page/fractional KiB truncated in the cell", specs: specs("hw:mem_page_size", "1.5KB"), check: oneCell("0-3", "", "", "", 1)},
	{name: "page/superscript digit escapes as ValueError", specs: specs("hw:mem_page_size", "2²"), want: "ValueError"},
	{name: "page/infinite size", specs: specs("hw:mem_page_size", strings.Repeat("9", 400)+"TB"), want: "OverflowError"},

	// a.3.10 locked memory
	{name: "locked/conflict", specs: specs("hw:locked_memory", "true", "hw:mem_page_size", "large"), image: specs("hw_locked_memory", "false"),
		want: "FlavorImageLockedMemoryConflict"},
	{name: "locked/empty flavor value reads as false", specs: specs("hw:locked_memory", "", "hw:mem_page_size", "large"), image: specs("hw_locked_memory", "yes"),
		want: "FlavorImageLockedMemoryConflict"},
	{name: "locked/without page size", image: specs("hw_locked_memory", "1"), want: "LockMemoryForbidden"},
	{name: "locked/image page size is enough", specs: specs("hw:locked_memory", "on", "hw:mem_page_size", "any"), image: specs("hw_mem_page_size", "small"),
		check: oneCell("0-3", "", "", "", topology.PageSizeSmall)},

	// a.3.11 / b CPU and memory lists
	{name: "lists/flavor and image CPU lists", specs: specs("hw:numa_nodes", "1", "hw:numa_cpus.0", "0-3", "hw:numa_mem.0", "2048"),
		image: specs("hw_numa_cpus.0", "0-3"), want: "ImageNUMATopologyForbidden"},
	{name: "lists/flavor nodes with image lists", specs: specs("hw:numa_nodes", "2"),
		image: specs("hw_numa_cpus.0", "0", "hw_numa_cpus.1", "1-3", "hw_numa_mem.0", "1024", "hw_numa_mem.1", "1024"),
		check: func(t *testing.T, got *topology.InstanceTopology) {
			if len(got.Cells) != 2 || !got.Cells[1].CPUSet.Equal(cpuset.MustParse("1-3")) {
				t.Fatalf("want cell 1 with vCPUs 1-3, got %+v", got.Cells)
			}
		}},
	{name: "lists/ignored without a trigger", specs: specs("hw:numa_cpus.0", "x"), noNUMA: true},
	{name: "lists/reading stops at the first gap", specs: specs("hw:numa_nodes", "2", "hw:numa_cpus.0", "0-1", "hw:numa_cpus.2", "2-3",
		"hw:numa_mem.0", "1024", "hw:numa_mem.1", "1024"), want: "ImageNUMATopologyIncomplete"},
	{name: "lists/entries after a gap are not parsed", specs: specs("hw:numa_nodes", "1", "hw:numa_cpus.0", "0-3", "hw:numa_cpus.2", "x",
		"hw:numa_mem.0", "2048"), check: oneCell("0-3", "", "", "", 0)},
	{name: "lists/bad flavor memory is a ValueError", specs: specs("hw:numa_nodes", "1", "hw:numa_cpus.0", "0-3", "hw:numa_mem.0", "2G"), want: "ValueError"},
	{name: "lists/bad image CPU list fails at ImageMeta", image: specs("hw_numa_cpus.0", "0-x"), want: "Invalid"},
	{name: "lists/image int() accepts underscores", specs: specs("hw:numa_nodes", "1"), image: specs("hw_numa_cpus.0", "0-3", "hw_numa_mem.0", "2_048"),
		check: oneCell("0-3", "", "", "", 0)},
	{name: "lists/out of range", specs: specs("hw:numa_nodes", "1", "hw:numa_cpus.0", "0-4", "hw:numa_mem.0", "2048"), want: "ImageNUMATopologyCPUOutOfRange"},
	{name: "lists/duplicate", specs: specs("hw:numa_nodes", "2", "hw:numa_cpus.0", "0-2", "hw:numa_cpus.1", "2-3",
		"hw:numa_mem.0", "1024", "hw:numa_mem.1", "1024"), want: "ImageNUMATopologyCPUDuplicates"},
	// {3, 9} iterates as [9, 3] in CPython: the out-of-range 9 is met first.
	{name: "lists/set order decides out of range", specs: specs("hw:numa_nodes", "2", "hw:numa_cpus.0", "0-3", "hw:numa_cpus.1", "3,9",
		"hw:numa_mem.0", "1024", "hw:numa_mem.1", "1024"), want: "ImageNUMATopologyCPUOutOfRange"},
	// {2, 100} iterates as [2, 100]: the duplicate 2 is met first.
	{name: "lists/set order decides duplicate", specs: specs("hw:numa_nodes", "2", "hw:numa_cpus.0", "0-3", "hw:numa_cpus.1", "2,100",
		"hw:numa_mem.0", "1024", "hw:numa_mem.1", "1024"), want: "ImageNUMATopologyCPUDuplicates"},
	{name: "lists/unassigned", specs: specs("hw:numa_nodes", "2", "hw:numa_cpus.0", "0", "hw:numa_cpus.1", "1",
		"hw:numa_mem.0", "1024", "hw:numa_mem.1", "1024"), want: "ImageNUMATopologyCPUsUnassigned"},
	{name: "lists/memory total", specs: specs("hw:numa_nodes", "2", "hw:numa_cpus.0", "0-1", "hw:numa_cpus.1", "2-3",
		"hw:numa_mem.0", "1024", "hw:numa_mem.1", "1000"), want: "ImageNUMATopologyMemoryOutOfRange"},
	{name: "lists/uneven manual split", specs: specs("hw:cpu_policy", "mixed", "hw:cpu_dedicated_mask", "^0", "hw:numa_nodes", "2",
		"hw:numa_cpus.0", "0", "hw:numa_cpus.1", "1-3", "hw:numa_mem.0", "512", "hw:numa_mem.1", "1536"),
		check: func(t *testing.T, got *topology.InstanceTopology) {
			c0, c1 := got.Cells[0], got.Cells[1]
			if !c0.CPUSet.Equal(cpuset.New(0)) || !c0.PCPUSet.IsEmpty() || !c1.CPUSet.IsEmpty() ||
				!c1.PCPUSet.Equal(cpuset.MustParse("1-3")) || c0.MemoryMiB != 512 || c1.MemoryMiB != 1536 {
				t.Fatalf("unexpected cells %+v", got.Cells)
			}
		}},

	// b: triggers
	{name: "trigger/vpmem", specs: specs("hw:pmem", "SMALL,"), check: oneCell("0-3", "", "", "", 0)},
	{name: "trigger/blank vpmem labels", specs: specs("hw:pmem", " , "), noNUMA: true},
	{name: "trigger/nothing", specs: specs("hw:cpu_sockets", "2"), noNUMA: true},

	// a.2: image properties unrelated to NUMA still fail the ImageMeta build
	{name: "image/bad architecture", image: specs("hw_architecture", "z80"), want: "ValueError"},
	{name: "image/architecture alias", specs: specs("hw:numa_nodes", "1"), image: specs("architecture", "AMD64"), check: oneCell("0-3", "", "", "", 0)},
	{name: "image/legacy SCSI adapter", image: specs("vmware_adaptertype", "foo"), want: "ValueError"},
	{name: "image/list field given a string", image: specs("img_mappings", "[]"), want: "ValueError"},
	{name: "image/bad version predicate", image: specs("img_hv_requested_version", "2.6"), want: "ValueError"},
	{name: "image/boolean never fails", image: specs("hw_pmu", "perhaps"), noNUMA: true},
	{name: "image/unknown property ignored", image: specs("hw_cpu_polcy", "foo"), noNUMA: true},
}

func TestGetBranches(t *testing.T) {
	for _, c := range getCases {
		t.Run(c.name, func(t *testing.T) {
			flavor := topology.Flavor{VCPUs: 4, MemoryMB: 2048, ExtraSpecs: c.specs}
			if c.vcpus != 0 {
				flavor.VCPUs = c.vcpus
			}
			if c.mem != 0 {
				flavor.MemoryMB = c.mem
			}
			got, err := Get(flavor, c.image)
			if c.want != "" {
				if nova.ClassOf(err) != c.want {
					t.Fatalf("want %s, got %v / %+v", c.want, err, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("want success, got %v", err)
			}
			if c.noNUMA != (got == nil) {
				t.Fatalf("want no topology=%t, got %+v", c.noNUMA, got)
			}
			if c.check != nil {
				c.check(t, got)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	flavor := func(kv ...string) topology.Flavor {
		return topology.Flavor{VCPUs: 4, MemoryMB: 2048, ExtraSpecs: specs(kv...)}
	}
	if !RealtimeEnabled(flavor("hw:cpu_realtime", " YES ")) || RealtimeEnabled(flavor("hw:cpu_realtime", "enabled")) {
		t.Error("RealtimeEnabled should follow oslo bool_from_string")
	}
	if p, err := EmulatorThreadsPolicy(flavor("hw:emulator_threads_policy", "")); p != "" || err != nil {
		t.Errorf("empty emulator policy: got %q, %v", p, err)
	}
	if rt, ok, err := RealtimeCPUs(flavor(), nil); ok || err != nil || !rt.IsEmpty() {
		t.Errorf("realtime off: got %v %t %v", rt, ok, err)
	}
	if rt, ok, err := RealtimeCPUs(flavor("hw:cpu_realtime", "1", "hw:cpu_realtime_mask", " ^1"), nil); !ok || err != nil || !rt.Equal(cpuset.New(0, 2, 3)) {
		t.Errorf("realtime ^1: got %v %t %v", rt, ok, err)
	}
	for _, c := range []struct {
		spec string
		want int
		err  string
	}{
		{spec: "4Kib", want: 0}, {spec: "8Kib", want: 1}, {spec: "2048KiB", want: 2048}, {spec: "1Gbit", want: 131072},
		{spec: "2MB\n", want: 2048}, {spec: "٣", want: 3}, {spec: "-2048B", want: -2}, {spec: ".5MB", want: 512},
		{spec: "5.MB", err: "MemoryPageSizeInvalid"}, {spec: "2mb", err: "MemoryPageSizeInvalid"}, {spec: "2 MB", err: "MemoryPageSizeInvalid"},
	} {
		got, err := PageSize(flavor("hw:mem_page_size", c.spec), nil)
		if nova.ClassOf(err) != c.err || (err == nil && got != c.want) {
			t.Errorf("page size %q: want %d / %q, got %d / %v", c.spec, c.want, c.err, got, err)
		}
	}
}

func TestCPUTopology(t *testing.T) {
	flavor := func(vcpus int, kv ...string) topology.Flavor {
		return topology.Flavor{VCPUs: vcpus, MemoryMB: 2048, ExtraSpecs: specs(kv...)}
	}
	best := func(f topology.Flavor, image map[string]string, threads bool) (topology.GuestCPUTopology, string) {
		got, err := BestCPUTopology(f, image, threads)
		return got, nova.ClassOf(err)
	}
	cases := []struct {
		name    string
		flavor  topology.Flavor
		image   map[string]string
		threads bool
		want    topology.GuestCPUTopology
		err     string
	}{
		{name: "default is one socket per vCPU", flavor: flavor(4), threads: true, want: topology.GuestCPUTopology{Sockets: 4, Cores: 1, Threads: 1}},
		{name: "Zed reads hw:cpu_max_*", flavor: flavor(8, "hw:cpu_max_sockets", "2"), threads: true, want: topology.GuestCPUTopology{Sockets: 2, Cores: 4, Threads: 1}},
		{name: "validator spelling has no effect", flavor: flavor(8, "hw:max_cpu_sockets", "2"), threads: true, want: topology.GuestCPUTopology{Sockets: 8, Cores: 1, Threads: 1}},
		{name: "preferred threads", flavor: flavor(8, "hw:cpu_threads", "2"), threads: true, want: topology.GuestCPUTopology{Sockets: 4, Cores: 1, Threads: 2}},
		{name: "threads not allowed", flavor: flavor(8, "hw:cpu_threads", "2", "hw:cpu_sockets", "1"), threads: false, want: topology.GuestCPUTopology{Sockets: 1, Cores: 8, Threads: 1}},
		{name: "image preference replaces the flavor's", flavor: flavor(8, "hw:cpu_sockets", "4", "hw:cpu_cores", "2"), image: specs("hw_cpu_threads", "8"),
			threads: true, want: topology.GuestCPUTopology{Sockets: 1, Cores: 1, Threads: 8}},
		{name: "flavor preference beyond the image limit is dropped", flavor: flavor(8, "hw:cpu_sockets", "8"), image: specs("hw_cpu_max_sockets", "2"),
			threads: true, want: topology.GuestCPUTopology{Sockets: 2, Cores: 4, Threads: 1}},
		{name: "image limit above the flavor's", flavor: flavor(8, "hw:cpu_max_cores", "2"), image: specs("hw_cpu_max_cores", "4"), err: "ImageVCPULimitsRangeExceeded"},
		{name: "image preference above the limit", flavor: flavor(8, "hw:cpu_max_cores", "2"), image: specs("hw_cpu_cores", "4"), err: "ImageVCPUTopologyRangeExceeded"},
		{name: "impossible limits", flavor: flavor(8, "hw:cpu_max_sockets", "1", "hw:cpu_max_cores", "2", "hw:cpu_max_threads", "2"), err: "ImageVCPULimitsRangeImpossible"},
		{name: "negative flavor limit", flavor: flavor(8, "hw:cpu_max_sockets", "-1"), err: "ImageVCPULimitsRangeExceeded"},
		{name: "bad flavor value", flavor: flavor(8, "hw:cpu_cores", "two"), err: "InvalidRequest"},
		{name: "bad image value", flavor: flavor(8), image: specs("hw_cpu_cores", "two"), err: "ValueError"},
		{name: "no vCPUs", flavor: flavor(0), err: "ImageVCPULimitsRangeImpossible"},
	}
	for _, c := range cases {
		got, err := best(c.flavor, c.image, c.threads)
		if err != c.err || (err == "" && got != c.want) {
			t.Errorf("%s: want %+v / %q, got %+v / %q", c.name, c.want, c.err, got, err)
		}
	}
	all, err := DesirableCPUTopologies(flavor(4, "hw:cpu_cores", "2"), nil, true)
	want := []topology.GuestCPUTopology{
		{Sockets: 2, Cores: 2, Threads: 1}, {Sockets: 1, Cores: 2, Threads: 2}, {Sockets: 4, Cores: 1, Threads: 1},
		{Sockets: 1, Cores: 4, Threads: 1}, {Sockets: 2, Cores: 1, Threads: 2}, {Sockets: 1, Cores: 1, Threads: 4},
	}
	if err != nil || len(all) != len(want) {
		t.Fatalf("desirable: got %v, %v", all, err)
	}
	for i := range want {
		if all[i] != want[i] {
			t.Fatalf("desirable: want %v, got %v", want, all)
		}
	}
}
