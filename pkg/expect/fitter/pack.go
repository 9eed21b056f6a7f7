package fitter

import (
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// pinning is the list of (vCPU, host CPU) pairs _get_pinning returns. Python
// distinguishes None (valid=false) from an empty list (valid, no pairs), and
// releases differ on whether the empty list counts as success.
type pinning struct {
	vcpus, pcpus []int
	valid        bool
}

func (p pinning) truthy() bool { return p.valid && len(p.vcpus) > 0 }

// failed is how the pinning loop and the final check judge a pinning: in Zed
// "not pinning", so an empty pinning fails (bug #1994526); from 28.0
// "pinning is None".
func (p pinning) failed(prof nova.Profile) bool {
	if prof.MixedCellWithoutPinnedCPUsFits {
		return !p.valid
	}
	return !p.truthy()
}

// getPinning is _get_pinning: the first k threads (in set order) of each
// group, chained, zipped with the guest's pinned vCPUs in ascending order.
// groups holds indices into free.
func getPinning(k int, free [][]int, groups []int, vcpus []int, buf []int) pinning {
	if k*len(groups) < len(vcpus) {
		return pinning{}
	}
	out := pinning{valid: true, vcpus: vcpus}
	pc := buf[:0]
	for _, g := range groups {
		if len(pc) == len(vcpus) {
			break
		}
		members := free[g]
		members = members[:min(k, len(members))]
		for _, m := range members {
			if len(pc) == len(vcpus) {
				break
			}
			pc = append(pc, m)
		}
	}
	out.pcpus = pc
	out.vcpus = vcpus[:len(pc)]
	return out
}

// getReserved is _get_reserved: the host CPUs for emulator threads, taken in
// order from the groups after removing the CPUs just pinned (or, for
// isolate, the whole groups that hold them). nil is None.
// The result and the work lists live in sc, reused by the next call.
func getReserved(free [][]int, groups []int, p pinning, numReserved int, isolate bool, sc *reserveScratch) []int {
	if !p.truthy() || numReserved == 0 {
		return nil
	}
	flat := sc.flat[:0]
	total := 0
	for _, g := range groups {
		total += len(free[g])
	}
	if cap(flat) < total {
		flat = make([]int, 0, total)
	}
	for _, g := range groups {
		flat = append(flat, free[g]...)
	}
	usable := grown(sc.groups, len(groups))
	off := 0
	for i, g := range groups {
		n := len(free[g])
		usable[i] = flat[off : off+n : off+n]
		off += n
	}
	sc.flat, sc.groups = flat, usable
	for _, pcpu := range p.pcpus {
		// Python iterates the list by index while removing from it, so an
		// element that slides into the current index is skipped.
		for i := 0; i < len(usable); i++ {
			sib := usable[i]
			j := slices.Index(sib, pcpu)
			if j < 0 {
				continue
			}
			if isolate {
				// list.remove removes the first equal list.
				first := slices.IndexFunc(usable, func(s []int) bool { return slices.Equal(s, sib) })
				usable = slices.Delete(usable, first, first+1)
			} else {
				usable[i] = slices.Delete(sib, j, j+1)
			}
		}
	}
	res := sc.res[:0]
	if cap(res) < numReserved {
		res = make([]int, 0, numReserved)
		sc.res = res
	}
	for _, sib := range usable {
		for _, c := range sib {
			if len(res) == numReserved {
				return res
			}
			res = append(res, c)
		}
	}
	if len(res) == 0 {
		return nil
	}
	return res
}

// reserveScratch holds getReserved's buffers.
type reserveScratch struct {
	flat   []int
	groups [][]int
	res    []int
}

// packOntoCores is _pack_instance_onto_cores. On success it updates st as
// Nova updates the instance cell: pinning merged into the existing
// cpu_pinning, id set to the host cell's, cpuset_reserved overwritten.
func packOntoCores(hv *hostView, st *cellState, numReserved int, prof nova.Profile) (bool, error) {
	host := hv.cell
	ic := st.src
	if len(host.Siblings) == 0 {
		return false, nova.Errorf[*nova.ValueError]("max() arg is an empty sequence (host cell %d has no siblings)", host.ID)
	}
	tpc := hv.threadsPerCore()
	free := hv.freeSiblings()
	maxFree := hv.maxFree
	vcpus := st.pcpus()
	if cap(hv.pinBuf) < len(vcpus) {
		hv.pinBuf = make([]int, 0, len(vcpus))
	}

	var pin pinning
	var res []int
	policy := ic.CPUThreadPolicy
	if policy == topology.ThreadPolicyIsolate {
		if maxFree < tpc {
			return false, nil // no fully free core
		}
		// With SMT, isolate only works on legacy hosts where cpuset ==
		// pcpuset (bug #1889633).
		if tpc != 1 && !host.PCPUSet.Equal(host.CPUSet) {
			return false, nil
		}
		pin = getPinning(1, free, hv.siblingSets(tpc), vcpus, hv.pinBuf)
		res = getReserved(free, hv.siblingSets(1), pin, numReserved, true, &hv.reserve)
		if !pin.truthy() || (numReserved > 0 && res == nil) {
			pin, res = pinning{}, nil
		}
	} else {
		require := policy == topology.ThreadPolicyRequire
		if require && tpc <= 1 {
			return false, nil
		}
		threadsNo := 1
		for k := maxFree; k >= 1; k-- {
			threadsNo = k
			if require && k <= 1 {
				continue
			}
			pin = getPinning(k, free, hv.siblingSets(k), vcpus, hv.pinBuf)
			res = getReserved(free, hv.siblingSets(1), pin, numReserved, false, &hv.reserve)
			if pin.failed(prof) || (numReserved > 0 && res == nil) {
				continue
			}
			break
		}
		if !require && !pin.truthy() {
			// Treat every free thread as a core of its own, in the chained
			// order of sibling_sets[1].
			var flat []int
			for _, g := range hv.siblingSets(1) {
				flat = append(flat, free[g]...)
			}
			singles := make([][]int, len(flat))
			idx := make([]int, len(flat))
			for i := range flat {
				singles[i] = flat[i : i+1 : i+1]
				idx[i] = i
			}
			pin = getPinning(threadsNo, singles, idx, vcpus, hv.pinBuf)
			res = getReserved(singles, idx, pin, numReserved, false, &hv.reserve)
		}
	}
	if pin.failed(prof) || (numReserved > 0 && res == nil) {
		return false, nil
	}
	st.setPinning(pin.pcpus)
	st.id = host.ID
	st.reserved = cpuset.New(res...)
	return true, nil
}
