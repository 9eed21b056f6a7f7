package domain

import (
	"fmt"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// ReservedHugePages is one entry of nova.conf's reserved_huge_pages
// ("node:0,size:2048,count:64"): pages of one size on one host node that
// Nova must leave alone.
type ReservedHugePages struct {
	Node   int
	SizeKB int
	Count  int
}

// NUMASupported is the driver's _has_numa_support() for a QEMU/KVM host:
// true on the architectures where Nova tunes guest NUMA (x86, aarch64,
// ppc64). The harness only talks to QEMU hosts, and Zed's minimum QEMU
// version is always met by a running compute service.
func NUMASupported(caps *libvirtxml.Caps) bool {
	if caps == nil || caps.Host.CPU == nil {
		return false
	}
	switch caps.Host.CPU.Arch {
	case "i686", "x86_64", "aarch64", "ppc64", "ppc64le":
		return true
	}
	return false
}

// HostFromCapabilities is the driver's _get_host_numa_topology: the host
// NUMA cells as Nova's resource tracker and scheduler see them, built from
// the libvirt capabilities, the CPU-set options and reserved_huge_pages in
// cfg, and the online CPUs. It returns nil when Nova reports no topology
// (no NUMA support, or no cells), and nova.Invalid for a CPU-set option
// naming offline CPUs, as the compute service would at startup.
//
// Per cell:
//   - CPUSet is the cell's CPUs usable by floating vCPUs (vcpu_pin_set, else
//     cpu_shared_set, else none if cpu_dedicated_set is set, else all
//     online CPUs);
//   - PCPUSet is its CPUs in cpu_dedicated_set, or, on a host configured the
//     legacy way (no cpu_dedicated_set, and not cpu_shared_set alone), the
//     same CPUs as CPUSet;
//   - Siblings are the thread-sibling groups restricted to those CPUs, in
//     the order Nova lists them, which follows CPython's set iteration and
//     is not ascending (the fitter pins in that order);
//   - MemoryMiB is the cell memory in KiB divided by 1024, truncated;
//   - MemPages are libvirt's page sizes with their totals and reservations;
//   - usage is zero, as the driver reports it (the resource tracker adds the
//     guests' usage separately). Network affinity ([neutron] physnets) is
//     not modelled: every cell gets empty network metadata.
func HostFromCapabilities(caps *libvirtxml.Caps, cfg Config, online cpuset.CPUSet) (*topology.HostTopology, error) {
	if !NUMASupported(caps) {
		return nil, nil
	}
	topo := caps.Host.NUMA
	if topo == nil || topo.Cells == nil || len(topo.Cells.Cells) == 0 {
		return nil, nil
	}

	shared, err := vcpuAvailable(Input{Config: cfg, HostOnlineCPUs: online})
	if err != nil {
		return nil, err
	}
	dedicated, err := pcpuAvailable(cfg, online)
	if err != nil {
		return nil, err
	}
	if dedicated.IsEmpty() && !(cfg.CPUSharedSet != nil && cfg.VCPUPinSet == nil) {
		// Hosts configured before cpu_dedicated_set existed serve pinned
		// and floating guests from the same CPUs.
		dedicated = shared
	}

	reserved := map[int]map[int]int{}
	for _, r := range cfg.ReservedHugePages {
		if reserved[r.Node] == nil {
			reserved[r.Node] = map[int]int{}
		}
		reserved[r.Node][r.SizeKB] = r.Count
	}

	out := &topology.HostTopology{}
	for _, c := range topo.Cells.Cells {
		var (
			cpuIDs   []int
			specs    []string
			sockets  = map[string]*int{}
			cellCPUs []libvirtxml.CapsHostNUMACPU
		)
		if c.CPUS != nil {
			cellCPUs = c.CPUS.CPUs
		}
		for _, cpu := range cellCPUs {
			cpuIDs = append(cpuIDs, cpu.ID)
			specs = append(specs, cpu.Siblings)
			key := "none"
			if cpu.SocketID != nil {
				key = fmt.Sprint(*cpu.SocketID)
			}
			sockets[key] = cpu.SocketID
		}
		cpus := cpuset.New(cpuIDs...)

		var socket *int
		if len(sockets) == 1 {
			for _, s := range sockets {
				if s != nil {
					v := *s
					socket = &v
				}
			}
		}

		groups, err := pySiblingOrder(specs)
		if err != nil {
			return nil, fmt.Errorf("host cell %d: CPU siblings: %w", c.ID, err)
		}
		usable := cpus.Intersection(shared.Union(dedicated))
		var siblings []cpuset.CPUSet
		for _, g := range groups {
			if g = g.Intersection(usable); !g.IsEmpty() {
				siblings = append(siblings, g)
			}
		}

		var memKiB uint64
		if c.Memory != nil {
			memKiB = c.Memory.Size
		}
		pages := []topology.MemPage{}
		for _, p := range c.PageInfo {
			pages = append(pages, topology.MemPage{
				SizeKB:   p.Size,
				Total:    int(p.Count),
				Reserved: reserved[c.ID][p.Size],
			})
		}

		out.Cells = append(out.Cells, topology.HostCell{
			ID:              c.ID,
			CPUSet:          cpus.Intersection(shared),
			PCPUSet:         cpus.Intersection(dedicated),
			MemoryMiB:       int(memKiB / 1024),
			Socket:          socket,
			Siblings:        siblings,
			MemPages:        pages,
			NetworkMetadata: &topology.NetworkMetadata{Physnets: []string{}},
		})
	}
	return out, nil
}

// pcpuAvailable is _get_pcpu_available: cpu_dedicated_set, which must be
// online; empty when unset.
func pcpuAvailable(cfg Config, online cpuset.CPUSet) (cpuset.CPUSet, error) {
	set := cfg.CPUDedicatedSet
	if set == nil {
		return cpuset.CPUSet{}, nil
	}
	if set.IsEmpty() {
		return cpuset.CPUSet{}, nova.Errorf[*nova.Invalid]("no CPUs available after parsing [compute] cpu_dedicated_set config")
	}
	if !set.IsSubsetOf(online) {
		return cpuset.CPUSet{}, nova.Errorf[*nova.Invalid]("invalid [compute] cpu_dedicated_set config: one or more of the configured CPUs is not online; online %s, configured %s",
			online, *set)
	}
	return *set, nil
}
