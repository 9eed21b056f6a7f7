package constraints

import (
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// decodeProps reads "key=value" lines; the fuzzer mutates the text freely,
// so keys and values may hold anything but a newline.
func decodeProps(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// FuzzGet feeds arbitrary extra specs and image properties to every entry
// point: none may panic, and every error must name a Nova exception class.
func FuzzGet(f *testing.F) {
	seeds := []struct {
		vcpus, mem   int
		specs, image string
	}{
		{4, 2048, "hw:numa_nodes=2", ""},
		{8, 2048, "hw:numa_nodes=2\nhw:numa_cpus.0=0-2\nhw:numa_cpus.1=3-7\nhw:numa_mem.0=1024\nhw:numa_mem.1=1024", ""},
		{8, 2048, "hw:numa_nodes=2", "hw_numa_cpus.0=0,9\nhw_numa_cpus.1=1-7\nhw_numa_mem.0=1024\nhw_numa_mem.1=1_024"},
		{4, 2048, "hw:cpu_policy=mixed\nhw:cpu_dedicated_mask=^0\nhw:cpu_realtime=yes\nhw:cpu_realtime_mask=^0-1", ""},
		{4, 2048, "hw:cpu_policy=dedicated\nhw:cpu_thread_policy=isolate\nhw:emulator_threads_policy=isolate", "hw_cpu_thread_policy=require"},
		{4, 2048, "resources:PCPU=5\nhw:emulator_threads_policy=isolate\ntrait:HW_CPU_HYPERTHREADING=forbidden", "trait:HW_CPU_HYPERTHREADING=required"},
		{4, 2048, "hw:mem_page_size=any\nhw:locked_memory=true", "hw_mem_page_size=1GB\nhw_locked_memory=true"},
		{4, 2048, "hw:mem_page_size=1.5KB\nhw:pmem=a,b", ""},
		{4, 2048, "hw:mem_page_size=" + strings.Repeat("9", 320) + "TB", ""},
		{4, 2048, "hw:mem_page_size=2²", "hw_mem_page_size=٣"},
		{16, 2048, "hw:cpu_sockets=8\nhw:cpu_cores=2\nhw:cpu_max_threads= 2", "hw_cpu_max_sockets=4\nhw_cpu_threads=x"},
		{0, 0, "hw:numa_nodes=99999999999999999999999", ""},
		{4, 2048, "hw:numa_nodes=02\nhw:cpu_realtime_mask=0--0", "hw_numa_nodes= 2 "},
		{4, 2048, "hw:cpu_policy=mixed\nhw:cpu_dedicated_mask=0-4000000000", ""},
		{4, 2048, "", "architecture=AMD64\nvmware_adaptertype=paravirtual\nimg_hv_requested_version=>=1.0)\nx"},
		{4, 2048, "", "img_mappings=[]\nhw_architecture=İ686\nos_type=Linux"},
		{4, 2048, "hw:cpu_thread_policy=\nhw:cpu_policy=dedicated", ""},
		{-4, -2048, "hw:numa_nodes=2\nhw:cpu_dedicated_mask=^1", ""},
	}
	for _, s := range seeds {
		f.Add(s.vcpus, s.mem, s.specs, s.image, true)
	}
	f.Fuzz(func(t *testing.T, vcpus, mem int, specText, imageText string, threads bool) {
		// Flavors hold at most a few hundred vCPUs; the bound keeps the
		// topology enumeration cheap, not correct only for small values.
		vcpus = max(min(vcpus, 512), -512)
		flavor := topology.Flavor{VCPUs: vcpus, MemoryMB: mem, ExtraSpecs: decodeProps(specText)}
		image := topology.ImageProps(decodeProps(imageText))
		check := func(what string, err error) {
			if err != nil && nova.ClassOf(err) == "" {
				t.Fatalf("%s: error without a Nova class: %v", what, err)
			}
		}
		got, err := Get(flavor, image)
		check("Get", err)
		if err == nil && got != nil {
			for i, c := range got.Cells {
				if c.ID != i || c.CPUSet.Intersects(c.PCPUSet) {
					t.Fatalf("malformed cell %d: %+v", i, c)
				}
			}
		}
		_, err = CPUPolicy(flavor, image)
		check("CPUPolicy", err)
		_, _, err = RealtimeCPUs(flavor, image)
		check("RealtimeCPUs", err)
		_, err = PageSize(flavor, image)
		check("PageSize", err)
		_, err = EmulatorThreadsPolicy(flavor)
		check("EmulatorThreadsPolicy", err)
		RealtimeEnabled(flavor)
		_, err = BestCPUTopology(flavor, image, threads)
		check("BestCPUTopology", err)
	})
}
