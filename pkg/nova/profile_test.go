package nova

import "testing"

func TestProfileForMicroversion(t *testing.T) {
	for _, tc := range []struct {
		mv      string
		want    string
		warning bool
	}{
		{"2.93", Zed.Name, false}, {"2.90", Zed.Name, true}, {"2.96", Zed.Name, true},
		{"2.100", Epoxy.Name, false}, {"2.101", Epoxy.Name, true},
	} {
		p, warn, err := ProfileForMicroversion(tc.mv)
		if err != nil || p.Name != tc.want || (warn != "") != tc.warning {
			t.Errorf("ProfileForMicroversion(%s) = %s, %q, %v; want %s, warning %v", tc.mv, p.Name, warn, err, tc.want, tc.warning)
		}
	}
	for _, bad := range []string{"", "3.1", "2.x", "2"} {
		if _, _, err := ProfileForMicroversion(bad); err == nil {
			t.Errorf("ProfileForMicroversion(%q): no error", bad)
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
