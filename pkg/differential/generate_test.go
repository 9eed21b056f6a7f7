package differential

import (
	"encoding/json"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

func TestGeneratorIsReproducible(t *testing.T) {
	a, b := NewGenerator(42), NewGenerator(42)
	for range 500 {
		ca, cb := a.Next(), b.Next()
		if ca.ID != cb.ID || string(ca.Input) != string(cb.Input) {
			t.Fatalf("same seed, different cases:\n%s\n%s", ca.Input, cb.Input)
		}
	}
	if string(NewGenerator(1).Next().Input) == string(NewGenerator(2).Next().Input) {
		t.Error("different seeds gave the same first case")
	}
}

// TestGeneratedHostsAreWellFormed checks the invariants Nova's own host
// model keeps, so that a divergence is never an artefact of an impossible
// host.
func TestGeneratedHostsAreWellFormed(t *testing.T) {
	g := NewGenerator(7)
	for range 2000 {
		h := g.Host()
		if n := len(h.Cells); n < 1 || n > 8 {
			t.Fatalf("%d cells", n)
		}
		for _, c := range h.Cells {
			if !c.PinnedCPUs.IsSubsetOf(c.PCPUSet) {
				t.Fatalf("cell %d: pinned %s not within pcpuset %s", c.ID, c.PinnedCPUs, c.PCPUSet)
			}
			usable := c.CPUSet.Union(c.PCPUSet)
			seen := 0
			for _, s := range c.Siblings {
				if s.IsEmpty() || !s.IsSubsetOf(usable) {
					t.Fatalf("cell %d: sibling group %s outside usable %s", c.ID, s, usable)
				}
				seen += s.Len()
			}
			if seen != usable.Len() {
				t.Fatalf("cell %d: siblings cover %d of %d usable CPUs", c.ID, seen, usable.Len())
			}
			for _, p := range c.MemPages {
				if p.Used+p.Reserved > p.Total {
					t.Fatalf("cell %d: page pool over-used: %+v", c.ID, p)
				}
			}
		}
	}
}

func TestEveryFunctionIsGenerated(t *testing.T) {
	g := NewGenerator(3)
	seen := map[string]int{}
	for range 3000 {
		c := g.Next()
		seen[c.Function]++
		var x map[string]any
		if err := json.Unmarshal(c.Input, &x); err != nil {
			t.Fatalf("%s: input is not a JSON object: %v", c.ID, err)
		}
	}
	for _, m := range Mix {
		if seen[m.Function] == 0 {
			t.Errorf("%s never generated", m.Function)
		}
	}
	if seen[vectors.FuncFitHost] < seen[vectors.FuncCPUPolicy] {
		t.Error("mix weights not applied")
	}
}

func TestPlacedGuestsPinWithinTheirCell(t *testing.T) {
	g := NewGenerator(11)
	for range 1000 {
		h := g.Host()
		inst := g.Placed(h)
		byID := map[int]topology.HostCell{}
		for _, c := range h.Cells {
			byID[c.ID] = c
		}
		for _, c := range inst.Cells {
			hc := byID[c.ID]
			for v, p := range c.CPUPinning {
				if !c.PCPUSet.Contains(v) || !hc.PCPUSet.Contains(p) {
					t.Fatalf("vCPU %d -> %d outside guest pcpuset %s or host pcpuset %s", v, p, c.PCPUSet, hc.PCPUSet)
				}
			}
		}
	}
}
