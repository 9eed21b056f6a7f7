package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/expect/fitter"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// Env is a verified connection to the cloud under test and its compute
// hosts. Preflight builds it without creating anything.
type Env struct {
	Config *Config
	Cloud  *openstack.Cloud
	Pool   *hosts.Pool
	// Hosts are the configured compute hosts, each checked against libvirt
	// and placement.
	Hosts map[string]*Host
	// Profile is the Nova release whose rules the expectations follow;
	// ProfileWarning says when the release had to be guessed.
	Profile        nova.Profile
	ProfileWarning string
	// Facts describe the environment for reports.
	Facts Facts
	// Scratch is the read-write connection to ScratchLibvirt; nil when
	// none is configured.
	Scratch *hosts.Conn
	// Journal, if set, is shared by the parallel processes of a run so
	// that each knows the others' claims (see claimCandidates).
	Journal *Journal
}

// Host is one compute host as the harness models it.
type Host struct {
	Name   string
	Config hosts.HostConfig
	// Domain is the nova.conf part the expected XML depends on.
	Domain domain.Config
	// Info holds the capabilities and the host topology without usage.
	Info *hosts.HostInfo
	// Limits are the placement allocation ratios the scheduler applies.
	Limits *topology.Limits
	// Inventory is placement's view, kept for reports.
	Inventory *openstack.Inventory
	Versions  hosts.VersionInfo
}

// Facts are the versions and names a report records, so that two runs can
// be compared (before and after an upgrade).
type Facts struct {
	Cloud              string            `json:"cloud"`
	CloudsYAML         string            `json:"clouds_yaml"`
	ComputeAPI         string            `json:"compute_api_max_microversion"`
	NovaProfile        string            `json:"nova_profile"`
	NovaProfileWarning string            `json:"nova_profile_warning,omitempty"`
	HarnessVersion     string            `json:"harness_version"`
	Hosts              map[string]string `json:"hosts"` // host -> "libvirt X, QEMU Y, N NUMA cells"
}

// PreflightError says which check failed before anything was created.
type PreflightError struct {
	// Check is what was being verified: "cloud", "host", "inventory",
	// "service", "scratch libvirt".
	Check string
	// Host is the compute host concerned, if any.
	Host string
	Err  error
}

// Error renders the failed check with its cause.
func (e *PreflightError) Error() string {
	where := e.Check
	if e.Host != "" {
		where += " " + e.Host
	}
	return "pre-flight check failed (" + where + "; nothing was created): " + e.Err.Error()
}

// Unwrap exposes the cause (e.g. *openstack.ConnectError, *hosts.HostError).
func (e *PreflightError) Unwrap() error { return e.Err }

// Preflight connects to the cloud and every configured host and verifies
// what the expectations depend on: admin access, the host's libvirt and
// NUMA topology, and that the configured CPU sets agree with placement's
// VCPU and PCPU inventories. It creates nothing. cloudName overrides
// cfg.Cloud when non-empty.
func Preflight(ctx context.Context, cfg *Config, cloudName string) (*Env, error) {
	env, _, err := preflight(ctx, cfg, cloudName, false)
	return env, err
}

// PreflightReachable is Preflight for read-only work that can go on
// without some hosts (an audit): a host that fails its checks is left out
// of Env.Hosts and its error returned in unreachable, by host name, instead
// of failing the whole pre-flight. The cloud must still be reachable.
func PreflightReachable(ctx context.Context, cfg *Config, cloudName string) (env *Env, unreachable map[string]error, err error) {
	return preflight(ctx, cfg, cloudName, true)
}

func preflight(ctx context.Context, cfg *Config, cloudName string, lenient bool) (*Env, map[string]error, error) {
	if cloudName == "" {
		cloudName = cfg.Cloud
	}
	if cloudName == "" && os.Getenv("OS_AUTH_URL") == "" {
		return nil, nil, &PreflightError{Check: "cloud", Err: fmt.Errorf("no cloud named: set OS_CLOUD or \"cloud:\" in %s, or source an openrc file (OS_AUTH_URL, OS_USERNAME, ...)", cfg.File)}
	}
	cloud, err := openstack.Connect(ctx, cloudName)
	if err != nil {
		return nil, nil, &PreflightError{Check: "cloud", Err: err}
	}
	env := &Env{Config: cfg, Cloud: cloud, Pool: hosts.NewPool(cfg.Hosts), Hosts: map[string]*Host{}}
	env.Profile, env.ProfileWarning, err = profile(cloud.Microversion())
	if err != nil {
		return nil, nil, &PreflightError{Check: "cloud", Err: err}
	}
	env.Facts = Facts{
		Cloud: cloud.Name, CloudsYAML: cloud.ConfigPath, ComputeAPI: cloud.Microversion(),
		NovaProfile: env.Profile.Name, NovaProfileWarning: env.ProfileWarning,
		HarnessVersion: HarnessVersion(), Hosts: map[string]string{},
	}
	var errs []error
	unreachable := map[string]error{}
	for _, name := range env.Pool.Hosts() {
		h, err := env.checkHost(ctx, name)
		if err != nil && lenient {
			unreachable[name] = err
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !lenient {
			// Only runs that boot servers need the scheduler to see the host.
			if err := env.checkService(ctx, name); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		env.Hosts[name] = h
		env.Facts.Hosts[name] = fmt.Sprintf("libvirt %s, QEMU %s, %d NUMA cells", h.Versions.Libvirt, h.Versions.Hypervisor, cellCount(h))
	}
	if cfg.ScratchLibvirt != "" {
		sc, err := hosts.Dial(ctx, hosts.HostConfig{Name: "scratch", URI: cfg.ScratchLibvirt, ReadWrite: true})
		if err != nil {
			errs = append(errs, &PreflightError{Check: "scratch libvirt", Err: fmt.Errorf("%s: scratch_libvirt: %w", cfg.File, err)})
		}
		env.Scratch = sc
	}
	if len(errs) > 0 {
		env.Close()
		return nil, nil, errors.Join(errs...)
	}
	return env, unreachable, nil
}

func cellCount(h *Host) int {
	if h.Info.Topology == nil {
		return 0
	}
	return len(h.Info.Topology.Cells)
}

// profile picks the Nova rules: NUMA_NOVA_VERSION (e.g. 26.2.2) when the
// operator knows the release, else the compute API's maximum microversion.
func profile(microversion string) (nova.Profile, string, error) {
	if v := os.Getenv("NUMA_NOVA_VERSION"); v != "" {
		p, warn, err := nova.ProfileFor(v)
		if err != nil {
			return p, warn, fmt.Errorf("NUMA_NOVA_VERSION: %w", err)
		}
		return p, warn, nil
	}
	return nova.ProfileForMicroversion(microversion)
}

func (env *Env) checkHost(ctx context.Context, name string) (*Host, error) {
	hc := env.Config.Hosts[name]
	dc, err := hc.DomainConfig()
	if err != nil {
		return nil, &PreflightError{Check: "host", Host: name, Err: err}
	}
	conn, err := env.Pool.Conn(ctx, name)
	if err != nil {
		return nil, &PreflightError{Check: "host", Host: name, Err: err}
	}
	info, err := conn.HostTopology(ctx, dc)
	if err != nil {
		return nil, &PreflightError{Check: "host", Host: name, Err: err}
	}
	ver, err := conn.Version(ctx)
	if err != nil {
		return nil, &PreflightError{Check: "host", Host: name, Err: err}
	}
	inv, err := env.Cloud.ComputeInventory(ctx, name)
	if err != nil {
		return nil, &PreflightError{Check: "inventory", Host: name, Err: err}
	}
	h := &Host{Name: name, Config: hc, Domain: dc, Info: info, Inventory: inv, Versions: ver}
	if err := verifyInventory(env.Config.File, h); err != nil {
		return nil, &PreflightError{Check: "inventory", Host: name, Err: err}
	}
	h.Limits = &topology.Limits{CPUAllocationRatio: 1, RAMAllocationRatio: 1}
	if e, ok := inv.Resources["VCPU"]; ok {
		h.Limits.CPUAllocationRatio = e.AllocationRatio
	}
	if e, ok := inv.Resources["MEMORY_MB"]; ok {
		h.Limits.RAMAllocationRatio = e.AllocationRatio
	}
	return h, nil
}

// checkService fails when the scheduler would drop the host: then every
// boot ends in NoValidHost and expected NoValidHost outcomes pass for the
// wrong reason.
func (env *Env) checkService(ctx context.Context, name string) error {
	svc, err := env.Cloud.ComputeServiceOf(ctx, name)
	if err != nil {
		return &PreflightError{Check: "service", Host: name, Err: fmt.Errorf("%s: hosts.%s: %w", env.Config.File, name, err)}
	}
	if !svc.Schedulable() {
		return &PreflightError{Check: "service", Host: name, Err: fmt.Errorf("expected nova-compute on %s enabled and up, observed %s: the scheduler would drop the host and every boot would end in NoValidHost (see `openstack compute service list`)", name, svc)}
	}
	return nil
}

// verifyInventory checks the configured CPU sets against what nova-compute
// reported to placement: VCPU total is the size of the shared set Nova
// derives (vcpu_pin_set, else cpu_shared_set, else every online CPU unless
// cpu_dedicated_set is set), PCPU total the size of cpu_dedicated_set. A
// mismatch means the configuration does not describe the host, and every
// pinning expectation would be wrong.
func verifyInventory(file string, h *Host) error {
	online := h.Info.OnlineCPUs
	shared := online
	var dedicated cpuset.CPUSet
	switch {
	case h.Domain.VCPUPinSet != nil:
		shared = *h.Domain.VCPUPinSet
	case h.Domain.CPUSharedSet != nil:
		shared = *h.Domain.CPUSharedSet
	case h.Domain.CPUDedicatedSet != nil:
		shared = cpuset.CPUSet{}
	}
	if h.Domain.CPUDedicatedSet != nil {
		dedicated = *h.Domain.CPUDedicatedSet
	}
	var problems []string
	check := func(class string, want int, from string) {
		got := 0
		if e, ok := h.Inventory.Resources[class]; ok {
			got = e.Total
		}
		if got != want {
			problems = append(problems, fmt.Sprintf("placement reports %s total %d, but the configuration gives %d (%s)", class, got, want, from))
		}
	}
	check("VCPU", shared.Len(), describeShared(h.Domain, online))
	check("PCPU", dedicated.Len(), "cpu_dedicated_set "+showSet(h.Domain.CPUDedicatedSet))
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("%s: hosts.%s does not describe the host's nova.conf: %s; set cpu_shared_set, cpu_dedicated_set and vcpu_pin_set as in the host's nova.conf",
		file, h.Name, strings.Join(problems, "; "))
}

func describeShared(c domain.Config, online cpuset.CPUSet) string {
	switch {
	case c.VCPUPinSet != nil:
		return "vcpu_pin_set " + c.VCPUPinSet.String()
	case c.CPUSharedSet != nil:
		return "cpu_shared_set " + c.CPUSharedSet.String()
	case c.CPUDedicatedSet != nil:
		return "no cpu_shared_set while cpu_dedicated_set is set"
	default:
		return "no CPU sets configured: every online CPU, " + online.String()
	}
}

func showSet(s *cpuset.CPUSet) string {
	if s == nil {
		return "unset"
	}
	return s.String()
}

// FitterOptions are the fitter settings for this cloud.
func (env *Env) FitterOptions() fitter.Options {
	pack := env.Profile.PackByDefault
	if env.Config.PackHostNUMACells != nil {
		pack = *env.Config.PackHostNUMACells
	}
	return fitter.Options{Profile: env.Profile, Pack: pack}
}

// Close closes the libvirt connections.
func (env *Env) Close() error {
	err := env.Pool.Close()
	if env.Scratch != nil {
		err = errors.Join(err, env.Scratch.Close())
	}
	return err
}

// HarnessVersion is the harness's version for reports:
// NUMA_HARNESS_VERSION (the Makefile sets it from git), else "dev".
func HarnessVersion() string {
	if v := os.Getenv("NUMA_HARNESS_VERSION"); v != "" {
		return v
	}
	return "dev"
}

// FindRepoRoot walks up from dir to the directory holding go.mod, so that
// suites (run from their own package directory) find fixtures/ and
// reports/.
func FindRepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		d = parent
	}
}
