package constraints

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Nova never sees the user's image property strings: the API first builds
// an ImageMeta object (nova/objects/image_meta.py ImageMetaProps.from_dict),
// which coerces every known property to its field type. A bad value fails
// there with ValueError (or Invalid, for hw_numa_cpus.N) before
// numa_get_constraints runs, whatever the property, so every property Zed
// knows is checked here, in the order from_dict visits them.

// fieldKind is how ImageMetaProps coerces one field.
type fieldKind int

const (
	kString fieldKind = iota
	kInt
	kBool
	kEnum
	kArch
	kSCSIModel
	kVIFModel
	kVMMode
	kHVType
	kOSType
	kVersionPredicate
	kList
	kNUMACPUs
	kNUMAMem
	kTraits
)

type imageField struct {
	name   string
	kind   fieldKind
	values []string
}

var (
	archValues         = []string{"alpha", "armv6", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64", "lm32", "m68k", "microblaze", "microblazeel", "mips", "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle", "ppc64", "ppc64le", "ppcemb", "s390", "s390x", "sh4", "sh4eb", "sparc", "sparc64", "unicore32", "x86_64", "xtensa", "xtensaeb"}
	diskBusValues      = []string{"fdc", "ide", "sata", "scsi", "usb", "virtio", "xen", "lxc", "uml"}
	cpuPolicyValues    = []string{"dedicated", "shared", "mixed"}
	threadPolicyValues = []string{"prefer", "isolate", "require"}
)

// imageFields lists ImageMetaProps.fields of Nova 26.2.2 in declaration
// order, which is the order from_dict coerces them in. Later releases add
// fields (hw_virtio_packed_ring, hw_maxphysaddr_*, ...); Zed ignores those
// properties, and so does this table.
var imageFields = []imageField{
	{"hw_architecture", kArch, archValues},
	{"hw_emulation_architecture", kArch, archValues},
	{"hw_auto_disk_config", kString, nil},
	{"hw_boot_menu", kBool, nil},
	{"hw_cdrom_bus", kEnum, diskBusValues},
	{"hw_cpu_cores", kInt, nil},
	{"hw_cpu_sockets", kInt, nil},
	{"hw_cpu_max_cores", kInt, nil},
	{"hw_cpu_max_sockets", kInt, nil},
	{"hw_cpu_max_threads", kInt, nil},
	{"hw_cpu_policy", kEnum, cpuPolicyValues},
	{"hw_cpu_thread_policy", kEnum, threadPolicyValues},
	{"hw_cpu_realtime_mask", kString, nil},
	{"hw_cpu_threads", kInt, nil},
	{"hw_device_id", kInt, nil},
	{"hw_disk_bus", kEnum, diskBusValues},
	{"hw_disk_type", kString, nil},
	{"hw_floppy_bus", kEnum, diskBusValues},
	{"hw_firmware_type", kEnum, []string{"uefi", "bios"}},
	{"hw_input_bus", kEnum, []string{"usb", "virtio"}},
	{"hw_ipxe_boot", kBool, nil},
	{"hw_locked_memory", kBool, nil},
	{"hw_machine_type", kString, nil},
	{"hw_mem_encryption", kBool, nil},
	{"hw_mem_page_size", kString, nil},
	{"hw_numa_nodes", kInt, nil},
	{"hw_numa_cpus", kNUMACPUs, nil},
	{"hw_numa_mem", kNUMAMem, nil},
	{"hw_pci_numa_affinity_policy", kEnum, []string{"required", "legacy", "preferred", "socket"}},
	{"hw_pointer_model", kEnum, []string{"usbtablet"}},
	{"hw_pmu", kBool, nil},
	{"hw_qemu_guest_agent", kBool, nil},
	{"hw_rescue_bus", kEnum, diskBusValues},
	{"hw_rescue_device", kEnum, []string{"cdrom", "disk", "floppy", "fs", "lun"}},
	{"hw_rng_model", kEnum, []string{"virtio"}},
	{"hw_time_hpet", kBool, nil},
	{"hw_serial_port_count", kInt, nil},
	{"hw_scsi_model", kSCSIModel, []string{"buslogic", "ibmvscsi", "lsilogic", "lsisas1068", "lsisas1078", "virtio-scsi", "vmpvscsi"}},
	{"hw_video_model", kEnum, []string{"cirrus", "qxl", "vga", "vmvga", "xen", "virtio", "gop", "none", "bochs"}},
	{"hw_video_ram", kInt, nil},
	{"hw_vif_model", kVIFModel, []string{"virtio", "ne2k_pci", "pcnet", "rtl8139", "e1000", "e1000e", "netfront", "spapr-vlan", "lan9118", "sriov", "vmxnet", "vmxnet3"}},
	{"hw_viommu_model", kEnum, []string{"intel", "smmuv3", "virtio", "auto"}},
	{"hw_vm_mode", kVMMode, []string{"hvm", "xen", "uml", "exe"}},
	{"hw_watchdog_action", kEnum, []string{"none", "pause", "poweroff", "reset", "disabled"}},
	{"hw_vif_multiqueue_enabled", kBool, nil},
	{"hw_tpm_model", kEnum, []string{"tpm-tis", "tpm-crb"}},
	{"hw_tpm_version", kEnum, []string{"1.2", "2.0"}},
	{"hw_ephemeral_encryption", kBool, nil},
	{"hw_ephemeral_encryption_format", kEnum, []string{"plain", "luks", "luksv2"}},
	{"img_bittorrent", kBool, nil},
	{"img_bdm_v2", kBool, nil},
	{"img_block_device_mapping", kList, nil},
	{"img_cache_in_nova", kBool, nil},
	{"img_compression_level", kInt, nil},
	{"img_hv_requested_version", kVersionPredicate, nil},
	{"img_hv_type", kHVType, []string{"baremetal", "bhyve", "docker", "fake", "hyperv", "ironic", "kqemu", "kvm", "lxc", "lxd", "openvz", "parallels", "phyp", "qemu", "test", "uml", "vbox", "vz", "vmware", "xen", "zvm", "prsm"}},
	{"img_config_drive", kEnum, []string{"optional", "mandatory"}},
	{"img_linked_clone", kBool, nil},
	{"img_mappings", kList, nil},
	{"img_owner_id", kString, nil},
	{"img_root_device_name", kString, nil},
	{"img_use_agent", kBool, nil},
	{"img_version", kInt, nil},
	{"img_signature", kString, nil},
	{"img_signature_hash_method", kEnum, []string{"SHA-224", "SHA-256", "SHA-384", "SHA-512"}},
	{"img_signature_certificate_uuid", kString, nil},
	{"img_signature_key_type", kEnum, []string{"DSA", "ECC_SECP384R1", "ECC_SECP521R1", "ECC_SECT409K1", "ECC_SECT409R1", "ECC_SECT571K1", "ECC_SECT571R1", "RSA-PSS"}},
	{"img_hide_hypervisor_id", kBool, nil},
	{"os_admin_user", kString, nil},
	{"os_command_line", kString, nil},
	{"os_distro", kString, nil},
	{"os_require_quiesce", kBool, nil},
	{"os_secure_boot", kEnum, []string{"required", "disabled", "optional"}},
	{"os_skip_agent_inject_files_at_boot", kBool, nil},
	{"os_skip_agent_inject_ssh", kBool, nil},
	{"os_type", kOSType, []string{"linux", "windows"}},
	{"traits_required", kTraits, nil},
}

// legacyImageProperties maps pre-Juno property names to the fields they
// set, in the order from_dict applies them (before the current names, so
// that a current name wins).
var legacyImageProperties = [][2]string{
	{"architecture", "hw_architecture"},
	{"owner_id", "img_owner_id"},
	{"vmware_disktype", "hw_disk_type"},
	{"vmware_image_version", "img_version"},
	{"vmware_ostype", "os_distro"},
	{"auto_disk_config", "hw_auto_disk_config"},
	{"ipxe_boot", "hw_ipxe_boot"},
	{"xenapi_device_id", "hw_device_id"},
	{"xenapi_image_compression_level", "img_compression_level"},
	{"vmware_linked_clone", "img_linked_clone"},
	{"xenapi_use_agent", "img_use_agent"},
	{"xenapi_skip_agent_inject_ssh", "os_skip_agent_inject_ssh"},
	{"xenapi_skip_agent_inject_files_at_boot", "os_skip_agent_inject_files_at_boot"},
	{"cache_in_nova", "img_cache_in_nova"},
	{"vm_mode", "hw_vm_mode"},
	{"bittorrent", "img_bittorrent"},
	{"mappings", "img_mappings"},
	{"block_device_mapping", "img_block_device_mapping"},
	{"bdm_v2", "img_bdm_v2"},
	{"root_device_name", "img_root_device_name"},
	{"hypervisor_version_requires", "img_hv_requested_version"},
	{"hypervisor_type", "img_hv_type"},
}

// numaNodesMax is ImageMetaProps.NUMA_NODES_MAX: hw_numa_cpus.N,
// hw_numa_mem.N and their flavor twins are read for N < 128 only.
const numaNodesMax = 128

// imageMeta is the part of a coerced ImageMetaProps the NUMA code reads.
// A nil pointer (or nil slice) is an unset field.
type imageMeta struct {
	strs  map[string]string
	ints  map[string]int64
	bools map[string]bool
	// numaCPUs and numaMem are hw_numa_cpus / hw_numa_mem, collected from
	// the .N properties up to the first missing N.
	numaCPUs       []cpuSpec
	numaMem        []int64
	traitsRequired []string
}

// str returns a string or enum field, "" when unset (Nova's None; an enum
// cannot be set to "" and the NUMA code treats "" like None everywhere).
func (m *imageMeta) str(name string) string { return m.strs[name] }

// int returns an integer field and whether it is set.
func (m *imageMeta) int(name string) (int64, bool) {
	v, ok := m.ints[name]
	return v, ok
}

// bool returns a boolean field and whether it is set.
func (m *imageMeta) bool(name string) (bool, bool) {
	v, ok := m.bools[name]
	return v, ok
}

// imageFieldsByName indexes imageFields for the legacy names.
var imageFieldsByName = func() map[string]imageField {
	m := make(map[string]imageField, len(imageFields))
	for _, f := range imageFields {
		m[f.name] = f
	}
	return m
}()

// vifModelAliases are the VMware spellings VIFModel accepts.
var vifModelAliases = map[string]string{
	"virtuale1000":             "e1000",
	"virtuale1000e":            "e1000e",
	"virtualpcnet32":           "pcnet",
	"virtualsriovethernetcard": "sriov",
	"virtualvmxnet":            "vmxnet",
	"virtualvmxnet3":           "vmxnet3",
}

// coerceImage is ImageMetaProps.from_dict.
func coerceImage(props topology.ImageProps) (*imageMeta, error) {
	m := &imageMeta{strs: map[string]string{}, ints: map[string]int64{}, bools: map[string]bool{}}
	for _, legacy := range legacyImageProperties {
		if v, ok := props[legacy[0]]; ok {
			if err := m.set(imageFieldsByName[legacy[1]], v); err != nil {
				return nil, err
			}
		}
	}
	if adapter := props["vmware_adaptertype"]; adapter == "ide" {
		if err := m.set(imageFieldsByName["hw_disk_bus"], "ide"); err != nil {
			return nil, err
		}
	} else if adapter != "" {
		if err := m.set(imageFieldsByName["hw_disk_bus"], "scsi"); err != nil {
			return nil, err
		}
		if err := m.set(imageFieldsByName["hw_scsi_model"], adapter); err != nil {
			return nil, err
		}
	}
	for _, f := range imageFields {
		switch f.kind {
		case kNUMAMem:
			for n := 0; n < numaNodesMax; n++ {
				v, ok := props["hw_numa_mem."+strconv.Itoa(n)]
				if !ok {
					break
				}
				mem, err := pyInt(v)
				if err != nil {
					return nil, nova.Errorf[*nova.ValueError]("hw_numa_mem.%d: invalid literal for int(): %q", n, v)
				}
				m.numaMem = append(m.numaMem, mem)
			}
		case kNUMACPUs:
			for n := 0; n < numaNodesMax; n++ {
				v, ok := props["hw_numa_cpus."+strconv.Itoa(n)]
				if !ok {
					break
				}
				spec, err := parseCPUSpec(v)
				if err != nil {
					return nil, err
				}
				spec.rebuilt = true
				m.numaCPUs = append(m.numaCPUs, spec)
			}
		case kTraits:
			// Filled from the trait:* properties below, never from a
			// property of this name.
		default:
			if v, ok := props[f.name]; ok {
				if err := m.set(f, v); err != nil {
					return nil, err
				}
			}
		}
	}
	// from_dict walks the properties dict in its own order; a Go map has
	// none, so the names are sorted. Only membership is ever tested.
	for _, k := range slices.Sorted(maps.Keys(props)) {
		if strings.HasPrefix(k, "trait:") && props[k] == "required" {
			m.traitsRequired = append(m.traitsRequired, k[len("trait:"):])
		}
	}
	return m, nil
}

// set coerces one value the way the field's oslo.versionedobjects type
// does on assignment.
func (m *imageMeta) set(f imageField, v string) error {
	invalid := func() error {
		return nova.Errorf[*nova.ValueError]("field %s: value %q is invalid", f.name, v)
	}
	switch f.kind {
	case kString:
		m.strs[f.name] = v
	case kInt:
		n, err := pyInt(v)
		if err != nil {
			return invalid()
		}
		m.ints[f.name] = n
	case kBool:
		m.bools[f.name] = cpython.BoolFromString(v)
	case kEnum, kArch, kSCSIModel, kVIFModel, kVMMode, kHVType, kOSType:
		c := canonicalEnum(f.kind, v)
		if !slices.Contains(f.values, c) {
			return invalid()
		}
		m.strs[f.name] = c
	case kVersionPredicate:
		if !validVersionPredicate(v) {
			return invalid()
		}
		m.strs[f.name] = v
	case kList:
		// A list field given a string is always refused.
		return invalid()
	}
	return nil
}

// canonicalEnum applies the normalisation some Nova enum fields do before
// checking the value (lower case, legacy aliases).
func canonicalEnum(kind fieldKind, v string) string {
	switch kind {
	case kArch:
		v = cpython.Lower(v)
		switch v {
		case "i386", "i486", "i586", "x86_32", "x86_32p":
			return "i686"
		case "amd64":
			return "x86_64"
		}
	case kSCSIModel:
		v = cpython.Lower(v)
		switch v {
		case "lsilogicsas":
			return "lsisas1068"
		case "paravirtual":
			return "vmpvscsi"
		}
	case kVIFModel:
		v = cpython.Lower(v)
		if alias, ok := vifModelAliases[v]; ok {
			return alias
		}
	case kVMMode:
		v = cpython.Lower(v)
		switch v {
		case "pv":
			return "xen"
		case "hv", "baremetal":
			return "hvm"
		}
	case kHVType:
		v = cpython.Lower(v)
		if v == "xapi" {
			return "xen"
		}
	case kOSType:
		v = cpython.Lower(v)
	}
	return v
}

var strictVersion = regexp.MustCompile(`^[0-9]+\.[0-9]+(\.[0-9]+)?([ab][0-9]+)?$`)

// validVersionPredicate is what VersionPredicateField accepts: distutils'
// VersionPredicate("check (" + v + ")") parses. The package-name regex's
// "(.*)" stops at the first newline and ignores the rest; the parenthesised
// list must then hold comma-separated "<op> <StrictVersion>" items.
func validVersionPredicate(v string) bool {
	paren := "(" + v
	if i := strings.IndexByte(paren, '\n'); i >= 0 {
		paren = paren[:i]
	} else {
		paren += ")"
	}
	paren = cpython.Strip(paren)
	if len(paren) < 2 || paren[0] != '(' || paren[len(paren)-1] != ')' {
		return false
	}
	for _, pred := range strings.Split(paren[1:len(paren)-1], ",") {
		if !validComparison(pred) {
			return false
		}
	}
	return true
}

// validComparison checks one "<op> <version>" item: the first operator in
// distutils' alternation order that leaves a single white-space-free token
// decides which token must be a StrictVersion.
func validComparison(pred string) bool {
	pred = strings.TrimLeftFunc(pred, cpython.IsSpace)
	for _, op := range []string{"<=", ">=", "<", ">", "!=", "=="} {
		rest, ok := strings.CutPrefix(pred, op)
		if !ok {
			continue
		}
		token := cpython.Strip(rest)
		if token == "" || strings.IndexFunc(token, cpython.IsSpace) >= 0 {
			continue
		}
		return strictVersion.MatchString(token)
	}
	return false
}
