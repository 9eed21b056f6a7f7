package domain

import (
	"slices"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// NUMAConfig is LibvirtDriver._get_guest_numa_config: the <vcpu cpuset>,
// <cputune>, <cpu><numa> and <numatune> fragments. MemoryBacking is left
// nil; Build adds it.
//
// Nova writes <cputune> and <numatune> only when both the guest and the host
// have a NUMA topology. A guest without one gets at most <vcpu cpuset>; on a
// host without one, a NUMA guest gets <cpu><numa> (and <vcpu cpuset>) only.
func NUMAConfig(in Input) (Fragments, error) {
	if in.HostFeatures.NoNUMASupport && in.Instance != nil {
		// Even an instance topology with no cells counts: Nova tests it
		// against None here, before anything else.
		return Fragments{}, nova.Errorf[*nova.NUMATopologyUnsupported]("host has no NUMA support but the guest has a NUMA topology")
	}

	// Nova pins non-NUMA guests only when the operator configured a CPU set
	// for floating vCPUs; all online CPUs do not count.
	var shared *cpuset.CPUSet
	if in.Config.VCPUPinSet != nil || in.Config.CPUSharedSet != nil {
		s, err := vcpuAvailable(in)
		if err != nil {
			return Fragments{}, err
		}
		shared = &s
	}

	host := hostTopology(in)
	inst := in.Instance
	if inst == nil || len(inst.Cells) == 0 {
		return Fragments{VCPUCPUSet: shared}, nil
	}
	guestNUMA := cpuNUMAFromInstance(inst, wantsHugepages(host, inst))
	if host == nil {
		// Cell ids stay whatever the instance topology holds: the
		// renumbering below only happens when there are host cells.
		return Fragments{VCPUCPUSet: shared, CPUNUMA: guestNUMA}, nil
	}

	tune := &libvirtxml.DomainCPUTune{}
	emulator := cpuset.CPUSet{}
	numaTune := &libvirtxml.DomainNUMATune{Memory: &libvirtxml.DomainNUMATuneMemory{Mode: "strict"}}
	hostNodes := cpuset.CPUSet{}

	rt, rtOK, err := constraints.RealtimeCPUs(in.Flavor, in.Image)
	if err != nil {
		return Fragments{}, err
	}
	rtEnabled := rtOK && !rt.IsEmpty()
	if rtEnabled {
		prio := in.Config.realtimePriority()
		tune.VCPUSched = append(tune.VCPUSched, libvirtxml.DomainCPUTuneVCPUSched{
			VCPUs:     rt.String(),
			Scheduler: "fifo",
			Priority:  &prio,
		})
	}

	emu := emulatorPinner{in: in, policy: inst.EmulatorThreadsPolicy, rt: rt, rtEnabled: rtEnabled}
	type pin struct {
		vcpu int
		cpus cpuset.CPUSet
	}
	var pins []pin
	for guestNode, pair := range cellPairs(inst, host) {
		numaTune.MemNodes = append(numaTune.MemNodes, libvirtxml.DomainNUMATuneMemNode{
			CellID:  uint(guestNode),
			Mode:    "strict",
			Nodeset: cpuset.New(pair.host.ID).String(),
		})
		hostNodes = hostNodes.With(pair.host.ID)

		// Nova takes the vCPUs from the paired cell but the pinning from
		// the cell at the pair's position. The two differ only when a
		// guest cell has no matching host cell, which a fitted topology
		// never has; the quirk is kept so such input behaves as in Nova.
		pinning := inst.Cells[guestNode]
		for vcpu := range inst.Cells[pair.guest].VCPUs().All {
			cpus := pinCPUSet(vcpu, pinning, pair.host)
			pins = append(pins, pin{vcpu, cpus})
			add, err := emu.cpus(vcpu, pinning, cpus)
			if err != nil {
				return Fragments{}, err
			}
			emulator = emulator.Union(add)
		}
	}
	numaTune.Memory.Nodeset = hostNodes.String()

	// Nova sorts the pins by vCPU with a stable sort, so a vCPU listed by
	// two cells keeps both pins in cell order.
	slices.SortStableFunc(pins, func(a, b pin) int { return a.vcpu - b.vcpu })
	for _, p := range pins {
		tune.VCPUPin = append(tune.VCPUPin, libvirtxml.DomainCPUTuneVCPUPin{VCPU: uint(p.vcpu), CPUSet: p.cpus.String()})
	}
	tune.EmulatorPin = &libvirtxml.DomainCPUTuneEmulatorPin{CPUSet: emulator.String()}
	if in.Profile.IOThreadPinning && !emulator.IsEmpty() {
		// From 33.0.0 Nova gives every guest one iothread and pins it
		// wherever the emulator threads go; config.py leaves out an
		// iothreadpin without CPUs (bug #2140537).
		tune.IOThreadPin = []libvirtxml.DomainCPUTuneIOThreadPin{{IOThread: 1, CPUSet: emulator.String()}}
	}

	// Guest cells are renumbered 0..n-1 in guest order, pairing each with
	// the memnode of the same position.
	for i := range min(len(guestNUMA.Cell), len(numaTune.MemNodes)) {
		id := uint(i)
		guestNUMA.Cell[i].ID = &id
		numaTune.MemNodes[i].CellID = id
	}

	return Fragments{CPUTune: tune, CPUNUMA: guestNUMA, NUMATune: numaTune}, nil
}

// hostTopology is what _get_host_numa_topology returns for this input: nil
// without NUMA support or without cells.
func hostTopology(in Input) *topology.HostTopology {
	if in.HostFeatures.NoNUMASupport || in.Host == nil || len(in.Host.Cells) == 0 {
		return nil
	}
	return in.Host
}

// vcpuAvailable is _get_vcpu_available: the host CPUs floating vCPUs may
// use. A configured set that is not entirely online is nova.Invalid.
func vcpuAvailable(in Input) (cpuset.CPUSet, error) {
	var (
		set    *cpuset.CPUSet
		option string
	)
	switch {
	case in.Config.VCPUPinSet != nil:
		set, option = in.Config.VCPUPinSet, "vcpu_pin_set"
	case in.Config.CPUSharedSet != nil:
		set, option = in.Config.CPUSharedSet, "[compute] cpu_shared_set"
	case in.Config.CPUDedicatedSet != nil:
		return cpuset.CPUSet{}, nil
	default:
		return in.HostOnlineCPUs, nil
	}
	if set.IsEmpty() {
		return cpuset.CPUSet{}, nova.Errorf[*nova.Invalid]("no CPUs available after parsing %s config", option)
	}
	if !set.IsSubsetOf(in.HostOnlineCPUs) {
		return cpuset.CPUSet{}, nova.Errorf[*nova.Invalid]("invalid %s config: one or more of the configured CPUs is not online; online %s, configured %s",
			option, in.HostOnlineCPUs, set)
	}
	return *set, nil
}

// cpuNUMAFromInstance is _get_cpu_numa_config_from_instance: one <cell> per
// instance cell, in instance order, still carrying the instance cell id
// (the host cell id after fitting).
func cpuNUMAFromInstance(inst *topology.InstanceTopology, hugepages bool) *libvirtxml.DomainNuma {
	numa := &libvirtxml.DomainNuma{}
	for _, c := range inst.Cells {
		id := uint(c.ID)
		cell := libvirtxml.DomainCell{
			ID:     &id,
			CPUs:   c.VCPUs().String(),
			Memory: uint(c.MemoryMiB) * 1024,
		}
		if hugepages {
			// Shared access is what vhost-user needs; Nova sets it on
			// every huge-page guest because NICs may be hot-plugged later.
			cell.MemAccess = "shared"
		}
		numa.Cell = append(numa.Cell, cell)
	}
	return numa
}

// wantsHugepages is _wants_hugepages: some guest cell uses a page size that
// host cell 0 offers and that is not its smallest. Only host cell 0 is
// consulted, whatever cells the guest landed on.
func wantsHugepages(host *topology.HostTopology, inst *topology.InstanceTopology) bool {
	if host == nil || inst == nil {
		return false
	}
	sizes := pageSizes(host.Cells[0])
	if len(sizes) == 0 {
		return false
	}
	large := sizes[1:]
	for _, c := range inst.Cells {
		if c.PageSizeKB != 0 && slices.Contains(large, c.PageSizeKB) {
			return true
		}
	}
	return false
}

// pageSizes returns a host cell's page sizes in KiB, ascending.
func pageSizes(c topology.HostCell) []int {
	var sizes []int
	for _, p := range c.MemPages {
		sizes = append(sizes, p.SizeKB)
	}
	slices.Sort(sizes)
	return sizes
}

// cellPair is one guest cell (by index) and the host cell with its id.
type cellPair struct {
	guest int
	host  topology.HostCell
}

// cellPairs is _get_cell_pairs: each guest cell with the host cell whose id
// it carries, in guest order; a guest cell without such a host cell is
// dropped.
func cellPairs(inst *topology.InstanceTopology, host *topology.HostTopology) []cellPair {
	var pairs []cellPair
	for gi, gc := range inst.Cells {
		for _, hc := range host.Cells {
			if gc.ID == hc.ID {
				pairs = append(pairs, cellPair{gi, hc})
			}
		}
	}
	return pairs
}

// pinCPUSet is _get_pin_cpuset: a pinned vCPU goes to its host CPU, a
// floating one to the host cell's shared CPUs.
func pinCPUSet(vcpu int, cell topology.InstanceCell, host topology.HostCell) cpuset.CPUSet {
	if pcpu, ok := cell.CPUPinning[vcpu]; ok {
		return cpuset.New(pcpu)
	}
	return host.CPUSet
}

// emulatorPinner is _get_emulatorpin_cpuset: what each vCPU contributes to
// the emulator threads' CPU set.
type emulatorPinner struct {
	in        Input
	policy    topology.EmulatorThreadsPolicy
	rt        cpuset.CPUSet
	rtEnabled bool
}

func (e emulatorPinner) cpus(vcpu int, cell topology.InstanceCell, pin cpuset.CPUSet) (cpuset.CPUSet, error) {
	// Nova reads cpu_shared_set for every vCPU, whatever the policy, so a
	// set that parses empty fails here even for guests that never use it.
	shared := e.in.Config.CPUSharedSet
	if shared != nil && shared.IsEmpty() {
		return cpuset.CPUSet{}, nova.Errorf[*nova.Invalid]("no CPUs available after parsing [compute] cpu_shared_set config")
	}
	switch {
	case e.policy == topology.EmulatorThreadsIsolate:
		// The reserved CPU lives on the cell hosting guest cell 0; the
		// other cells add nothing.
		return cell.CPUSetReserved, nil
	case e.policy == topology.EmulatorThreadsShare && shared != nil:
		cpus := shared.Intersection(e.in.HostOnlineCPUs)
		if cpus.IsEmpty() {
			return cpuset.CPUSet{}, nova.Errorf[*nova.Invalid]("invalid cpu_shared_set config, none of the specified CPUs is online; online %s, requested %s",
				e.in.HostOnlineCPUs, *shared)
		}
		return cpus, nil
	case !e.rtEnabled || !e.rt.Contains(vcpu):
		// Without a policy (or with share but no cpu_shared_set) the
		// emulator threads float over the non-realtime vCPUs' CPUs.
		return pin, nil
	}
	return cpuset.CPUSet{}, nil
}
