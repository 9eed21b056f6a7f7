// Package constraints turns what a user asked for (flavor extra specs and
// image properties) into the guest NUMA topology Nova derives, following
// nova/virt/hardware.py numa_get_constraints and its helpers, or into the
// exception Nova raises. It also picks the guest <cpu><topology> the way
// get_best_cpu_topology does.
//
// The reference is Nova 26.2.2 (Zed). The code of these functions is the
// same up to master (only type hints changed, and master's
// get_locked_memory_constraint adds memory-encryption checks that Zed does
// not have), so nothing here takes a nova.Profile. In particular the
// hw:cpu_max_* naming fix of 32.0.0 (Profile.MaxTopologyKeysFixed) only
// changed the API validator: the code reads hw:cpu_max_sockets|cores|threads
// in every release, and so does this package.
//
// Errors are nova.Exception values naming the class Nova raises, checked in
// Nova's order so that the first failing check decides the class.
// Flavor extra specs are plain strings parsed the way hardware.py parses
// them; image properties are first coerced the way ImageMetaProps does,
// which is where a bad image value fails (ValueError, or Invalid for a bad
// hw_numa_cpus.N), before any of these functions would run in Nova.
package constraints

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/cpython"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// maxCells bounds the cells an automatic split may build. Nova has no such
// bound, but only a flavor with 0 vCPUs and 0 MiB splits evenly into more
// cells than it has vCPUs, and such a flavor cannot be created.
const maxCells = 1 << 16

// Get is numa_get_constraints: the guest NUMA topology for flavor + image,
// nil when the request does not ask for one, or a nova.Exception.
func Get(flavor topology.Flavor, image topology.ImageProps) (*topology.InstanceTopology, error) {
	img, err := coerceImage(image)
	if err != nil {
		return nil, err
	}
	return getConstraints(flavor, img)
}

// CPUPolicy is get_cpu_policy_constraint: the effective CPU policy, "" when
// neither flavor nor image sets one.
func CPUPolicy(flavor topology.Flavor, image topology.ImageProps) (topology.CPUPolicy, error) {
	img, err := coerceImage(image)
	if err != nil {
		return "", err
	}
	return cpuPolicyConstraint(flavor, img)
}

// RealtimeCPUs is get_realtime_cpu_constraint: the realtime vCPUs, with ok
// false when realtime is not enabled (Nova returns None).
func RealtimeCPUs(flavor topology.Flavor, image topology.ImageProps) (rt cpuset.CPUSet, ok bool, err error) {
	img, err := coerceImage(image)
	if err != nil {
		return cpuset.CPUSet{}, false, err
	}
	return realtimeCPUConstraint(flavor, img)
}

// PageSize is _get_numa_pagesize_constraint: 0 when no page size is
// requested, a topology.PageSize* constant, or a size in KiB. A size that
// Nova computes as a fraction of a KiB ("1.5KB") is truncated the way the
// instance cell's integer field truncates it.
func PageSize(flavor topology.Flavor, image topology.ImageProps) (int, error) {
	img, err := coerceImage(image)
	if err != nil {
		return 0, err
	}
	size, _, err := pageSizeConstraint(flavor, img)
	if err != nil {
		return 0, err
	}
	return size.kib(), nil
}

// PageSizeValue is _get_numa_pagesize_constraint with Nova's own number, for
// callers that must reproduce its return value exactly: ok is false when
// Nova returns None, and size may be 0 (from "0" or "0B", which request no
// topology) or a fraction of a KiB (string_to_bytes("4Kib")/1024 is 0.5,
// which does request one). PageSize is what an instance cell stores.
func PageSizeValue(flavor topology.Flavor, image topology.ImageProps) (size float64, ok bool, err error) {
	img, err := coerceImage(image)
	if err != nil {
		return 0, false, err
	}
	v, ok, err := pageSizeConstraint(flavor, img)
	return float64(v), ok, err
}

// EmulatorThreadsPolicy is get_emulator_thread_policy_constraint. There is
// no image property for it, so only the flavor is read.
func EmulatorThreadsPolicy(flavor topology.Flavor) (topology.EmulatorThreadsPolicy, error) {
	policy := flavor.ExtraSpecs["hw:emulator_threads_policy"]
	switch topology.EmulatorThreadsPolicy(policy) {
	case "":
		return "", nil
	case topology.EmulatorThreadsShare, topology.EmulatorThreadsIsolate:
		return topology.EmulatorThreadsPolicy(policy), nil
	}
	return "", nova.Errorf[*nova.InvalidEmulatorThreadsPolicy](
		"CPU emulator threads option requested is invalid, given: '%s', available: '['share', 'isolate']'", policy)
}

// RealtimeEnabled is is_realtime_enabled: hw:cpu_realtime read as an
// oslo boolean, so anything but a true word (including a typo) is false.
func RealtimeEnabled(flavor topology.Flavor) bool {
	return cpython.BoolFromString(flavor.ExtraSpecs["hw:cpu_realtime"])
}

func cpuPolicyConstraint(flavor topology.Flavor, img *imageMeta) (topology.CPUPolicy, error) {
	flavorPolicy := topology.CPUPolicy(flavor.ExtraSpecs["hw:cpu_policy"])
	imagePolicy := topology.CPUPolicy(img.str("hw_cpu_policy"))
	valid := func(p topology.CPUPolicy) bool {
		return p == topology.CPUPolicyDedicated || p == topology.CPUPolicyShared || p == topology.CPUPolicyMixed
	}
	if flavorPolicy != "" && !valid(flavorPolicy) {
		return "", nova.Errorf[*nova.InvalidCPUAllocationPolicy]("CPU policy %q in flavor extra specs is invalid", flavorPolicy)
	}
	if imagePolicy != "" && !valid(imagePolicy) {
		return "", nova.Errorf[*nova.InvalidCPUAllocationPolicy]("CPU policy %q in image properties is invalid", imagePolicy)
	}
	switch flavorPolicy {
	case topology.CPUPolicyDedicated:
		return flavorPolicy, nil
	case topology.CPUPolicyMixed:
		if imagePolicy == topology.CPUPolicyDedicated {
			return "", &nova.ImageCPUPinningForbidden{Reason: "image cannot ask for dedicated CPUs when the flavor says mixed"}
		}
		return flavorPolicy, nil
	case topology.CPUPolicyShared:
		if imagePolicy == topology.CPUPolicyMixed || imagePolicy == topology.CPUPolicyDedicated {
			return "", &nova.ImageCPUPinningForbidden{Reason: "image cannot ask for pinned CPUs when the flavor says shared"}
		}
		return flavorPolicy, nil
	}
	return imagePolicy, nil
}

// cpuThreadPolicyConstraint is get_cpu_thread_policy_constraint. blank
// reports Nova's odd result for a flavor key set to "": not None but "",
// which the instance cell's enum field later refuses.
func cpuThreadPolicyConstraint(flavor topology.Flavor, img *imageMeta) (policy topology.ThreadPolicy, blank bool, err error) {
	flavorPolicy, flavorSet := flavor.ExtraSpecs["hw:cpu_thread_policy"]
	imagePolicy := img.str("hw_cpu_thread_policy")
	valid := func(p string) bool {
		switch topology.ThreadPolicy(p) {
		case topology.ThreadPolicyPrefer, topology.ThreadPolicyIsolate, topology.ThreadPolicyRequire:
			return true
		}
		return false
	}
	if flavorPolicy != "" && !valid(flavorPolicy) {
		return "", false, nova.Errorf[*nova.InvalidCPUThreadAllocationPolicy]("CPU thread policy %q in flavor extra specs is invalid", flavorPolicy)
	}
	if imagePolicy != "" && !valid(imagePolicy) {
		return "", false, nova.Errorf[*nova.InvalidCPUThreadAllocationPolicy]("CPU thread policy %q in image properties is invalid", imagePolicy)
	}
	// Only an absent key or "prefer" lets the image decide; an empty
	// string is neither, so it conflicts with any image value.
	if !flavorSet || topology.ThreadPolicy(flavorPolicy) == topology.ThreadPolicyPrefer {
		if flavorPolicy != "" {
			return topology.ThreadPolicy(flavorPolicy), false, nil
		}
		return topology.ThreadPolicy(imagePolicy), false, nil
	}
	if imagePolicy != "" && imagePolicy != flavorPolicy {
		return "", false, &nova.ImageCPUThreadPolicyForbidden{Reason: "image thread policy conflicts with the flavor's"}
	}
	return topology.ThreadPolicy(flavorPolicy), flavorPolicy == "", nil
}

// parseMask reads hw:cpu_realtime_mask / hw:cpu_dedicated_mask: a mask
// starting with "^" excludes vCPUs from all of them.
func parseMask(mask string, vcpus int) (intSet, error) {
	spec := mask
	if strings.HasPrefix(cpython.Strip(mask), "^") {
		spec = fmt.Sprintf("0-%d,%s", vcpus-1, mask)
	}
	parsed, err := parseCPUSpec(spec)
	return parsed.members, err
}

func realtimeCPUConstraint(flavor topology.Flavor, img *imageMeta) (cpuset.CPUSet, bool, error) {
	if !RealtimeEnabled(flavor) {
		return cpuset.CPUSet{}, false, nil
	}
	// The image mask wins: it is the more specific request.
	mask := img.str("hw_cpu_realtime_mask")
	if mask == "" {
		mask = flavor.ExtraSpecs["hw:cpu_realtime_mask"]
	}
	n := int64(flavor.VCPUs)
	rt := intSet{}
	if n > 0 {
		rt = intSet{{0, n - 1}}
	}
	if mask != "" {
		var err error
		if rt, err = parseMask(mask, flavor.VCPUs); err != nil {
			return cpuset.CPUSet{}, false, err
		}
	}
	if rt.empty() {
		return cpuset.CPUSet{}, false, &nova.RealtimeMaskNotFoundOrInvalid{Reason: "realtime mask selects no vCPU"}
	}
	emu, err := EmulatorThreadsPolicy(flavor)
	if err != nil {
		return cpuset.CPUSet{}, false, err
	}
	if rt.equalsRange(n) && emu == "" {
		return cpuset.CPUSet{}, false, &nova.RealtimeMaskNotFoundOrInvalid{Reason: "all vCPUs are realtime and no emulator threads policy is set"}
	}
	if !rt.subsetOfRange(n) {
		return cpuset.CPUSet{}, false, &nova.RealtimeMaskNotFoundOrInvalid{Reason: "realtime mask is not a subset of the flavor's vCPUs"}
	}
	return rt.within(n), true, nil
}

// dedicatedCPUConstraint is get_dedicated_cpu_constraint; ok is false when
// no mask is given.
func dedicatedCPUConstraint(flavor topology.Flavor) (cpuset.CPUSet, bool, error) {
	mask := flavor.ExtraSpecs["hw:cpu_dedicated_mask"]
	if mask == "" {
		return cpuset.CPUSet{}, false, nil
	}
	pcpus, err := parseMask(mask, flavor.VCPUs)
	if err != nil {
		return cpuset.CPUSet{}, false, err
	}
	n := int64(flavor.VCPUs)
	if pcpus.empty() || pcpus.coversRange(n) {
		return cpuset.CPUSet{}, false, &nova.InvalidMixedInstanceDedicatedMask{Reason: "the mask must leave both dedicated and shared vCPUs"}
	}
	if !pcpus.subsetOfRange(n) {
		return cpuset.CPUSet{}, false, &nova.InvalidMixedInstanceDedicatedMask{Reason: "Mixed instance dedicated vCPU(s) mask is not a subset of vCPUs in the flavor"}
	}
	return pcpus.within(n), true, nil
}

// vcpuPCPUResources is _get_vcpu_pcpu_resources: the sums of the
// resources[N]:VCPU and resources[N]:PCPU extra specs, ignoring values that
// are not integers (the scheduler reports those).
func vcpuPCPUResources(flavor topology.Flavor) (vcpus, pcpus int64) {
	for key, val := range flavor.ExtraSpecs {
		n, err := pyInt(val)
		if err != nil {
			continue
		}
		if matchGroupedPrefix(key, "resources", ":VCPU") {
			vcpus += n
		}
		if matchGroupedPrefix(key, "resources", ":PCPU") {
			pcpus += n
		}
	}
	return vcpus, pcpus
}

// matchGroupedPrefix is re.match(head + "([1-9][0-9]*)?" + tail, key):
// anchored at the start only, so longer keys match too.
func matchGroupedPrefix(key, head, tail string) bool {
	rest, ok := strings.CutPrefix(key, head)
	if !ok {
		return false
	}
	if rest != "" && rest[0] >= '1' && rest[0] <= '9' {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		rest = rest[i:]
	}
	return strings.HasPrefix(rest, tail)
}

// hyperthreadingTrait is _get_hyperthreading_trait: the value of the first
// trait[N]:HW_CPU_HYPERTHREADING extra spec, else "required" when the image
// requires the trait. Nova takes the first key in the flavor's dict order,
// which a Go map does not keep; keys are taken in sorted order instead,
// which only matters for a flavor that sets the trait twice, differently.
func hyperthreadingTrait(flavor topology.Flavor, img *imageMeta) string {
	for _, key := range slices.Sorted(maps.Keys(flavor.ExtraSpecs)) {
		if matchGroupedPrefix(key, "trait", ":HW_CPU_HYPERTHREADING") {
			// Even an empty value ends the search: the image is not read.
			return flavor.ExtraSpecs[key]
		}
	}
	if slices.Contains(img.traitsRequired, "HW_CPU_HYPERTHREADING") {
		return "required"
	}
	return ""
}

// numaNodeCountConstraint is _get_numa_node_count_constraint; 0 means None.
func numaNodeCountConstraint(flavor topology.Flavor, img *imageMeta) (int64, error) {
	flavorNodes := flavor.ExtraSpecs["hw:numa_nodes"]
	imageNodes, imageSet := img.int("hw_numa_nodes")
	if flavorNodes != "" && imageNodes != 0 {
		return 0, &nova.ImageNUMATopologyForbidden{Reason: "Image property 'hw_numa_nodes' is not permitted to override NUMA configuration set against the flavor"}
	}
	switch {
	case flavorNodes != "":
		if !isIntLike(flavorNodes) {
			return 0, nova.Errorf[*nova.InvalidNUMANodesNumber]("The provided number of NUMA nodes (%s) is not valid", flavorNodes)
		}
		n, _ := pyInt(flavorNodes)
		if n < 1 {
			return 0, nova.Errorf[*nova.InvalidNUMANodesNumber]("The provided number of NUMA nodes (%s) is not valid", flavorNodes)
		}
		return n, nil
	case imageSet:
		if imageNodes < 1 {
			return 0, nova.Errorf[*nova.InvalidNUMANodesNumber]("The provided number of NUMA nodes (%d) is not valid", imageNodes)
		}
		return imageNodes, nil
	}
	return 0, nil
}

// lockedMemoryConstraint is get_locked_memory_constraint. A flavor key
// that is present counts even when empty (it then reads as false).
func lockedMemoryConstraint(flavor topology.Flavor, img *imageMeta) error {
	flavorPage := flavor.ExtraSpecs["hw:mem_page_size"]
	imagePage := img.str("hw_mem_page_size")
	imageLocked, imageSet := img.bool("hw_locked_memory")
	locked := imageSet && imageLocked
	if v, ok := flavor.ExtraSpecs["hw:locked_memory"]; ok {
		flavorLocked := cpython.BoolFromString(v)
		if imageSet && flavorLocked != imageLocked {
			return nova.Errorf[*nova.FlavorImageLockedMemoryConflict](
				"locked_memory value in image (%t) and flavor (%t) conflict", imageLocked, flavorLocked)
		}
		locked = flavorLocked
	}
	if locked && flavorPage == "" && imagePage == "" {
		return &nova.LockMemoryForbidden{Reason: "Memory locking requested without a memory page size"}
	}
	return nil
}

// vpmemLabels is get_vpmems: the non-blank labels of hw:pmem.
func vpmemLabels(flavor topology.Flavor) []string {
	var out []string
	for _, label := range strings.Split(flavor.ExtraSpecs["hw:pmem"], ",") {
		if l := cpython.Strip(label); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// flavorMappings is _get_constraint_mappings_from_flavor: key.0, key.1, …
// up to the first missing index; nil when key.0 is absent.
func flavorMappings(flavor topology.Flavor, key string) []string {
	var out []string
	for n := 0; n < numaNodesMax; n++ {
		v, ok := flavor.ExtraSpecs[key+"."+strconv.Itoa(n)]
		if !ok {
			break
		}
		out = append(out, v)
	}
	return out
}

// numaCPUConstraint is _get_numa_cpu_constraint.
func numaCPUConstraint(flavor topology.Flavor, img *imageMeta) ([]cpuSpec, error) {
	raw := flavorMappings(flavor, "hw:numa_cpus")
	if raw == nil {
		return img.numaCPUs, nil
	}
	specs := make([]cpuSpec, len(raw))
	for i, v := range raw {
		var err error
		if specs[i], err = parseCPUSpec(v); err != nil {
			return nil, err
		}
	}
	if img.numaCPUs != nil {
		return nil, &nova.ImageNUMATopologyForbidden{Reason: "Image property 'hw_numa_cpus' is not permitted to override NUMA configuration set against the flavor"}
	}
	return specs, nil
}

// numaMemConstraint is _get_numa_mem_constraint.
func numaMemConstraint(flavor topology.Flavor, img *imageMeta) ([]int64, error) {
	raw := flavorMappings(flavor, "hw:numa_mem")
	if raw == nil {
		return img.numaMem, nil
	}
	mems := make([]int64, len(raw))
	for i, v := range raw {
		var err error
		if mems[i], err = pyInt(v); err != nil {
			return nil, nova.Errorf[*nova.ValueError]("hw:numa_mem.%d: invalid literal for int() with base 10: %q", i, v)
		}
	}
	if img.numaMem != nil {
		return nil, &nova.ImageNUMATopologyForbidden{Reason: "Image property 'hw_numa_mem' is not permitted to override NUMA configuration set against the flavor"}
	}
	return mems, nil
}

func getConstraints(flavor topology.Flavor, img *imageMeta) (*topology.InstanceTopology, error) {
	cpuPolicy, err := cpuPolicyConstraint(flavor, img)
	if err != nil {
		return nil, err
	}
	threadPolicy, threadBlank, err := cpuThreadPolicyConstraint(flavor, img)
	if err != nil {
		return nil, err
	}
	realtimeCPUs, realtime, err := realtimeCPUConstraint(flavor, img)
	if err != nil {
		return nil, err
	}
	dedicatedCPUs, dedicatedMask, err := dedicatedCPUConstraint(flavor)
	if err != nil {
		return nil, err
	}
	emuPolicy, err := EmulatorThreadsPolicy(flavor)
	if err != nil {
		return nil, err
	}

	// Explicit placement requests for VCPU/PCPU and the hyperthreading trait
	// are the placement-era spelling of the CPU and thread policies.
	requestedVCPUs, requestedPCPUs := vcpuPCPUResources(flavor)
	if cpuPolicy != "" && (requestedVCPUs != 0 || requestedPCPUs != 0) {
		return nil, &nova.InvalidRequest{Reason: "It is not possible to use the 'resources:VCPU' or 'resources:PCPU' extra specs in combination with the 'hw:cpu_policy' extra spec or 'hw_cpu_policy' image metadata property; use one or the other"}
	}
	if requestedVCPUs != 0 && requestedPCPUs != 0 {
		return nil, &nova.InvalidRequest{Reason: "It is not possible to specify both 'resources:VCPU' and 'resources:PCPU' extra specs; use one or the other"}
	}
	if requestedPCPUs != 0 {
		vcpus := int64(flavor.VCPUs)
		if emuPolicy == topology.EmulatorThreadsIsolate && vcpus+1 != requestedPCPUs {
			return nil, &nova.InvalidRequest{Reason: "You have requested 'hw:emulator_threads_policy=isolate' but have not requested sufficient PCPUs to handle this policy; you must allocate exactly flavor.vcpus + 1 PCPUs."}
		}
		if emuPolicy != topology.EmulatorThreadsIsolate && vcpus != requestedPCPUs {
			return nil, &nova.InvalidRequest{Reason: "There is a mismatch between the number of PCPUs requested via 'resourcesNN:PCPU' and the flavor); you must allocate exactly flavor.vcpus PCPUs"}
		}
		cpuPolicy = topology.CPUPolicyDedicated
	}
	if requestedVCPUs != 0 {
		cpuPolicy = topology.CPUPolicyShared
	}

	trait := hyperthreadingTrait(flavor, img)
	if threadPolicy != "" && trait != "" {
		return nil, &nova.InvalidRequest{Reason: "It is not possible to use the 'trait:HW_CPU_HYPERTHREADING' extra spec in combination with the 'hw:cpu_thread_policy' extra spec or 'hw_cpu_thread_policy' image metadata property; use one or the other"}
	}
	switch trait {
	case "forbidden":
		threadPolicy, threadBlank = topology.ThreadPolicyIsolate, false
	case "required":
		threadPolicy, threadBlank = topology.ThreadPolicyRequire, false
	}

	switch cpuPolicy {
	case topology.CPUPolicyShared, "":
		if threadPolicy != "" {
			return nil, &nova.CPUThreadPolicyConfigurationInvalid{Reason: "Cannot set cpu thread pinning policy in a non dedicated cpu pinning policy"}
		}
		if emuPolicy == topology.EmulatorThreadsIsolate {
			return nil, &nova.BadRequirementEmulatorThreadsPolicy{Reason: "An isolated CPU emulator threads option requires a dedicated CPU policy option."}
		}
		if dedicatedMask {
			return nil, &nova.RequiredMixedInstancePolicy{Reason: "Cannot specify 'hw:cpu_dedicated_mask' without the 'mixed' policy."}
		}
		if realtime {
			return nil, &nova.RealtimeConfigurationInvalid{Reason: "Cannot set realtime policy in a non dedicated cpu pinning policy"}
		}
	case topology.CPUPolicyDedicated:
		if dedicatedMask {
			return nil, &nova.RequiredMixedInstancePolicy{Reason: "Cannot specify 'hw:cpu_dedicated_mask' without the 'mixed' policy."}
		}
	default: // mixed
		if realtime == dedicatedMask {
			return nil, &nova.RequiredMixedOrRealtimeCPUMask{Reason: "Must specify either 'hw:cpu_dedicated_mask' or 'hw:cpu_realtime_mask' when using 'mixed' CPU policy instance."}
		}
		// With mixed + realtime, the realtime vCPUs are the dedicated ones.
		if realtime {
			dedicatedCPUs = realtimeCPUs
		}
	}

	nodes, err := numaNodeCountConstraint(flavor, img)
	if err != nil {
		return nil, err
	}
	pageSize, _, err := pageSizeConstraint(flavor, img)
	if err != nil {
		return nil, err
	}
	vpmems := vpmemLabels(flavor)
	if err := lockedMemoryConstraint(flavor, img); err != nil {
		return nil, err
	}

	n := int64(flavor.VCPUs)
	allCPUs := cpuset.Range(0, flavor.VCPUs-1)
	if cpuPolicy == topology.CPUPolicyDedicated {
		dedicatedCPUs = allCPUs
	}

	// Four things give a guest a NUMA topology: asking for one, CPU
	// pinning, huge pages (any page size request) and vPMEM.
	if nodes == 0 && pageSize == 0 && len(vpmems) == 0 &&
		cpuPolicy != topology.CPUPolicyDedicated && cpuPolicy != topology.CPUPolicyMixed {
		return nil, nil
	}
	pcpus := dedicatedCPUs
	vcpus := allCPUs.Difference(pcpus)
	if nodes == 0 {
		nodes = 1
	}
	cpuList, err := numaCPUConstraint(flavor, img)
	if err != nil {
		return nil, err
	}
	memList, err := numaMemConstraint(flavor, img)
	if err != nil {
		return nil, err
	}

	var cells []topology.InstanceCell
	switch {
	case cpuList == nil && memList == nil:
		cells, err = numaTopologyAuto(nodes, flavor, vcpus, pcpus)
	case cpuList != nil && memList != nil:
		if int64(len(cpuList)) != nodes || int64(len(memList)) != nodes {
			return nil, &nova.ImageNUMATopologyIncomplete{Reason: "Image property 'hw_numa_cpus.N' and 'hw_numa_mem.N' must be given for every NUMA node"}
		}
		cells, err = numaTopologyManual(n, int64(flavor.MemoryMB), vcpus, pcpus, cpuList, memList)
	default:
		return nil, &nova.ImageNUMATopologyIncomplete{Reason: "Image properties 'hw_numa_cpus.N' and 'hw_numa_mem.N' must be given together"}
	}
	if err != nil {
		return nil, err
	}
	// The page size and policies are per cell in Nova's objects, but always
	// the same for every cell; the emulator threads policy is per guest.
	if threadBlank {
		return nil, &nova.ValueError{Reason: "Field value  is invalid (cpu_thread_policy)"}
	}
	for i := range cells {
		cells[i].PageSizeKB = pageSize.kib()
		cells[i].CPUPolicy = cpuPolicy
		cells[i].CPUThreadPolicy = threadPolicy
	}
	return &topology.InstanceTopology{Cells: cells, EmulatorThreadsPolicy: emuPolicy}, nil
}

// numaTopologyAuto is _get_numa_topology_auto: an even split of vCPUs and
// memory, refused when it does not divide exactly.
func numaTopologyAuto(nodes int64, flavor topology.Flavor, vcpus, pcpus cpuset.CPUSet) ([]topology.InstanceCell, error) {
	nv, mem := int64(flavor.VCPUs), int64(flavor.MemoryMB)
	if pyMod(nv, nodes) != 0 || pyMod(mem, nodes) != 0 {
		return nil, &nova.ImageNUMATopologyAsymmetric{Reason: "Instance CPUs and/or memory cannot be evenly distributed across instance NUMA nodes. Explicit assignment of CPUs and memory to nodes is required"}
	}
	if nodes > maxCells {
		return nil, nova.Errorf[*nova.Invalid]("refusing to build %d NUMA cells", nodes)
	}
	perCell, memPerCell := nv/nodes, mem/nodes
	cells := make([]topology.InstanceCell, nodes)
	for node := range cells {
		start := int64(node) * perCell
		cpus := cpuset.Range(int(start), int(start+perCell-1))
		cells[node] = topology.InstanceCell{
			ID:        node,
			CPUSet:    cpus.Intersection(vcpus),
			PCPUSet:   cpus.Intersection(pcpus),
			MemoryMiB: int(memPerCell),
		}
	}
	return cells, nil
}

// numaTopologyManual is _get_numa_topology_manual: the user's per-node CPU
// lists and memory sizes, which must cover every vCPU exactly once and add
// up to the flavor's memory.
func numaTopologyManual(nv, memoryMB int64, vcpus, pcpus cpuset.CPUSet, cpuList []cpuSpec, memList []int64) ([]topology.InstanceCell, error) {
	var used cpuset.CPUSet
	var total int64
	cells := make([]topology.InstanceCell, len(cpuList))
	for node, spec := range cpuList {
		cpus := spec.members
		outOfRange := !cpus.subsetOfRange(nv)
		inRange := cpus.within(nv)
		duplicate := inRange.Intersects(used)
		if outOfRange && duplicate {
			// Which one Nova meets first depends on the set's order.
			for _, cpu := range spec.iterationOrder() {
				if cpu > nv-1 {
					duplicate = false
					break
				}
				if used.Contains(int(cpu)) {
					outOfRange = false
					break
				}
			}
		}
		if outOfRange {
			return nil, nova.Errorf[*nova.ImageNUMATopologyCPUOutOfRange]("CPU number %d is larger than max %d", cpus.max(), nv-1)
		}
		if duplicate {
			return nil, nova.Errorf[*nova.ImageNUMATopologyCPUDuplicates]("CPU number %v is assigned to two nodes", inRange.Intersection(used))
		}
		used = used.Union(inRange)
		cells[node] = topology.InstanceCell{
			ID:        node,
			CPUSet:    inRange.Intersection(vcpus),
			PCPUSet:   inRange.Intersection(pcpus),
			MemoryMiB: int(memList[node]),
		}
		total += memList[node]
	}
	if unassigned := cpuset.Range(0, int(nv)-1).Difference(used); !unassigned.IsEmpty() {
		return nil, nova.Errorf[*nova.ImageNUMATopologyCPUsUnassigned]("CPU number(s) %v are not assigned to any node", unassigned)
	}
	if total != memoryMB {
		return nil, nova.Errorf[*nova.ImageNUMATopologyMemoryOutOfRange]("%d MB of memory assigned, but expected %d MB of available memory", total, memoryMB)
	}
	return cells, nil
}
