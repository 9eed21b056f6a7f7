package harness

import (
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
)

// A NoValidHost proves nothing about NUMA when the scheduler had dropped
// the host: Unschedulable names every such host with its state.
func TestUnschedulable(t *testing.T) {
	r := &Result{Services: map[string]*openstack.ComputeService{
		"a": {Host: "a", Status: "enabled", State: "up"},
		"b": {Host: "b", Status: "enabled", State: "down"},
		"c": {Host: "c", Status: "disabled", State: "up", DisabledReason: "maintenance"},
		"d": {Host: "d", Status: "enabled", State: "up", ForcedDown: true},
	}}
	got := r.Unschedulable()
	if len(got) != 3 {
		t.Fatalf("expected hosts b, c and d, observed %q", got)
	}
	for i, want := range []string{"on b: status enabled, state down", `on c: status disabled, state up, disabled reason "maintenance"`, "on d: status enabled, state up, forced down"} {
		if !strings.Contains(got[i], want) {
			t.Errorf("entry %d: expected %q, observed %q", i, want, got[i])
		}
	}
	if got := (&Result{}).Unschedulable(); len(got) != 0 {
		t.Errorf("a result without a failure: expected nothing, observed %q", got)
	}
}
