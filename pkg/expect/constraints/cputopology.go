package constraints

import (
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The guest <cpu><topology> ignores the NUMA topology: it comes from
// get_best_cpu_topology(flavor, image), the first of the topologies
// _get_desirable_cpu_topologies ranks.

// unlimitedTopology is the limit Nova uses for an unset maximum.
const unlimitedTopology = 65536

// cpuTopology is a VirtCPUTopology with Python-sized ints.
type cpuTopology struct{ sockets, cores, threads int64 }

// DesirableCPUTopologies is _get_desirable_cpu_topologies: every guest
// <cpu><topology> Nova would accept, best first. allowThreads is false for
// hypervisors without SMT guests, which forces one thread per core.
func DesirableCPUTopologies(flavor topology.Flavor, image topology.ImageProps, allowThreads bool) ([]topology.GuestCPUTopology, error) {
	img, err := coerceImage(image)
	if err != nil {
		return nil, err
	}
	preferred, maximum, err := cpuTopologyConstraints(flavor, img)
	if err != nil {
		return nil, err
	}
	possible, err := possibleCPUTopologies(int64(flavor.VCPUs), maximum, allowThreads)
	if err != nil {
		return nil, err
	}
	sorted := sortCPUTopologies(possible, preferred)
	out := make([]topology.GuestCPUTopology, len(sorted))
	for i, t := range sorted {
		out[i] = topology.GuestCPUTopology{Sockets: int(t.sockets), Cores: int(t.cores), Threads: int(t.threads)}
	}
	return out, nil
}

// BestCPUTopology is get_best_cpu_topology: the first desirable topology,
// which is what the libvirt driver writes into the guest's <cpu>.
func BestCPUTopology(flavor topology.Flavor, image topology.ImageProps, allowThreads bool) (topology.GuestCPUTopology, error) {
	all, err := DesirableCPUTopologies(flavor, image, allowThreads)
	if err != nil {
		return topology.GuestCPUTopology{}, err
	}
	return all[0], nil
}

// flavorTopologyInt reads one hw:cpu_* extra spec with int(), 0 when the
// key is absent; a non-integer is InvalidRequest.
func flavorTopologyInt(flavor topology.Flavor, key string) (int64, error) {
	v, ok := flavor.ExtraSpecs[key]
	if !ok {
		return 0, nil
	}
	n, err := pyInt(v)
	if err != nil {
		return 0, nova.Errorf[*nova.InvalidRequest]("Invalid flavor extra spec. Error: invalid literal for int() with base 10: %q", v)
	}
	return n, nil
}

// flavorImageTopology reads the flavor's hw:cpu_<what> for sockets, cores
// and threads (all three, so the first bad one raises) and the image's
// hw_cpu_<what> twins.
func flavorImageTopology(flavor topology.Flavor, img *imageMeta, what string) (fromFlavor, fromImage cpuTopology, err error) {
	vals := [3]int64{}
	for i, part := range []string{"sockets", "cores", "threads"} {
		if vals[i], err = flavorTopologyInt(flavor, "hw:cpu_"+what+part); err != nil {
			return cpuTopology{}, cpuTopology{}, err
		}
	}
	s, _ := img.int("hw_cpu_" + what + "sockets")
	c, _ := img.int("hw_cpu_" + what + "cores")
	t, _ := img.int("hw_cpu_" + what + "threads")
	return cpuTopology{vals[0], vals[1], vals[2]}, cpuTopology{s, c, t}, nil
}

// cpuTopologyConstraints is get_cpu_topology_constraints: the preferred
// and the maximum topology. The image may only lower the flavor's limits;
// a preferred flavor topology beyond the limits is dropped, an image one is
// an error.
func cpuTopologyConstraints(flavor topology.Flavor, img *imageMeta) (preferred, maximum cpuTopology, err error) {
	flavorMax, imageMax, err := flavorImageTopology(flavor, img, "max_")
	if err != nil {
		return cpuTopology{}, cpuTopology{}, err
	}
	if (flavorMax.sockets != 0 && imageMax.sockets > flavorMax.sockets) ||
		(flavorMax.cores != 0 && imageMax.cores > flavorMax.cores) ||
		(flavorMax.threads != 0 && imageMax.threads > flavorMax.threads) {
		return cpuTopology{}, cpuTopology{}, nova.Errorf[*nova.ImageVCPULimitsRangeExceeded](
			"Image vCPU topology limits (sockets=%d, cores=%d, threads=%d) exceeds the limits of the flavor (sockets=%d, cores=%d, threads=%d)",
			imageMax.sockets, imageMax.cores, imageMax.threads, flavorMax.sockets, flavorMax.cores, flavorMax.threads)
	}
	firstSet := func(vals ...int64) int64 {
		for _, v := range vals {
			if v != 0 {
				return v
			}
		}
		return unlimitedTopology
	}
	maximum = cpuTopology{
		sockets: firstSet(imageMax.sockets, flavorMax.sockets),
		cores:   firstSet(imageMax.cores, flavorMax.cores),
		threads: firstSet(imageMax.threads, flavorMax.threads),
	}

	flavorPref, imagePref, err := flavorImageTopology(flavor, img, "")
	if err != nil {
		return cpuTopology{}, cpuTopology{}, err
	}
	exceeds := func(t cpuTopology) bool {
		return t.sockets > maximum.sockets || t.cores > maximum.cores || t.threads > maximum.threads
	}
	if exceeds(flavorPref) {
		flavorPref = cpuTopology{}
	}
	if exceeds(imagePref) {
		return cpuTopology{}, cpuTopology{}, nova.Errorf[*nova.ImageVCPUTopologyRangeExceeded](
			"Image vCPU topology (sockets=%d, cores=%d, threads=%d) exceeds the limits (sockets=%d, cores=%d, threads=%d)",
			imagePref.sockets, imagePref.cores, imagePref.threads, maximum.sockets, maximum.cores, maximum.threads)
	}
	// Any preferred value on the image replaces all of the flavor's.
	if imagePref == (cpuTopology{}) {
		return flavorPref, maximum, nil
	}
	return imagePref, maximum, nil
}

// possibleCPUTopologies is _get_possible_cpu_topologies: every
// sockets × cores × threads = vcpus within the limits, ordered by
// (sockets*cores, sockets, threads) descending, so that fewer threads and
// then more sockets come first.
func possibleCPUTopologies(vcpus int64, maximum cpuTopology, allowThreads bool) ([]cpuTopology, error) {
	maxSockets := min(vcpus, maximum.sockets)
	maxCores := min(vcpus, maximum.cores)
	maxThreads := min(vcpus, maximum.threads)
	if !allowThreads {
		maxThreads = 1
	}
	var possible []cpuTopology
	divisors := divisorsOf(vcpus)
	for _, s := range divisors {
		if s > maxSockets {
			break
		}
		for _, c := range divisors {
			if c > maxCores {
				break
			}
			if (vcpus/s)%c != 0 {
				continue
			}
			if t := vcpus / s / c; t <= maxThreads {
				possible = append(possible, cpuTopology{s, c, t})
			}
		}
	}
	if len(possible) == 0 {
		return nil, nova.Errorf[*nova.ImageVCPULimitsRangeImpossible](
			"Requested vCPU limits %d:%d:%d are impossible to satisfy for vcpus count %d",
			maxSockets, maxCores, maxThreads, vcpus)
	}
	// The keys are all distinct (threads follows from the other two), so
	// the stability of Python's sort plays no part.
	slices.SortFunc(possible, func(a, b cpuTopology) int {
		ka := [3]int64{a.sockets * a.cores, a.sockets, a.threads}
		kb := [3]int64{b.sockets * b.cores, b.sockets, b.threads}
		return slices.Compare(kb[:], ka[:])
	})
	return possible, nil
}

// divisorsOf returns the positive divisors of n in ascending order, none
// when n < 1.
func divisorsOf(n int64) []int64 {
	var small, large []int64
	for d := int64(1); d*d <= n; d++ {
		if n%d == 0 {
			small = append(small, d)
			if d != n/d {
				large = append(large, n/d)
			}
		}
	}
	slices.Reverse(large)
	return append(small, large...)
}

// scoreCPUTopology is _score_cpu_topology: how many of the preferred
// (non-zero) values the topology matches.
func scoreCPUTopology(t, want cpuTopology) int {
	score := 0
	if want.sockets != 0 && t.sockets == want.sockets {
		score++
	}
	if want.cores != 0 && t.cores == want.cores {
		score++
	}
	if want.threads != 0 && t.threads == want.threads {
		score++
	}
	return score
}

// sortCPUTopologies is _sort_possible_cpu_topologies: best score first,
// keeping the order of possibleCPUTopologies within a score.
func sortCPUTopologies(possible []cpuTopology, want cpuTopology) []cpuTopology {
	var byScore [4][]cpuTopology
	for _, t := range possible {
		s := scoreCPUTopology(t, want)
		byScore[s] = append(byScore[s], t)
	}
	return slices.Concat(byScore[3], byScore[2], byScore[1], byScore[0])
}
