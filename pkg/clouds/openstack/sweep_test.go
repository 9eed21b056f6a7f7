package openstack

import (
	"context"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

func TestRunOfName(t *testing.T) {
	for name, want := range map[string]string{
		"numa-conformance-deadbeef-numa2":        "deadbeef",
		"numa-conformance-0123abcd-blank":        "0123abcd",
		"numa-conformance-0123abcd-a-b-c":        "0123abcd",
		"numa-conformance-blank":                 "", // the shared image
		"numa-conformance-blank-deadbeef-x":      "",
		"numa-conformance-DEADBEEF-x":            "", // NewRunID is lowercase
		"numa-conformance-deadbee-x":             "", // 7 digits
		"numa-conformance-deadbeef0-x":           "", // 9 digits
		"numa-conformance-deadbeef-":             "", // no rest
		"numa-conformance-deadbeef":              "",
		"xnuma-conformance-deadbeef-x":           "",
		"other-numa-conformance-deadbeef-x":      "",
		"numa-conformance-deadbeeg-x":            "",
		"numa-conformance--deadbeef-x":           "",
		"numa-conformancedeadbeef-x":             "",
		"numa-conformance-deadbeef-numa2 (copy)": "deadbeef",
	} {
		if got := runOfName(name); got != want {
			t.Errorf("runOfName(%q): expected %q, observed %q", name, want, got)
		}
	}
	for range 1000 {
		id := NewRunID()
		if !IsRunID(id) {
			t.Fatalf("IsRunID(NewRunID()=%q) = false", id)
		}
		r := &Run{ID: id}
		if got := runOfName(r.ResourceName("x")); got != id {
			t.Fatalf("runOfName(%q): expected %q, observed %q", r.ResourceName("x"), id, got)
		}
	}
	for _, bad := range []string{"", "blank", "DEADBEEF", "deadbee", "deadbeef0", " deadbeef"} {
		if IsRunID(bad) {
			t.Errorf("IsRunID(%q) = true", bad)
		}
	}
}

func TestLeftoversCount(t *testing.T) {
	l := &Leftovers{Servers: []Server{{}}, Flavors: []Flavor{{}, {}}, Images: []Image{{}}}
	if l.Count() != 4 || l.Empty() {
		t.Errorf("expected Count 4 and not Empty, observed %d %v", l.Count(), l.Empty())
	}
	if l := (&Leftovers{}); l.Count() != 0 || !l.Empty() {
		t.Errorf("expected Count 0 and Empty, observed %d %v", l.Count(), l.Empty())
	}
}

// TestFindAllLeftoversCrashedRun leaves a flavor (named with the run
// prefix) and a server (recognisable only by its run metadata) behind as a
// killed run would, and checks that a sweep of all runs finds both under
// the run ID and that DeleteLeftovers removes them. It only ever deletes
// its own run: other runs may be in flight on the same cloud.
func TestFindAllLeftoversCrashedRun(t *testing.T) {
	c := connectOrSkip(t)
	ctx := context.Background()
	imageID, err := c.FindImage(ctx, testImageName)
	if err != nil {
		t.Fatal(err)
	}
	// A run whose cleanups never run, as when the process is killed.
	r, err := c.NewRun(RunSpec{ID: NewRunID(), Register: func(func(context.Context) error) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteLeftovers(context.Background(), r.ID, DefaultDeleteTimeout) })

	// 40 GB RAM: far beyond the host, so the server goes to ERROR quickly
	// and is cheap to delete.
	f, err := r.CreateFlavor(ctx, FlavorSpec{Name: "swept", VCPUs: 1, RAMMB: 40 << 10, DiskGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Not named with the run prefix: only the metadata ties it to the run.
	probe := "sweep-probe-" + r.ID
	s, err := servers.Create(ctx, c.computeAt(MicroversionServerDefault), servers.CreateOpts{
		Name: probe, FlavorRef: f.ID, ImageRef: imageID, Networks: "none",
		Metadata: map[string]string{RunMetadataKey: r.ID},
	}, nil).Extract()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteServer(context.Background(), s.ID, DefaultDeleteTimeout) })

	all, err := c.FindAllLeftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id, l := range all {
		if !IsRunID(id) {
			t.Errorf("run key %q is not a run ID: %s", id, l)
		}
		for _, i := range l.Images {
			if i.Name == testImageName {
				t.Errorf("the shared image %s (%s) was listed as a leftover of run %s", i.Name, i.ID, id)
			}
		}
		if id != r.ID {
			t.Logf("other run %s (in flight or leaked): %s", id, l)
		}
	}
	l := all[r.ID]
	if l == nil {
		t.Fatalf("FindAllLeftovers: expected run %s, observed runs %v", r.ID, keys(all))
	}
	if l.Count() != 2 || len(l.Flavors) != 1 || l.Flavors[0].ID != f.ID || len(l.Servers) != 1 || l.Servers[0].ID != s.ID {
		t.Fatalf("run %s: expected flavor %s and server %s (%s), observed %s", r.ID, f.ID, s.ID, probe, l)
	}
	if one, err := c.FindLeftovers(ctx, r.ID); err != nil || one.Count() != 2 {
		t.Errorf("FindLeftovers(%s): expected the same 2 resources, observed %v (err=%v)", r.ID, one, err)
	}

	start := time.Now()
	if err := c.DeleteLeftovers(ctx, r.ID, DefaultDeleteTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted %s in %s", l, time.Since(start))
	all, err = c.FindAllLeftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if l := all[r.ID]; l != nil {
		t.Errorf("after DeleteLeftovers: expected nothing of run %s, observed %s", r.ID, l)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
