// Package domain builds the libvirt XML fragments Nova's libvirt driver
// writes for a guest (LibvirtDriver._get_guest_numa_config,
// _get_guest_memory_backing_config), as libvirtxml values, and compares
// fragments semantically.
//
// The builders are a reference re-implementation of Nova 26.2.2 (Zed); where
// later releases differ, nova.Profile switches the behaviour. Everything here
// is pure: the caller supplies what the driver would have read from libvirt
// (host topology, online CPUs, host features) and from nova.conf.
//
// The fragments are what Nova hands to libvirt, not what libvirt echoes back:
// Nova omits the unit of <cell memory> and writes attributes in its own order.
// Diff therefore compares semantically (CPU lists as sets, memory in bytes,
// repeated elements by their key), so a fragment built here can be compared
// with one taken from a live domain by FromDomain.
package domain

import (
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Config is the part of the compute host's nova.conf that shapes the XML.
// The zero value is Nova's default configuration.
type Config struct {
	// VCPUPinSet is the legacy vcpu_pin_set; nil when unset. When set it wins
	// over CPUSharedSet for floating vCPUs.
	VCPUPinSet *cpuset.CPUSet
	// CPUSharedSet is [compute] cpu_shared_set; nil when unset.
	CPUSharedSet *cpuset.CPUSet
	// CPUDedicatedSet is [compute] cpu_dedicated_set; nil when unset.
	CPUDedicatedSet *cpuset.CPUSet
	// RealtimeSchedulerPriority is [libvirt] realtime_scheduler_priority.
	// 0 stands for "unset", i.e. Nova's default of 1: the kernel refuses
	// SCHED_FIFO priority 0, so no running realtime guest can have it.
	RealtimeSchedulerPriority int
	// FileBackedMemory is [libvirt] file_backed_memory in MiB; 0 disables
	// file-backed guest memory.
	FileBackedMemory int
	// ReservedHugePages is reserved_huge_pages. Only the host model
	// (HostFromCapabilities) reads it.
	ReservedHugePages []ReservedHugePages
}

// realtimePriority applies Nova's default to an unset priority.
func (c Config) realtimePriority() int {
	if c.RealtimeSchedulerPriority == 0 {
		return 1
	}
	return c.RealtimeSchedulerPriority
}

// ParseCPUListOption reads one of the CPU-list options of nova.conf
// (vcpu_pin_set, [compute] cpu_shared_set, [compute] cpu_dedicated_set) the
// way Nova's get_*_set helpers do: an empty string is "unset" (nil), and a
// list that is malformed or leaves no CPUs is nova.Invalid. The compute
// service refuses to start with such a value, so callers can reject it up
// front.
func ParseCPUListOption(option, value string) (*cpuset.CPUSet, error) {
	if value == "" {
		return nil, nil
	}
	s, err := cpuset.Parse(value)
	if err != nil {
		return nil, nova.Errorf[*nova.Invalid]("%s: %v", option, err)
	}
	if s.IsEmpty() {
		return nil, nova.Errorf[*nova.Invalid]("no CPUs available after parsing %s config %q", option, value)
	}
	return &s, nil
}

// HostFeatures is what the driver learns from libvirt about the host besides
// its NUMA topology. The zero value is an x86_64 QEMU/KVM host without SEV,
// which is what the harness normally checks.
type HostFeatures struct {
	// NoNUMASupport says the driver's _has_numa_support() is false: the
	// host architecture is not x86, aarch64 or ppc64, or the hypervisor is
	// not QEMU. Nova then reports no host NUMA topology and refuses NUMA
	// guests outright.
	NoNUMASupport bool
	// AMDSEV is Host.supports_amd_sev: only then does a guest asking for
	// memory encryption get SEV (and locked memory).
	AMDSEV bool
	// MachineType is libvirt_utils.get_machine_type(image): the image's
	// hw_machine_type, else [libvirt] hw_machine_type for the guest
	// architecture, else the architecture default. Only SEV guests look at
	// it. Empty means the image's hw_machine_type, else "pc", the x86_64
	// default when [libvirt] hw_machine_type is unset.
	MachineType string
	// NoCPUControlPolicy says Host.is_cpu_control_policy_capable() is false
	// (no cgroup CPU controller): quota:cpu_* extra specs then fail.
	NoCPUControlPolicy bool
}

// Input is everything the driver consults when it writes a guest's NUMA,
// CPU tuning and memory backing XML.
type Input struct {
	// Instance is the guest NUMA topology after fitting (cell ids are host
	// cell ids, pinning and page sizes are concrete), as the compute claim
	// stored it; nil for a guest without NUMA topology.
	Instance *topology.InstanceTopology
	Flavor   topology.Flavor
	Image    topology.ImageProps
	// Host is what the driver's _get_host_numa_topology returns; nil when
	// libvirt reports no NUMA cells. HostFromCapabilities builds it.
	Host *topology.HostTopology
	// HostOnlineCPUs is Host.get_online_cpus(): every CPU libvirt reports
	// online. Nova checks the configured CPU sets against it.
	HostOnlineCPUs cpuset.CPUSet
	Config         Config
	HostFeatures   HostFeatures
	// Profile selects release-specific behaviour; the zero value is Zed.
	Profile nova.Profile
}

// Fragments are the parts of a libvirt domain that Nova derives from the
// guest and host NUMA topologies. A nil field means Nova writes no such
// element.
type Fragments struct {
	// VCPUCPUSet is the cpuset attribute of <vcpu>, which Nova sets only
	// when the guest has no NUMA topology (or the host has none) and a
	// shared CPU set is configured.
	VCPUCPUSet *cpuset.CPUSet
	// CPUTune is <cputune>: vCPU and emulator pinning, realtime scheduling
	// and quota:cpu_* tuning.
	CPUTune *libvirtxml.DomainCPUTune
	// CPUNUMA is <cpu><numa>: the guest NUMA cells.
	CPUNUMA *libvirtxml.DomainNuma
	// NUMATune is <numatune>: which host nodes back each guest cell.
	NUMATune *libvirtxml.DomainNUMATune
	// MemoryBacking is <memoryBacking>: huge pages, locking, file backing.
	MemoryBacking *libvirtxml.DomainMemoryBacking
	// IOThreads is the <iothreads> count; 0 means no element (Zed never
	// writes one, newer releases always write 1).
	IOThreads uint
}

// Build computes every fragment, the way LibvirtDriver._get_guest_config
// does: the NUMA config first, then the memory backing (which depends on the
// NUMA tuning), then the quota:cpu_* tuning. The error is the Nova exception
// the driver would raise, so the guest would not have been created.
func Build(in Input) (Fragments, error) {
	f, err := NUMAConfig(in)
	if err != nil {
		return Fragments{}, err
	}
	f.MemoryBacking, err = MemoryBacking(in, f.NUMATune)
	if err != nil {
		return Fragments{}, err
	}
	if in.Profile.IOThreadPinning {
		f.IOThreads = 1
	}
	f.CPUTune, err = applyCPUQuota(in, f.CPUTune)
	if err != nil {
		return Fragments{}, err
	}
	return f, nil
}

// applyCPUQuota is _update_guest_cputune: the quota:cpu_shares, _period and
// _quota extra specs become <shares>, <period> and <quota>, creating
// <cputune> if the guest has none yet. It assumes a QEMU/KVM host; on other
// virt types Nova ignores the specs.
func applyCPUQuota(in Input, tune *libvirtxml.DomainCPUTune) (*libvirtxml.DomainCPUTune, error) {
	specs := in.Flavor.ExtraSpecs
	var wanted []string
	for _, name := range []string{"shares", "period", "quota"} {
		if _, ok := specs["quota:cpu_"+name]; ok {
			wanted = append(wanted, name)
		}
	}
	if len(wanted) == 0 {
		return tune, nil
	}
	if in.HostFeatures.NoCPUControlPolicy {
		return nil, nova.Errorf[*nova.UnsupportedHostCPUControlPolicy]("requested CPU control policy not supported by host")
	}
	if tune == nil {
		tune = &libvirtxml.DomainCPUTune{}
	}
	for _, name := range wanted {
		key := "quota:cpu_" + name
		v, err := cpython.Int(specs[key]) // also refuses values beyond int64
		if err != nil {
			return nil, nova.Errorf[*nova.ValueError]("%s: invalid literal for int(): %q", key, specs[key])
		}
		switch name {
		case "shares":
			if v < 0 {
				return nil, nova.Errorf[*nova.ValueError]("%s: libvirt cannot take negative CPU shares %d", key, v)
			}
			tune.Shares = &libvirtxml.DomainCPUTuneShares{Value: uint(v)}
		case "period":
			if v < 0 {
				return nil, nova.Errorf[*nova.ValueError]("%s: libvirt cannot take a negative CPU period %d", key, v)
			}
			tune.Period = &libvirtxml.DomainCPUTunePeriod{Value: uint64(v)}
		case "quota":
			tune.Quota = &libvirtxml.DomainCPUTuneQuota{Value: v}
		}
	}
	return tune, nil
}

// flavorImage returns the flavor extra spec hw:<key> and the image property
// hw_<key>, with whether each is set (Nova's _get_flavor_image_meta).
func flavorImage(in Input, key string) (fv string, fok bool, iv string, iok bool) {
	fv, fok = in.Flavor.ExtraSpecs["hw:"+key]
	iv, iok = in.Image["hw_"+key]
	return
}
