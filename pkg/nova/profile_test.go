package nova

import (
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestChangesAtTheirReleases checks each behaviour against the first
// releases Nova's tags show for it, including the backports that make a
// major version alone not enough.
func TestChangesAtTheirReleases(t *testing.T) {
	for _, tc := range []struct {
		v                                       Version
		mixed, usage, pages, maxKeys, iothreads bool
	}{
		{V(26, 2, 2), false, false, false, false, false},
		{V(27, 0, 0), false, false, false, false, false},
		{V(27, 1, 0), true, true, false, false, false},
		{V(28, 0, 0), true, true, false, false, false},
		{V(29, 4, 0), true, true, false, false, false},
		{V(30, 2, 1), true, true, true, false, false},
		{V(30, 3, 0), true, true, true, true, false},
		{V(31, 1, 0), true, true, true, false, false},
		{V(31, 2, 0), true, true, true, true, false},
		{V(32, 0, 0), true, true, true, true, false},
		{V(33, 0, 2), true, true, true, true, true},
		{V(34, 0, 0), true, true, true, true, true},
	} {
		p := For(tc.v)
		got := [5]bool{p.MixedCellWithoutPinnedCPUsFits, p.UsageToleratesUnsetPinning, p.PagesizeAwarePinnedMemory, p.MaxTopologyKeysFixed, p.IOThreadPinning}
		if want := [5]bool{tc.mixed, tc.usage, tc.pages, tc.maxKeys, tc.iothreads}; got != want || p.Major != tc.v.Major || p.PackByDefault {
			t.Errorf("For(%s) = %+v; want mixed, usage, pages, max keys, iothreads = %v", tc.v, p, want)
		}
	}
	for v, want := range map[Version]string{
		V(26, 2, 2): "26.x (2022.2 Zed)", V(27, 0, 0): "27.0.x (2023.1 Antelope)", V(27, 5, 1): "27.1-27.x (2023.1 Antelope)",
		V(30, 2, 1): "30.0-30.2 (2024.2 Dalmatian)", V(31, 3, 1): "31.2-31.x (2025.1 Epoxy)", V(34, 0, 0): "34.x (2026.2)",
	} {
		if got := For(v).Name; got != want {
			t.Errorf("For(%s).Name = %q; want %q", v, got, want)
		}
	}
}

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct {
		in    string
		names string
		warn  bool
	}{
		{"26.2.2", "26.x (2022.2 Zed)", false},
		{"2:26.2.2-1~deb12u5", "26.x (2022.2 Zed)", false},
		{"2:31.0.0-6", "31.0-31.1 (2025.1 Epoxy)", false},
		{"31.2", "31.2-31.x (2025.1 Epoxy)", false},
		{"zed", "26.x (2022.2 Zed)", false},
		{"Epoxy", "31.0-31.1 (2025.1 Epoxy), 31.2-31.x (2025.1 Epoxy)", false},
		{"2024.1", "29.x (2024.1 Caracal)", false},
		{"27", "27.0.x (2023.1 Antelope), 27.1-27.x (2023.1 Antelope)", false},
		{"33.0.2", "33.x (2026.1 Gazpacho)", false},
		{"35.0.0", "34.x (2026.2)", true},
	} {
		c, err := ParseRelease(tc.in)
		if err != nil || c.Names() != tc.names || (c.Warning != "") != tc.warn {
			t.Errorf("ParseRelease(%q) = %q, warning %q, %v; want %q, warning %v", tc.in, c.Names(), c.Warning, err, tc.names, tc.warn)
		}
	}
	for _, bad := range []string{"", "banana", "2.93", "25.1.0", "2019.1", "31.x", "1.2.3.4", "-3"} {
		if _, err := ParseRelease(bad); err == nil {
			t.Errorf("ParseRelease(%q): no error", bad)
		}
	}
	if _, err := ParseRelease("banana"); err == nil || !strings.Contains(err.Error(), "a name (epoxy)") {
		t.Errorf("the error names the accepted forms: %v", err)
	}
}

// TestForMicroversion maps every maximum microversion from 2.93 to 2.104
// to the rule sets of the releases that have it.
func TestForMicroversion(t *testing.T) {
	want := map[int]string{
		93:  "26.x (2022.2 Zed)",
		94:  "27.0.x (2023.1 Antelope), 27.1-27.x (2023.1 Antelope), 28.x (2023.2 Bobcat)",
		95:  "27.0.x (2023.1 Antelope), 27.1-27.x (2023.1 Antelope), 28.x (2023.2 Bobcat)",
		96:  "29.x (2024.1 Caracal), 30.0-30.2 (2024.2 Dalmatian), 30.3-30.x (2024.2 Dalmatian)",
		97:  "31.0-31.1 (2025.1 Epoxy), 31.2-31.x (2025.1 Epoxy), 32.x (2025.2 Flamingo)",
		98:  "31.0-31.1 (2025.1 Epoxy), 31.2-31.x (2025.1 Epoxy), 32.x (2025.2 Flamingo)",
		99:  "31.0-31.1 (2025.1 Epoxy), 31.2-31.x (2025.1 Epoxy), 32.x (2025.2 Flamingo)",
		100: "31.0-31.1 (2025.1 Epoxy), 31.2-31.x (2025.1 Epoxy), 32.x (2025.2 Flamingo)",
		101: "33.x (2026.1 Gazpacho)", 102: "33.x (2026.1 Gazpacho)", 103: "33.x (2026.1 Gazpacho)",
		104: "34.x (2026.2)",
	}
	exact := map[int]bool{93: true, 95: true, 96: true, 100: true, 103: true, 104: true}
	for n := 93; n <= 104; n++ {
		mv := "2." + strconv.Itoa(n)
		c, err := ForMicroversion(mv)
		if err != nil || c.Names() != want[n] || (c.Warning == "") != exact[n] {
			t.Errorf("ForMicroversion(%s) = %q, warning %q, %v; want %q, a warning %v", mv, c.Names(), c.Warning, err, want[n], !exact[n])
		}
	}
	if _, w, _ := ProfileForMicroversion("2.96"); !strings.Contains(w, "admits several Nova rule sets") || !strings.Contains(w, "NUMA_NOVA_VERSION") {
		t.Errorf("one profile for an ambiguous microversion must say so: %q", w)
	}
	for _, bad := range []string{"", "3.1", "2.x", "2"} {
		if _, err := ForMicroversion(bad); err == nil {
			t.Errorf("ForMicroversion(%q): no error", bad)
		}
	}
}

func TestMessagePattern(t *testing.T) {
	for _, tc := range []struct {
		class, msg string
		ok         bool
	}{
		// Bodies recorded from real Nova 26.2.2 400 answers.
		{"ImageNUMATopologyCPUsUnassigned", "CPU number {1, 3} is not assigned to any node", true},
		{"ImageNUMATopologyIncomplete", "CPU and memory allocation must be provided for all NUMA nodes", true},
		{"ImageNUMATopologyCPUDuplicates", "CPU number 2 is assigned to two nodes", true},
		{"ImageNUMATopologyCPUDuplicates", "CPU number 2 is not assigned to any node", false},
	} {
		p := MessagePattern(tc.class)
		if p == nil {
			t.Fatalf("no pattern for %s", tc.class)
		}
		if p.MatchString(tc.msg) != tc.ok {
			t.Errorf("%s pattern %s matching %q: got %v, want %v", tc.class, p, tc.msg, !tc.ok, tc.ok)
		}
	}
	if MessagePattern("NoSuchClass") != nil {
		t.Error("pattern for an unknown class")
	}
}

// TestReadmeReleaseTable keeps the README's release table equal to
// Changes: each change has a row naming its field, its first releases in
// order, and its source.
func TestReadmeReleaseTable(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `") {
			field := strings.Trim(strings.Split(line, "|")[1], " `")
			rows[field] = line
		}
	}
	for _, c := range Changes {
		row, ok := rows[c.What]
		if !ok {
			t.Errorf("README: no release-table row for %s", c.What)
			continue
		}
		cells := strings.Split(row, "|")
		var firsts []string
		for _, b := range c.Backports {
			firsts = append(firsts, b.String())
		}
		firsts = append(firsts, c.Since.String())
		if got, want := strings.TrimSpace(cells[2]), strings.Join(firsts, ", "); got != want {
			t.Errorf("README row %s: first releases %q; nova.Changes says %q", c.What, got, want)
		}
		if src := strings.TrimSpace(cells[3]); !strings.Contains(c.Source, strings.SplitN(src, ",", 2)[0]) && !strings.Contains(c.Source, strings.Trim(src, "`")) {
			t.Errorf("README row %s: source %q is not what nova.Changes cites (%q)", c.What, src, c.Source)
		}
	}
	profileFields := reflect.TypeOf(Profile{})
	for i := range profileFields.NumField() {
		f := profileFields.Field(i).Name
		if _, isChange := rows[f]; !isChange && f != "Name" && f != "Major" && f != "PackByDefault" {
			t.Errorf("Profile.%s has no release-table row in the README", f)
		}
	}
}
