package domain

import (
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// MemoryBacking is LibvirtDriver._get_guest_memory_backing_config: the
// <memoryBacking> element, or nil when the guest needs none. numatune is
// the <numatune> NUMAConfig produced for the same guest: Nova gives a guest
// cell huge pages only if a memnode exists for it.
func MemoryBacking(in Input, numatune *libvirtxml.DomainNUMATune) (*libvirtxml.DomainMemoryBacking, error) {
	realtime := constraints.RealtimeEnabled(in.Flavor)
	if realtime {
		policy, err := constraints.EmulatorThreadsPolicy(in.Flavor)
		if err != nil {
			return nil, err
		}
		// "share" means cpu_shared_set when it is configured and the
		// vCPUs' own CPUs otherwise, which for a realtime guest would put
		// the emulator threads on realtime CPUs: Nova refuses here rather
		// than at the API.
		if policy == topology.EmulatorThreadsShare && in.Config.CPUSharedSet == nil {
			return nil, nova.Errorf[*nova.RealtimeMaskNotFoundOrInvalid]("realtime guest with emulator_threads_policy=share needs [compute] cpu_shared_set on the host")
		}
	}

	wantsPages := false
	if in.Instance != nil {
		for _, c := range in.Instance.Cells {
			if c.PageSizeKB != 0 {
				wantsPages = true
				break
			}
		}
	}
	fileBacked := in.Config.FileBackedMemory > 0
	if wantsPages && fileBacked {
		return nil, nova.Errorf[*nova.MemoryPagesUnsupported]("huge pages cannot be combined with file-backed memory")
	}

	var mb *libvirtxml.DomainMemoryBacking
	get := func() *libvirtxml.DomainMemoryBacking {
		if mb == nil {
			mb = &libvirtxml.DomainMemoryBacking{}
		}
		return mb
	}

	if wantsPages {
		pages, err := hugepages(in, numatune)
		if err != nil {
			return nil, err
		}
		if len(pages) > 0 {
			get().MemoryHugePages = &libvirtxml.DomainMemoryHugepages{Hugepages: pages}
		}
	}
	if realtime {
		get().MemoryLocked = &libvirtxml.DomainMemoryLocked{}
		get().MemoryNosharepages = &libvirtxml.DomainMemoryNosharepages{}
	}
	if fileBacked {
		m := get()
		m.MemorySource = &libvirtxml.DomainMemorySource{Type: "file"}
		m.MemoryAccess = &libvirtxml.DomainMemoryAccess{Mode: "shared"}
		m.MemoryAllocation = &libvirtxml.DomainMemoryAllocation{Mode: "immediate"}
		m.MemoryDiscard = &libvirtxml.DomainMemoryDiscard{}
	}
	sev, err := sevEnabled(in)
	if err != nil {
		return nil, err
	}
	if sev {
		get().MemoryLocked = &libvirtxml.DomainMemoryLocked{}
	}
	locked, err := lockedMemory(in)
	if err != nil {
		return nil, err
	}
	if locked {
		get().MemoryLocked = &libvirtxml.DomainMemoryLocked{}
	}
	return mb, nil
}

// hugepages is _get_memory_backing_hugepages_support: one <page> per guest
// cell whose page size is larger than the smallest size of host cell 0,
// addressed by the guest cell's index.
func hugepages(in Input, numatune *libvirtxml.DomainNUMATune) ([]libvirtxml.DomainMemoryHugepage, error) {
	if in.HostFeatures.NoNUMASupport {
		return nil, nova.Errorf[*nova.MemoryPagesUnsupported]("host has no NUMA support, so no per-cell huge pages")
	}
	host := hostTopology(in)
	if host == nil {
		return nil, nova.Errorf[*nova.MemoryPagesUnsupported]("host reports no NUMA topology")
	}
	sizes := pageSizes(host.Cells[0])
	if len(sizes) == 0 {
		// Nova would fail with an IndexError; no libvirt host reports a
		// cell without page sizes.
		return nil, nova.Errorf[*nova.MemoryPagesUnsupported]("host cell %d reports no page sizes", host.Cells[0].ID)
	}
	smallest := sizes[0]
	var memnodes []libvirtxml.DomainNUMATuneMemNode
	if numatune != nil {
		memnodes = numatune.MemNodes
	}
	var pages []libvirtxml.DomainMemoryHugepage
	for i, c := range in.Instance.Cells {
		if c.PageSizeKB <= smallest {
			continue
		}
		for _, mn := range memnodes {
			if int(mn.CellID) == i {
				pages = append(pages, libvirtxml.DomainMemoryHugepage{
					Size:    uint(c.PageSizeKB),
					Unit:    "KiB",
					Nodeset: cpuset.New(i).String(),
				})
				break
			}
		}
	}
	return pages, nil
}

// lockedMemory is hardware.get_locked_memory_constraint: hw:locked_memory
// or hw_locked_memory, which must agree, and which Nova allows only with a
// page size.
func lockedMemory(in Input) (bool, error) {
	pageFlavor, _, pageImage, _ := flavorImage(in, "mem_page_size")
	fv, fok, iv, iok := flavorImage(in, "locked_memory")
	var locked bool
	if fok {
		locked = cpython.BoolFromString(fv)
		if iok && cpython.BoolFromString(iv) != locked {
			return false, nova.Errorf[*nova.FlavorImageLockedMemoryConflict]("flavor hw:locked_memory=%s conflicts with image hw_locked_memory=%s", fv, iv)
		}
	} else if iok {
		locked = cpython.BoolFromString(iv)
	}
	if locked && pageFlavor == "" && pageImage == "" {
		return false, nova.Errorf[*nova.LockMemoryForbidden]("locked memory needs hw:mem_page_size or hw_mem_page_size")
	}
	return locked, nil
}

// sevEnabled is LibvirtDriver._sev_enabled: the host supports AMD SEV and
// the flavor or image asks for memory encryption
// (hardware.get_mem_encryption_constraint, conflicts included).
func sevEnabled(in Input) (bool, error) {
	if !in.HostFeatures.AMDSEV {
		return false, nil
	}
	fv, fok, iv, iok := flavorImage(in, "mem_encryption")
	flavorWants := fok && cpython.BoolFromString(fv)
	imageWants := iok && cpython.BoolFromString(iv)
	if !flavorWants && !imageWants {
		return false, nil
	}
	if fok && iok && cpython.BoolFromString(fv) != cpython.BoolFromString(iv) {
		return false, nova.Errorf[*nova.FlavorImageConflict]("flavor hw:mem_encryption=%s conflicts with image hw_mem_encryption=%s", fv, iv)
	}
	if in.Image["hw_firmware_type"] != "uefi" {
		return false, nova.Errorf[*nova.FlavorImageConflict]("memory encryption requested but the image's hw_firmware_type is not uefi")
	}
	machine := in.HostFeatures.MachineType
	if machine == "" {
		machine = in.Image["hw_machine_type"]
	}
	if machine == "" {
		machine = "pc"
	}
	if !strings.Contains(machine, "q35") {
		return false, nova.Errorf[*nova.InvalidMachineType]("machine type %q: q35 type is required for SEV to work", machine)
	}
	return true, nil
}
