package harness

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig("h.yaml", []byte(`cloud: lab
image: cirros
timeouts: {boot: 3m}
compute:
  packing_host_numa_cells_allocation_strategy: true
hosts:
  compute-1:
    uri: qemu+tcp://127.0.0.1:16510/system
    cpu_shared_set: "0-1"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cloud != "lab" || cfg.Image != "cirros" || cfg.Timeouts.Boot != 3*time.Minute ||
		cfg.Timeouts.Delete != DefaultDeleteTimeout || cfg.PackHostNUMACells == nil || !*cfg.PackHostNUMACells {
		t.Fatalf("config = %+v", cfg)
	}
	if h := cfg.Hosts["compute-1"]; h.CPUSharedSet != "0-1" {
		t.Fatalf("host = %+v", h)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"unknown key", "clouds: x\nhosts: {a: {uri: 'qemu:///system'}}\n", []string{"h.yaml:1", "clouds", "unknown key"}},
		{"no hosts", "cloud: x\n", []string{"h.yaml", `no "hosts"`}},
		{"empty hosts", "hosts: {}\n", []string{"hosts", "at least one compute host"}},
		{"bad duration", "timeouts: {boot: soon}\nhosts: {a: {uri: 'qemu:///system'}}\n", []string{"timeouts.boot", `"soon"`, "positive duration"}},
		{"unknown timeout", "timeouts: {bot: 1m}\nhosts: {a: {uri: 'qemu:///system'}}\n", []string{"h.yaml:1", "timeouts", "bot"}},
		{"bad host", "hosts: {a: {uri: 'qemu:///system', cpu_shared_set: 'x'}}\n", []string{"h.yaml", "host a", "cpu_shared_set"}},
		{"compute value of the wrong type", "cloud: x\ncompute:\n  packing_host_numa_cells_allocation_strategy: maybe\nhosts: {a: {uri: 'qemu:///system'}}\n", []string{`h.yaml:3: compute.packing_host_numa_cells_allocation_strategy: want true or false, got "maybe"`}},
		{"unknown compute key", "compute: {pack: true}\nhosts: {a: {uri: 'qemu:///system'}}\n", []string{"h.yaml:1: compute.pack: unknown key"}},
		{"hosts twice", "hosts:\n  a: {uri: 'qemu+tcp://a/system'}\nhosts:\n  b: {uri: 'qemu+tcp://b/system'}\n", []string{"h.yaml:3: hosts: given again (first at line 1, column 1)"}},
		{"a host's key twice", "hosts:\n  a:\n    uri: 'qemu+tcp://a/system'\n    uri: 'qemu+tcp://b/system'\n", []string{"h.yaml:4: uri: given again (first at line 3, column 5)"}},
		{"scratch is a compute host, hosts after", "scratch_libvirt: qemu+tcp://a/system\nhosts: {a: {uri: 'qemu+tcp://a/system'}}\n", []string{"h.yaml:1: scratch_libvirt", "compute host a's libvirt"}},
		{"scratch names a compute host", "hosts: {a: {uri: 'qemu+tcp://a/system'}}\nscratch_libvirt: a\n", []string{"h.yaml:2: scratch_libvirt", "compute host a's libvirt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig("h.yaml", []byte(tc.doc))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *ConfigError
			var he *hosts.ConfigError
			if !errors.As(err, &ce) && !errors.As(err, &he) {
				t.Errorf("error %v is neither a harness nor a hosts ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if _, err := LoadConfig("/nonexistent/harness.yaml"); err == nil || !strings.Contains(err.Error(), "/nonexistent/harness.yaml: cannot read the harness configuration: no such file or directory") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadConfig(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
}

// Fixtures name lifecycle operations as strings; each must be one the
// cloud layer can apply, and every operation but resize (asked for with
// resize_to) must be nameable.
func TestFixtureOperationsAreCloudOperations(t *testing.T) {
	var want []string
	for _, op := range openstack.Operations {
		if op != openstack.OpResize {
			want = append(want, string(op))
		}
	}
	got := slices.Clone(fixtures.Operations)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("fixtures.Operations = %v, want the cloud's operations without resize: %v", got, want)
	}
}
