package hosts

import (
	"errors"
	"strings"
	"testing"

	"github.com/onsi/gomega"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/expect/match"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// TestSuiteChecksOnRealLibvirt runs the suites' own chain on domains a
// real libvirtd holds: the shipped seed fixtures, the expectation computed
// from them and the recording host's capabilities (expect.Compute), and
// the Gomega matcher the specs use. The recorded domains must pass; each
// one-property alteration (a cell, a pin, a memnode mode) must fail with a
// message that names the property.
func TestSuiteChecksOnRealLibvirt(t *testing.T) {
	setup := dialSetup(t)
	c := dialLocal(t)
	fxs, err := fixtures.LoadFile("../../../fixtures/flavors/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	caps := &libvirtxml.Caps{}
	if err := caps.Unmarshal(readTestdata(t, "caps-compute-numa.xml")); err != nil {
		t.Fatal(err)
	}
	online := cpuset.MustParse("0-3")
	host, err := domain.HostFromCapabilities(caps, domain.Config{}, online)
	if err != nil {
		t.Fatal(err)
	}
	recordedAs := map[string]sample{"auto-split": samples[0], "manual-split": samples[1]}
	checked := 0
	for _, fx := range fxs {
		s, ok := recordedAs[fx.Name]
		if !ok {
			continue
		}
		checked++
		t.Run(fx.Name, func(t *testing.T) {
			g := gomega.NewWithT(t)
			exp, err := expect.Compute(expect.Request{
				Flavor: topology.Flavor{VCPUs: fx.Flavor.VCPUs, MemoryMB: fx.Flavor.RAMMB, ExtraSpecs: fx.Flavor.ExtraSpecs},
				Host:   host, HostOnlineCPUs: online,
			})
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(exp.Outcome).To(gomega.Equal(expect.Fits))

			uuid, _ := defineSample(t, setup, s, nil)
			d, _, err := c.DomainXML(t.Context(), uuid)
			g.Expect(err).NotTo(gomega.HaveOccurred())
			g.Expect(d).To(match.Conform(exp), "the recorded real domain of %s", fx.Name)

			recorded := &libvirtxml.Domain{}
			if err := recorded.Unmarshal(readTestdata(t, s.file)); err != nil {
				t.Fatal(err)
			}
			for _, alt := range domain.Alterations(recorded) {
				uuid, _ := defineSample(t, setup, s, alt.Apply)
				d, _, err := c.DomainXML(t.Context(), uuid)
				g.Expect(err).NotTo(gomega.HaveOccurred())
				m := match.Conform(exp)
				ok, err := m.Match(d)
				g.Expect(err).NotTo(gomega.HaveOccurred())
				if ok {
					t.Errorf("%s: altered domain (%s) passes the check", fx.Name, alt.Name)
					continue
				}
				msg := m.FailureMessage(d)
				for _, want := range []string{alt.Want.Path, "expected: " + alt.Want.Expected, "observed: " + alt.Want.Observed} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s, %s: failure message does not contain %q:\n%s", fx.Name, alt.Name, want, msg)
					}
				}
			}
		})
	}
	// Renamed fixtures must not turn this test into one that checks nothing.
	if checked != len(recordedAs) {
		t.Fatalf("seed.yaml has %d of the fixtures %v", checked, recordedAs)
	}
}

// TestRoundTrip: a scratch copy defined and read back keeps the NUMA
// parts, is gone afterwards, and a read-only connection refuses.
func TestRoundTrip(t *testing.T) {
	setup := dialSetup(t)
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(readTestdata(t, "nova-numa_vm_2.xml")); err != nil {
		t.Fatal(err)
	}
	back, err := setup.RoundTrip(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := domain.FromDomain(d)
	got, err := domain.FromDomain(back)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := domain.Diff(want, got); len(diffs) != 0 {
		t.Fatalf("round trip changed NUMA parts: %v", diffs)
	}
	if back.UUID == d.UUID || !strings.HasPrefix(back.Name, ScratchPrefix) {
		t.Fatalf("the copy kept the original identity: %s %s", back.UUID, back.Name)
	}
	if _, _, err := setup.DomainXML(t.Context(), back.UUID); !errors.Is(err, ErrDomainNotFound) {
		t.Fatalf("scratch domain %s still defined (err %v)", back.UUID, err)
	}
	if _, err := dialLocal(t).RoundTrip(t.Context(), d); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("read-only connection: err = %v", err)
	}
}
