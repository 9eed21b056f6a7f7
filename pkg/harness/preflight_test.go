package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
)

// realConfig loads the harness configuration of a real cloud
// (NUMA_HARNESS_CONFIG with OS_CLOUD and OS_CLIENT_CONFIG_FILE), skipping
// without one unless NUMA_REQUIRE_CLOUD=1.
func realConfig(t *testing.T) *Config {
	t.Helper()
	path := os.Getenv("NUMA_HARNESS_CONFIG")
	if path == "" || os.Getenv("OS_CLOUD") == "" || os.Getenv("OS_CLIENT_CONFIG_FILE") == "" {
		if os.Getenv("NUMA_REQUIRE_CLOUD") == "1" {
			t.Fatal("NUMA_REQUIRE_CLOUD=1 needs NUMA_HARNESS_CONFIG, OS_CLOUD and OS_CLIENT_CONFIG_FILE")
		}
		t.Skip("needs a cloud: NUMA_HARNESS_CONFIG, OS_CLOUD and OS_CLIENT_CONFIG_FILE")
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func TestPreflightRealCloud(t *testing.T) {
	cfg := realConfig(t)
	env, err := Preflight(ctx(t), cfg, os.Getenv("OS_CLOUD"))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	for name, h := range env.Hosts {
		if h.Info.Topology == nil || h.Limits == nil || h.Limits.CPUAllocationRatio <= 0 {
			t.Errorf("host %s: topology %v, limits %+v", name, h.Info.Topology, h.Limits)
		}
		if got, want := h.Limits.CPUAllocationRatio, h.Inventory.Resources["VCPU"].AllocationRatio; got != want {
			t.Errorf("host %s: CPU ratio %v, placement says %v", name, got, want)
		}
	}
	if env.Facts.ComputeAPI == "" || env.Facts.NovaProfile == "" || len(env.Facts.Hosts) != len(cfg.Hosts) {
		t.Errorf("facts = %+v", env.Facts)
	}
}

// Every kind of bad input fails the pre-flight with an error naming the
// cloud, file or host, and Preflight has no way to create anything.
func TestPreflightBadInput(t *testing.T) {
	cfg := realConfig(t)
	cloud := os.Getenv("OS_CLOUD")
	var host string
	for h := range cfg.Hosts {
		host = h
	}

	t.Run("missing clouds.yaml entry", func(t *testing.T) {
		_, err := Preflight(ctx(t), cfg, "no-such-cloud")
		wantPreflight(t, err, "cloud", "no-such-cloud", os.Getenv("OS_CLIENT_CONFIG_FILE"))
	})

	t.Run("wrong credentials", func(t *testing.T) {
		data, err := os.ReadFile(os.Getenv("OS_CLIENT_CONFIG_FILE"))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]map[string]map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		auth, _ := doc["clouds"][cloud]["auth"].(map[string]any)
		if auth == nil {
			t.Fatalf("cloud %s has no auth section", cloud)
		}
		auth["password"] = "not-the-password"
		bad := filepath.Join(t.TempDir(), "clouds.yaml")
		out, _ := yaml.Marshal(doc)
		if err := os.WriteFile(bad, out, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("OS_CLIENT_CONFIG_FILE", bad)
		_, err = Preflight(ctx(t), cfg, cloud)
		wantPreflight(t, err, "cloud", cloud, bad)
		var ce *openstack.ConnectError
		if !errors.As(err, &ce) {
			t.Errorf("error %v does not carry an *openstack.ConnectError", err)
		}
	})

	t.Run("unreachable libvirt", func(t *testing.T) {
		bad := *cfg
		bad.Hosts = copyHosts(cfg)
		h := bad.Hosts[host]
		h.URI, h.Timeout = "qemu+tcp://127.0.0.1:1/system", 5*time.Second
		bad.Hosts[host] = h
		_, err := Preflight(ctx(t), &bad, cloud)
		wantPreflight(t, err, "host", host, "127.0.0.1:1")
	})

	t.Run("CPU sets that placement contradicts", func(t *testing.T) {
		bad := *cfg
		bad.Hosts = copyHosts(cfg)
		h := bad.Hosts[host]
		if h.CPUDedicatedSet != "" {
			t.Skip("the host already has a cpu_dedicated_set")
		}
		h.CPUSharedSet, h.CPUDedicatedSet = "0-1", "2-3"
		bad.Hosts[host] = h
		_, err := Preflight(ctx(t), &bad, cloud)
		wantPreflight(t, err, "inventory", host, "PCPU total 0, but the configuration gives 2", cfg.File)
	})
}

func copyHosts(cfg *Config) hosts.Hosts {
	out := hosts.Hosts{}
	for k, v := range cfg.Hosts {
		out[k] = v
	}
	return out
}

func wantPreflight(t *testing.T, err error, check string, contains ...string) {
	t.Helper()
	var pe *PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PreflightError", err)
	}
	if pe.Check != check {
		t.Errorf("check %q, want %q: %v", pe.Check, check, err)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Errorf("error %q does not name %q", err, c)
		}
	}
	if !strings.Contains(err.Error(), "nothing was created") {
		t.Errorf("error %q does not say nothing was created", err)
	}
}

// TestDraftFromRealCloud writes a configuration draft from the cloud (what
// `numa-conformance init` does), with the configured host's libvirt URI as
// the template, and requires it to load and pass the pre-flight as it is:
// on a host without CPU sets nothing is left to fill in.
func TestDraftFromRealCloud(t *testing.T) {
	cfg := realConfig(t)
	var enabled []string
	for name := range cfg.Hosts {
		enabled = append(enabled, name)
	}
	if len(enabled) != 1 {
		t.Skipf("the draft test needs one configured host (its URI is the template), found %v", enabled)
	}
	c, err := openstack.Connect(ctx(t), os.Getenv("OS_CLOUD"))
	if err != nil {
		t.Fatal(err)
	}
	facts, err := GatherHostFacts(ctx(t), c, cfg.Hosts[enabled[0]].URI)
	if err != nil {
		t.Fatal(err)
	}
	data, err := DraftConfig(DraftInput{Cloud: c.Name, URITemplate: cfg.Hosts[enabled[0]].URI, Hosts: facts})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("draft:\n%s", data)
	draft, err := ParseConfig("draft.yaml", data)
	if err != nil {
		if cfg.Hosts[enabled[0]].CPUDedicatedSet != "" || cfg.Hosts[enabled[0]].CPUSharedSet != "" {
			t.Skipf("the host has CPU sets, which a draft leaves to fill in: %v", err)
		}
		t.Fatalf("a draft for a host without CPU sets does not load: %v", err)
	}
	env, err := Preflight(ctx(t), draft, "")
	if err != nil {
		t.Fatalf("the draft does not pass the pre-flight: %v", err)
	}
	env.Close()
}
