package nova

import (
	"fmt"
	"slices"
)

// Profile is the set of release-specific behaviours of Nova's NUMA code. The
// fitter and the XML builder consult it wherever releases differ, so adding a
// release means adding a row to the tables below, not forking the logic.
// Each field names the change that introduced the behaviour; Changes lists
// the first release of each, from Nova's tags.
type Profile struct {
	// Name says which releases the rules are those of, e.g.
	// "31.2.0-31.x (2025.1 Epoxy)".
	Name string
	// Major is the first component of Nova's version; fixtures' per-release
	// outcomes (expect.since) are keyed on it.
	Major int
	// PackByDefault is the default of [compute]
	// packing_host_numa_cells_allocation_strategy (True in Yoga, False from
	// Zed on).
	PackByDefault bool
	// MixedCellWithoutPinnedCPUsFits: a mixed-policy guest cell with no
	// dedicated vCPUs fits (bug #1994526). In Zed the empty pinning counts
	// as a failure.
	MixedCellWithoutPinnedCPUsFits bool
	// UsageToleratesUnsetPinning: numa_usage_from_instance_numa treats a
	// pinned cell whose cpu_pinning is unset as pinning nothing (same fix);
	// Zed raises AttributeError.
	UsageToleratesUnsetPinning bool
	// PagesizeAwarePinnedMemory: pinned guests are checked against free pages
	// of the chosen size instead of against avail_memory (f14c16af82).
	PagesizeAwarePinnedMemory bool
	// MaxTopologyKeysFixed: hw:cpu_max_sockets|cores|threads are the keys both
	// the API validator and the code use (bug #2120862).
	MaxTopologyKeysFixed bool
	// IOThreadPinning: every domain gets one iothread, and guests with a
	// NUMA topology an <iothreadpin> on the emulator threads' CPUs.
	IOThreadPinning bool
}

// Change is one behaviour that differs between releases: the first release
// of each stable series that has it (a backport), and the first release of
// every series from then on.
type Change struct {
	// What names it as the Profile field does.
	What string
	// Since is the first release whose series and all later ones have it.
	Since Version
	// Backports are first releases of older series that have it too.
	Backports []Version
	// Source cites the commit or bug.
	Source string
	set    func(*Profile)
}

// In reports whether release v has the change.
func (c Change) In(v Version) bool {
	if !v.Less(c.Since) {
		return true
	}
	for _, b := range c.Backports {
		if v.Major == b.Major && !v.Less(b) {
			return true
		}
	}
	return false
}

// Changes are the NUMA behaviours that differ from 26.0.0 on, as Nova's tags
// show them (see ../shared/nova-releases.md and the README's release table,
// which a test keeps equal to this one).
var Changes = []Change{
	{What: "MixedCellWithoutPinnedCPUsFits", Since: V(28, 0, 0), Backports: []Version{V(27, 1, 0)},
		Source: "bug #1994526 (_pack_instance_onto_cores: `pinning is None`)",
		set:    func(p *Profile) { p.MixedCellWithoutPinnedCPUsFits = true }},
	{What: "UsageToleratesUnsetPinning", Since: V(28, 0, 0), Backports: []Version{V(27, 1, 0)},
		Source: "bug #1994526 (numa_usage_from_instance_numa: `if instance_cell.cpu_pinning`)",
		set:    func(p *Profile) { p.UsageToleratesUnsetPinning = true }},
	{What: "PagesizeAwarePinnedMemory", Since: V(30, 0, 0),
		Source: "f14c16af82, bug #1811886 (_numa_fit_instance_cell)",
		set:    func(p *Profile) { p.PagesizeAwarePinnedMemory = true }},
	{What: "MaxTopologyKeysFixed", Since: V(32, 0, 0), Backports: []Version{V(30, 3, 0), V(31, 2, 0)},
		Source: "bug #2120862 (api/validation/extra_specs/hw.py)",
		set:    func(p *Profile) { p.MaxTopologyKeysFixed = true }},
	{What: "IOThreadPinning", Since: V(33, 0, 0),
		Source: "driver._get_guest_iothread and _get_guest_numa_config, 33.0.0",
		set:    func(p *Profile) { p.IOThreadPinning = true }},
}

// Version is a Nova release number.
type Version struct{ Major, Minor, Patch int }

// V makes a Version.
func V(major, minor, patch int) Version { return Version{major, minor, patch} }

// Less orders versions.
func (v Version) Less(w Version) bool {
	return v.Major < w.Major || v.Major == w.Major && (v.Minor < w.Minor || v.Minor == w.Minor && v.Patch < w.Patch)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Series is one Nova major release: its number, date-based name and code
// name.
type Series struct {
	Major        int
	Release      string // "2025.1"; "" before the date-based scheme
	Name         string // "Epoxy"
	Microversion int    // the compute API's highest microversion, 2.N
}

// AllSeries are the releases whose rules the harness knows, oldest first.
// 34 is 2026.2; its code name is not recorded here.
var AllSeries = []Series{
	{26, "2022.2", "Zed", 93}, {27, "2023.1", "Antelope", 95}, {28, "2023.2", "Bobcat", 95},
	{29, "2024.1", "Caracal", 96}, {30, "2024.2", "Dalmatian", 96}, {31, "2025.1", "Epoxy", 100},
	{32, "2025.2", "Flamingo", 100}, {33, "2026.1", "Gazpacho", 103}, {34, "2026.2", "", 104},
}

func seriesOf(major int) (Series, bool) {
	for _, s := range AllSeries {
		if s.Major == major {
			return s, true
		}
	}
	return Series{}, false
}

func (s Series) label() string {
	switch {
	case s.Name == "":
		return s.Release
	case s.Release == "":
		return s.Name
	}
	return s.Release + " " + s.Name
}

// For is the profile of exactly release v (a release of a known series).
func For(v Version) Profile {
	p := Profile{Major: v.Major}
	for _, c := range Changes {
		if c.In(v) {
			c.set(&p)
		}
	}
	p.Name = rulesName(v)
	return p
}

// rulesName names the releases of v's series that share v's rules, e.g.
// "31.2-31.x (2025.1 Epoxy)" for 31.3.1, "27.0.x (2023.1 Antelope)" for
// 27.0.0 or "26.x (2022.2 Zed)" for 26.2.2. Rules change only at X.Y.0
// releases.
func rulesName(v Version) string {
	from, to := 0, -1
	for _, b := range boundaries(v.Major) {
		if !v.Less(b) {
			from = b.Minor
		} else if to < 0 {
			to = b.Minor
		}
	}
	var rng string
	switch {
	case to == from+1:
		rng = fmt.Sprintf("%d.%d.x", v.Major, from)
	case to > 0:
		rng = fmt.Sprintf("%d.%d-%d.%d", v.Major, from, v.Major, to-1)
	case from == 0:
		rng = fmt.Sprintf("%d.x", v.Major)
	default:
		rng = fmt.Sprintf("%d.%d-%d.x", v.Major, from, v.Major)
	}
	if s, ok := seriesOf(v.Major); ok {
		rng += " (" + s.label() + ")"
	}
	return rng
}

// boundaries are the releases within a series where the rules change.
func boundaries(major int) []Version {
	var out []Version
	for _, c := range Changes {
		for _, b := range c.Backports {
			if b.Major == major && !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	slices.SortFunc(out, func(a, b Version) int {
		if a.Less(b) {
			return -1
		}
		return 1
	})
	return out
}

// SeriesProfiles are the distinct profiles of one series: one, or several
// when a backport changed the rules within it (27.0/27.1, 30.0/30.3,
// 31.0/31.2).
func SeriesProfiles(major int) []Profile {
	out := []Profile{For(V(major, 0, 0))}
	for _, b := range boundaries(major) {
		out = append(out, For(b))
	}
	return out
}

// Zed is Nova 26.x, the release Debian 12 ships and the embedded cloud runs.
var Zed = For(V(26, 0, 0))

// Epoxy is Nova 31.0.x-31.1.x (2025.1), what Debian 13 ships.
var Epoxy = For(V(31, 0, 0))
