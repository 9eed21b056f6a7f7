package nova

import (
	"fmt"
	"strconv"
	"strings"
)

// Candidates are the profiles a description of a cloud's Nova admits, with
// what it was read from. One profile when the release is known exactly;
// several when only the series (or the compute API's microversion) is, and
// a backport or another release changed the rules within what it admits.
type Candidates struct {
	Profiles []Profile
	// From says what the candidates were read from, for reports:
	// "Nova 31.0.0", "compute API 2.96", ...
	From string
	// Warning is set when the description is outside the known releases and
	// the nearest known rules are used.
	Warning string
}

// Ambiguous reports whether the candidates answer differently somewhere.
func (c Candidates) Ambiguous() bool { return len(c.Profiles) > 1 }

// Names lists the candidates' rule names.
func (c Candidates) Names() string {
	names := make([]string, len(c.Profiles))
	for i, p := range c.Profiles {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// Oldest is the first candidate: the one the harness uses where it must
// pick one rule set and says so.
func (c Candidates) Oldest() Profile { return c.Profiles[0] }

// ParseRelease reads what an operator knows of a cloud's Nova: an exact
// version ("26.2.2", "31.2"), a Debian package version ("2:26.2.2-1~deb12u5"),
// a major version ("31"), a release number ("2025.1") or a code name
// ("epoxy"). Anything else is an error naming the accepted forms.
func ParseRelease(s string) (Candidates, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Candidates{}, releaseError(s)
	}
	for _, ser := range AllSeries {
		if strings.EqualFold(in, ser.Name) || in == ser.Release {
			return Candidates{Profiles: SeriesProfiles(ser.Major), From: fmt.Sprintf("Nova %s (%s)", in, ser.label())}, nil
		}
	}
	v := in
	if _, rest, ok := strings.Cut(v, ":"); ok {
		v = rest // Debian epoch
	}
	v, _, _ = strings.Cut(v, "-") // Debian revision
	v, _, _ = strings.Cut(v, "~") // pre-release or backport suffix
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, ".")
	nums := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || len(parts) > 3 {
			return Candidates{}, releaseError(s)
		}
		nums[i] = n
	}
	major := nums[0]
	first, last := AllSeries[0], AllSeries[len(AllSeries)-1]
	switch {
	case major >= 2000:
		return Candidates{}, fmt.Errorf("nova: %q: not a release number the harness knows (%s to %s)", s, first.Release, last.Release)
	case major < first.Major:
		return Candidates{}, fmt.Errorf("nova: %q: Nova %d is older than the releases the harness knows (%d to %d)", s, major, first.Major, last.Major)
	case major > last.Major:
		return Candidates{Profiles: []Profile{For(V(last.Major, 99, 0))}, From: "Nova " + in,
			Warning: fmt.Sprintf("Nova %s is newer than the releases the harness knows (up to %d): using %s rules", in, last.Major, For(V(last.Major, 99, 0)).Name)}, nil
	case len(nums) == 1:
		return Candidates{Profiles: SeriesProfiles(major), From: "Nova " + in}, nil
	}
	ver := V(major, nums[1], 0)
	if len(nums) == 3 {
		ver.Patch = nums[2]
	}
	return Candidates{Profiles: []Profile{For(ver)}, From: "Nova " + ver.String()}, nil
}

func releaseError(s string) error {
	return fmt.Errorf("nova: cannot read a Nova release from %q: want a version (26.2.2), a Debian package version (2:26.2.2-1~deb12u5), a major version (31), a release number (2025.1) or a name (epoxy)", s)
}

// ForMicroversion is what a cloud whose compute API offers at most
// microversion mv ("2.96") admits: every release with that maximum (2.96 is
// Nova 29 and 30), with each of their rule sets. A maximum no release has
// gives the releases around it, with a warning.
func ForMicroversion(mv string) (Candidates, error) {
	major, minorStr, ok := strings.Cut(mv, ".")
	minor, err := strconv.Atoi(minorStr)
	if !ok || major != "2" || err != nil || minor < 1 {
		return Candidates{}, fmt.Errorf("nova: cannot read compute microversion %q: want 2.N, e.g. 2.93", mv)
	}
	c := Candidates{From: "compute API " + mv}
	first, last := AllSeries[0], AllSeries[len(AllSeries)-1]
	for _, s := range AllSeries {
		if s.Microversion == minor {
			c.Profiles = append(c.Profiles, SeriesProfiles(s.Major)...)
		}
	}
	switch {
	case len(c.Profiles) > 0:
	case minor < first.Microversion:
		c.Profiles = SeriesProfiles(first.Major)
		c.Warning = fmt.Sprintf("compute API %s is older than Nova %d (2.%d): using %s rules", mv, first.Major, first.Microversion, c.Names())
	case minor > last.Microversion:
		c.Profiles = []Profile{For(V(last.Major, 99, 0))}
		c.Warning = fmt.Sprintf("compute API %s is newer than Nova %d (2.%d): using %s rules", mv, last.Major, last.Microversion, c.Names())
	default:
		// A development build between two releases: the releases of the
		// next maximum, the first ones it can become.
		next := last.Microversion
		for _, s := range AllSeries {
			if s.Microversion > minor {
				next = min(next, s.Microversion)
			}
		}
		for _, s := range AllSeries {
			if s.Microversion == next {
				c.Profiles = append(c.Profiles, SeriesProfiles(s.Major)...)
			}
		}
		c.Warning = fmt.Sprintf("no Nova release has compute API %s as its highest (a development build?): using %s rules", mv, c.Names())
	}
	return c, nil
}

// ProfileFor is ParseRelease for callers that need one profile: the oldest
// candidate, with a warning naming the others when there are several.
func ProfileFor(version string) (Profile, string, error) {
	c, err := ParseRelease(version)
	if err != nil {
		return Profile{}, "", err
	}
	return c.Oldest(), c.warning(), nil
}

// ProfileForMicroversion is ForMicroversion for callers that need one
// profile, as ProfileFor.
func ProfileForMicroversion(mv string) (Profile, string, error) {
	c, err := ForMicroversion(mv)
	if err != nil {
		return Profile{}, "", err
	}
	return c.Oldest(), c.warning(), nil
}

// warning is the candidates' warning, or, when several are admitted, one
// that says which is used; "" for an exact answer.
func (c Candidates) warning() string {
	if c.Warning != "" || !c.Ambiguous() {
		return c.Warning
	}
	return fmt.Sprintf("%s admits several Nova rule sets (%s): using %s; name the release with NUMA_NOVA_VERSION (or --nova) to remove the doubt",
		c.From, c.Names(), c.Oldest().Name)
}
