package harness

import (
	"errors"
	"strings"
	"testing"
)

// TestDraftConfig: a host without CPU sets (all online CPUs VCPU, no PCPU)
// needs nothing filled in and the draft loads as it is; a host with PCPU
// and fewer VCPU than CPUs gets both sets as placeholders the loader
// refuses, so a draft never passes for a finished configuration.
func TestDraftConfig(t *testing.T) {
	plain := DraftInput{Cloud: "lab", URITemplate: "qemu+tcp://{host}/system", Hosts: []HostFacts{
		{Name: "c1", Service: "enabled, up", VCPU: 4, PCPU: 0, OnlineCPUs: 4, Cells: 2},
	}}
	out, err := DraftConfig(plain)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig("draft.yaml", out)
	if err != nil {
		t.Fatalf("a draft for hosts without CPU sets does not load: %v\n%s", err, out)
	}
	if cfg.Cloud != "lab" || cfg.Hosts["c1"].URI != "qemu+tcp://c1/system" || !strings.Contains(string(out), "# enabled, up; placement: VCPU 4, PCPU 0; libvirt: 4 online CPUs, 2 NUMA cells") {
		t.Errorf("draft:\n%s", out)
	}

	pinned := plain
	pinned.Hosts = []HostFacts{{Name: "c2", Service: "enabled, up", VCPU: 2, PCPU: 2, OnlineCPUs: 4, Cells: 2},
		{Name: "c4", Service: "enabled, down", VCPU: -1, PCPU: -1, OnlineCPUs: -1, Unreachable: errors.New("connection refused")},
		{Name: "c3", Service: "disabled, down", VCPU: -1, PCPU: -1, OnlineCPUs: -1}}
	out, err = DraftConfig(pinned)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`cpu_dedicated_set: '? (2 CPUs)' # FILL IN`, `cpu_shared_set: '? (2 CPUs)' # FILL IN`,
		"libvirt not reached from here: connection refused", "placement: VCPU unknown, PCPU unknown",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("draft lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(string(out), "# Left out, their nova-compute disabled: c3") || strings.Contains(string(out), "c3:") {
		t.Errorf("a disabled host must be left out, and say so:\n%s", out)
	}
	if _, err := ParseConfig("draft.yaml", out); err == nil || !strings.Contains(err.Error(), "cpu_dedicated_set") {
		t.Errorf("a draft with placeholders must not load: %v", err)
	}
}
