package hosts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// The domains in testdata are real Nova 26.2.2 output recorded on a host
// with two NUMA nodes (see testdata/README.md); caps-compute-numa.xml is
// that host's capabilities. This machine has one node, so the domains are
// defined, not started: libvirt keeps the NUMA parts of an inactive domain
// as written, and the harness reads them back the way it reads a running
// guest. The expected fragments are built as pkg/expect/domain's sample
// tests build them: from the flavor, the fitted topology the compute claim
// recorded, and the recording host's model.

// sampleHost is the recording host's configuration: no CPU-set options
// (legacy) or cpu_shared_set=0-1, cpu_dedicated_set=2-3 (split).
var (
	legacyHost = HostConfig{Name: "recorded", URI: "qemu:///system"}
	splitHost  = HostConfig{Name: "recorded", URI: "qemu:///system", CPUSharedSet: "0-1", CPUDedicatedSet: "2-3"}
)

type sample struct {
	name   string
	file   string
	host   HostConfig
	flavor topology.Flavor
	fitted topology.InstanceTopology
}

var samples = []sample{
	{
		name: "numa_vm_1", file: "nova-numa_vm_1.xml", host: legacyHost,
		flavor: topology.Flavor{Name: "numa_vm_1", VCPUs: 4, MemoryMB: 2048, ExtraSpecs: map[string]string{
			"hw:numa_nodes": "2", "hw:numa_mempolicy": "preferred",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.MustParse("0-1"), MemoryMiB: 1024},
			{ID: 1, CPUSet: cpuset.MustParse("2-3"), MemoryMiB: 1024},
		}},
	},
	{
		name: "numa_vm_2", file: "nova-numa_vm_2.xml", host: legacyHost,
		flavor: topology.Flavor{Name: "numa_vm_2", VCPUs: 4, MemoryMB: 2048, ExtraSpecs: map[string]string{
			"hw:numa_nodes": "2", "hw:numa_cpus.0": "2,3", "hw:numa_cpus.1": "0,1",
			"hw:numa_mem.0": "1024", "hw:numa_mem.1": "1024",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 0, CPUSet: cpuset.MustParse("2-3"), MemoryMiB: 1024},
			{ID: 1, CPUSet: cpuset.MustParse("0-1"), MemoryMiB: 1024},
		}},
	},
	{
		name: "ded1", file: "nova-ded1.xml", host: splitHost,
		flavor: topology.Flavor{Name: "ded1", VCPUs: 1, MemoryMB: 512, ExtraSpecs: map[string]string{
			"hw:cpu_policy": "dedicated",
		}},
		fitted: topology.InstanceTopology{Cells: []topology.InstanceCell{
			{ID: 1, PCPUSet: cpuset.New(0), MemoryMiB: 512, CPUPolicy: topology.CPUPolicyDedicated,
				CPUPinning: map[int]int{0: 2}},
		}},
	},
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// expected builds the fragments Nova writes for the sample.
func expected(t *testing.T, s sample) domain.Fragments {
	t.Helper()
	caps := &libvirtxml.Caps{}
	if err := caps.Unmarshal(readTestdata(t, "caps-compute-numa.xml")); err != nil {
		t.Fatal(err)
	}
	cfg, err := s.host.DomainConfig()
	if err != nil {
		t.Fatal(err)
	}
	online := cpuset.MustParse("0-3")
	host, err := domain.HostFromCapabilities(caps, cfg, online)
	if err != nil {
		t.Fatal(err)
	}
	fitted := s.fitted.Clone()
	want, err := domain.Build(domain.Input{
		Instance: &fitted, Flavor: s.flavor, Image: topology.ImageProps{}, Host: host,
		HostOnlineCPUs: online, Config: cfg, Profile: nova.Zed,
	})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if want.CPUTune == nil || want.NUMATune == nil || want.CPUNUMA == nil {
		t.Fatalf("expected cputune, numatune and cpu/numa for a NUMA guest; got %+v", want)
	}
	return want
}

// testPrefix marks domains these tests define; the name also carries the
// creation time so a later run can remove what a killed run left behind.
const testPrefix = "numa-conformance-test-"

// defineSample defines the recorded domain, changed by change, under a
// fresh name and UUID, and undefines it when the test ends (also when it
// fails). It returns the UUID and name.
func defineSample(t *testing.T, setup *Conn, s sample, change func(*libvirtxml.Domain)) (string, string) {
	t.Helper()
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(readTestdata(t, s.file)); err != nil {
		t.Fatal(err)
	}
	// What ties the recording to its host goes; the NUMA parts stay.
	d, err := scratchCopy(d)
	if err != nil {
		t.Fatal(err)
	}
	uuid := d.UUID
	name := fmt.Sprintf("%s%d-%s-%s", testPrefix, time.Now().Unix(), uuid[:8], s.name)
	d.Name = name
	if change != nil {
		change(d)
	}
	xml, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var dom libvirt.Domain
	err = setup.call(t.Context(), "define", func(lv *libvirt.Libvirt) error {
		var err error
		dom, err = lv.DomainDefineXML(xml)
		return err
	})
	if err != nil {
		t.Fatalf("defining %s: %v\n%s", s.file, err, xml)
	}
	t.Cleanup(func() {
		// t.Context is already cancelled here.
		if err := setup.sess.lv.DomainUndefineFlags(dom, 0); err != nil {
			t.Errorf("undefining %s: %v", name, err)
		}
	})
	return uuid, name
}

// sweepStale undefines test domains older than an hour: a run killed
// before its cleanups leaves them, and they would pile up.
func sweepStale(t *testing.T, setup *Conn) {
	doms, _, err := setup.sess.lv.ConnectListAllDomains(1, libvirt.ConnectListDomainsPersistent|libvirt.ConnectListDomainsInactive)
	if err != nil {
		t.Logf("listing domains: %v", err)
		return
	}
	for _, d := range doms {
		rest, ok := strings.CutPrefix(d.Name, testPrefix)
		if !ok {
			continue
		}
		ts, _, _ := strings.Cut(rest, "-")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)) < time.Hour {
			continue
		}
		if err := setup.sess.lv.DomainUndefineFlags(d, 0); err != nil {
			t.Logf("removing stale %s: %v", d.Name, err)
		}
	}
}

func joinDiffs(diffs []domain.Difference) string {
	var b strings.Builder
	for _, d := range diffs {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

// TestRecordedDomains defines each recorded Nova domain and checks that
// what the harness reads back over its read-only connection matches the
// expected fragments, by UUID and by name.
func TestRecordedDomains(t *testing.T) {
	setup := dialSetup(t)
	sweepStale(t, setup)
	c := dialLocal(t)
	for _, s := range samples {
		t.Run(s.name, func(t *testing.T) {
			want := expected(t, s)
			uuid, name := defineSample(t, setup, s, nil)
			for _, id := range []string{uuid, name} {
				d, raw, err := c.DomainXML(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if d.UUID != uuid || !strings.Contains(raw, "<numatune>") {
					t.Fatalf("read back domain %s (%s); raw XML:\n%s", d.UUID, d.Name, raw)
				}
				got, err := domain.FromDomain(d)
				if err != nil {
					t.Fatal(err)
				}
				if diffs := domain.Diff(want, got); len(diffs) > 0 {
					t.Errorf("domain %s read by %s differs from the expected fragments:\n%s\nraw XML:\n%s", name, id, joinDiffs(diffs), raw)
				}
			}
		})
	}
}

// TestChangedDomains defines domains with one NUMA property changed from
// what Nova wrote (domain.Alterations) and checks, through the read-only
// connection, that Diff names exactly that property: a wrong domain on a
// real libvirtd is caught.
func TestChangedDomains(t *testing.T) {
	setup := dialSetup(t)
	c := dialLocal(t)
	vm1 := samples[0]
	want := expected(t, vm1)
	recorded := &libvirtxml.Domain{}
	if err := recorded.Unmarshal(readTestdata(t, vm1.file)); err != nil {
		t.Fatal(err)
	}
	alts := domain.Alterations(recorded)
	if len(alts) < 3 {
		t.Fatalf("want a vcpupin, a memnode and a cell alteration of %s, got %d", vm1.file, len(alts))
	}
	for _, alt := range alts {
		t.Run(alt.Name, func(t *testing.T) {
			uuid, _ := defineSample(t, setup, vm1, alt.Apply)
			d, raw, err := c.DomainXML(t.Context(), uuid)
			if err != nil {
				t.Fatal(err)
			}
			got, err := domain.FromDomain(d)
			if err != nil {
				t.Fatal(err)
			}
			diffs := domain.Diff(want, got)
			if len(diffs) != 1 || diffs[0] != alt.Want {
				t.Fatalf("want exactly %q; got %d differences:\n%s\nraw XML:\n%s", alt.Want.String(), len(diffs), joinDiffs(diffs), raw)
			}
		})
	}
}

func TestDomainNotFound(t *testing.T) {
	c := dialLocal(t)
	for _, id := range []string{randomUUID(), "instance-7ffffffe"} {
		_, raw, err := c.DomainXML(t.Context(), id)
		var he *HostError
		if !errors.Is(err, ErrDomainNotFound) || !errors.As(err, &he) || he.Op != "domain lookup" || raw != "" {
			t.Errorf("%s: got %v", id, err)
		}
		var le libvirt.Error
		if !errors.As(err, &le) || le.Code != uint32(libvirt.ErrNoDomain) {
			t.Errorf("%s: libvirt's own error is not kept: %v", id, err)
		}
	}
}
