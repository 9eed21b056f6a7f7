package nova

import (
	"fmt"
	"strconv"
	"strings"
)

// Profile is the set of release-specific behaviours of Nova's NUMA code. The
// fitter and the XML builder consult it wherever releases differ, so adding a
// release means adding a profile, not forking the logic. Each field names the
// change that introduced the behaviour.
type Profile struct {
	// Name is the release this profile describes, e.g. "26.x (Zed)".
	Name string
	// Major is the first component of Nova's version.
	Major int
	// PackByDefault is the default of [compute]
	// packing_host_numa_cells_allocation_strategy (True in Yoga, False from
	// Zed on).
	PackByDefault bool
	// MixedCellWithoutPinnedCPUsFits: a mixed-policy guest cell with no
	// dedicated vCPUs fits (bug #1994526, fixed in 28.0.0). In Zed the empty
	// pinning counts as a failure.
	MixedCellWithoutPinnedCPUsFits bool
	// PagesizeAwarePinnedMemory: pinned guests are checked against free pages
	// of the chosen size instead of against avail_memory (f14c16af82, 30.0.0).
	PagesizeAwarePinnedMemory bool
	// MaxTopologyKeysFixed: hw:cpu_max_sockets|cores|threads are the keys both
	// the API validator and the code use (bug #2120862, fixed in 32.0.0).
	MaxTopologyKeysFixed bool
	// IOThreadPinning: guests get one iothread pinned like the emulator
	// threads (master after 32.x).
	IOThreadPinning bool
}

// Zed is Nova 26.x, the release Debian 12 ships and the embedded cloud runs.
var Zed = Profile{Name: "26.x (Zed)", Major: 26}

// Epoxy is Nova 31.x (2025.1), what Debian 13 ships. It is declared so the
// seams are visible; its behaviour is exercised once its vectors exist.
var Epoxy = Profile{
	Name:                           "31.x (2025.1 Epoxy)",
	Major:                          31,
	MixedCellWithoutPinnedCPUsFits: true,
	PagesizeAwarePinnedMemory:      true,
}

// Profiles lists the known releases, oldest first.
var Profiles = []Profile{Zed, Epoxy}

// ProfileFor picks the profile for a Nova version string such as "26.2.2" or
// "2:26.2.2-1~deb12u5" (a Debian package version). When the release is not
// one the harness knows, it returns the nearest older profile (or the oldest)
// and a warning saying so; an unparseable version is an error.
func ProfileFor(version string) (Profile, string, error) {
	v := version
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest // Debian epoch
	}
	majorStr, _, _ := strings.Cut(v, ".")
	major, err := strconv.Atoi(majorStr)
	if err != nil || major <= 0 {
		return Profile{}, "", fmt.Errorf("nova: cannot read a release from version %q: want MAJOR.MINOR.PATCH, e.g. 26.2.2", version)
	}
	best := Profiles[0]
	for _, p := range Profiles {
		if p.Major == major {
			return p, "", nil
		}
		if p.Major < major {
			best = p
		}
	}
	return best, fmt.Sprintf("unknown Nova release %s, using %s rules", version, best.Name), nil
}

// zedMaxMicroversion and epoxyMaxMicroversion are the highest compute API
// microversions of those releases. Clouds report only the microversion,
// not Nova's version, so it is the best evidence of the release there is.
const (
	zedMaxMicroversion   = 93
	epoxyMaxMicroversion = 100
)

// ProfileForMicroversion picks the profile for a cloud whose compute API
// offers at most microversion mv ("2.93"). Several releases share a
// maximum, so only 2.93 (Zed) and 2.100 (Epoxy, also Flamingo) are taken
// as certain; anything else gets the nearest older profile and a warning
// that says which rules are used.
func ProfileForMicroversion(mv string) (Profile, string, error) {
	major, minorStr, ok := strings.Cut(mv, ".")
	minor, err := strconv.Atoi(minorStr)
	if !ok || major != "2" || err != nil || minor < 1 {
		return Profile{}, "", fmt.Errorf("nova: cannot read compute microversion %q: want 2.N, e.g. 2.93", mv)
	}
	switch {
	case minor == zedMaxMicroversion:
		return Zed, "", nil
	case minor < zedMaxMicroversion:
		return Zed, fmt.Sprintf("compute API %s is older than Zed (2.93): unknown Nova release, using %s rules", mv, Zed.Name), nil
	case minor < epoxyMaxMicroversion:
		return Zed, fmt.Sprintf("compute API %s is between Zed (2.93) and Epoxy (2.100): unknown Nova release, using %s rules", mv, Zed.Name), nil
	case minor == epoxyMaxMicroversion:
		return Epoxy, "", nil
	default:
		return Epoxy, fmt.Sprintf("compute API %s is newer than Epoxy (2.100): unknown Nova release, using %s rules", mv, Epoxy.Name), nil
	}
}
