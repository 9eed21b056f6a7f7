package audit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
)

// realEnv connects to the cloud of NUMA_HARNESS_CONFIG / OS_CLOUD,
// skipping without one unless NUMA_REQUIRE_CLOUD=1.
func realEnv(t *testing.T, edit func(*harness.Config)) (*harness.Env, map[string]error) {
	t.Helper()
	path := os.Getenv("NUMA_HARNESS_CONFIG")
	if path == "" || os.Getenv("OS_CLOUD") == "" {
		if os.Getenv("NUMA_REQUIRE_CLOUD") == "1" {
			t.Fatal("NUMA_REQUIRE_CLOUD=1 needs NUMA_HARNESS_CONFIG and OS_CLOUD")
		}
		t.Skip("needs a cloud: NUMA_HARNESS_CONFIG and OS_CLOUD")
	}
	cfg, err := harness.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	env, unreachable, err := harness.PreflightReachable(ctx, cfg, os.Getenv("OS_CLOUD"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	return env, unreachable
}

// TestAuditRealServers boots a NUMA server and a plain one, audits them
// (conforms; skipped), re-pins a vCPU of the NUMA one through libvirt
// (differs, naming the vcpupin), then audits with another configured host
// unreachable (the audit completes) and with the server's own host
// unreachable (cannot tell, naming the host).
func TestAuditRealServers(t *testing.T) {
	env, _ := realEnv(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	run, err := env.Cloud.NewRun(openstack.RunSpec{ID: openstack.NewRunID(), DeleteTimeout: env.Config.Timeouts.Delete, Register: func(c func(context.Context) error) {
		t.Cleanup(func() {
			if err := c(context.Background()); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := env.Cloud.FindImage(ctx, env.Config.Image)
	if env.Config.Image == "" || err != nil {
		t.Skipf("needs the configuration's image: %q (%v)", env.Config.Image, err)
	}
	boot := func(name string, specs map[string]string) string {
		f, err := run.CreateFlavor(ctx, openstack.FlavorSpec{Name: name, VCPUs: 2, RAMMB: 256, ExtraSpecs: specs})
		if err != nil {
			t.Fatal(err)
		}
		s, err := run.CreateServer(ctx, openstack.ServerSpec{Name: name, FlavorID: f.ID, ImageID: img})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	numa := boot("audit-numa", map[string]string{"hw:numa_nodes": "2"})
	plain := boot("audit-plain", nil)
	for _, id := range []string{numa, plain} {
		if err := env.Cloud.WaitActive(ctx, id, 8*time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := Run(ctx, env, nil, Options{Servers: []string{numa, plain}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Servers) != 1 || rep.Skipped != 1 || rep.Servers[0].ID != numa || rep.Servers[0].Verdict != Conforms {
		t.Fatalf("first audit: %+v", rep)
	}

	host := rep.Servers[0].Host

	// --all, and --all on one host: every server of the cloud (others may
	// belong to tests running meanwhile); ours are judged as above.
	for _, opts := range []Options{{All: true}, {All: true, Host: host}} {
		rep, err := Run(ctx, env, nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		verdicts := map[string]Verdict{}
		for _, s := range rep.Servers {
			verdicts[s.ID] = s.Verdict
			if opts.Host != "" && s.Host != host {
				t.Errorf("audit of host %s lists server %s on %s", host, s.ID, s.Host)
			}
		}
		if v, ok := verdicts[numa]; !ok || v != Conforms {
			t.Errorf("audit %+v: expected NUMA server %s to conform, observed %q (listed: %v)", opts, numa, v, ok)
		}
		if _, ok := verdicts[plain]; ok || rep.Skipped < 1 {
			t.Errorf("audit %+v: expected the plain server %s skipped, observed it listed (%v) with %d skipped", opts, plain, ok, rep.Skipped)
		}
	}

	kernelMovedBehindLibvirt(ctx, t, env, numa)

	// Alter the live domain through libvirt: vCPU 0 onto host CPU 3 only.
	rw := env.Config.Hosts[host]
	rw.ReadWrite = true
	conn, err := hosts.Dial(ctx, rw)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.PinVCPU(ctx, numa, 0, []int{3}); err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ctx, env, nil, Options{Servers: []string{numa}})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Servers[0]
	if got.Verdict != Differs || len(got.Diffs) != 1 || got.Diffs[0].Path != "cputune/vcpupin[vcpu=0]/cpuset" || got.Diffs[0].Observed != "3" {
		t.Fatalf("after re-pinning vCPU 0 to CPU 3: %+v", got)
	}

	// Interrupted after the first server, one at a time per host: the
	// other server is reported as not checked and the report says so.
	ictx, interrupt := context.WithCancel(ctx)
	rep, err = Run(ictx, env, nil, Options{Servers: []string{numa, plain}, PerHost: 1, Progress: cancelOnWrite(interrupt)})
	interrupt()
	if err != nil {
		t.Fatal(err)
	}
	notChecked := 0
	for _, s := range rep.Servers {
		if s.Verdict == CannotTell && s.Reason == "interrupted before this server was checked" {
			notChecked++
		}
	}
	if !rep.Interrupted || notChecked != 1 || len(rep.Servers)+rep.Skipped != 2 {
		t.Fatalf("interrupted after the first server: expected Interrupted and 1 server not checked out of 2, observed %+v", rep)
	}

	// A second configured host that is unreachable does not stop the
	// audit of the first...
	env2, unreachable := realEnv(t, func(c *harness.Config) {
		c.Hosts["ghost"] = hosts.HostConfig{Name: "ghost", URI: "qemu+tcp://127.0.0.1:2/system", Timeout: 5 * time.Second}
	})
	if _, ok := unreachable["ghost"]; !ok || len(unreachable) != 1 {
		t.Fatalf("unreachable hosts: %v", unreachable)
	}
	rep, err = Run(ctx, env2, unreachable, Options{Servers: []string{numa}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Servers[0]; got.Verdict != Differs {
		t.Fatalf("with host ghost unreachable, %s: %+v", host, got)
	}
	// ...and a server on an unreachable host is reported as such.
	env3, unreachable := realEnv(t, func(c *harness.Config) {
		h := c.Hosts[host]
		h.URI, h.Timeout = "qemu+tcp://127.0.0.1:1/system", 5*time.Second
		c.Hosts[host] = h
	})
	rep, err = Run(ctx, env3, unreachable, Options{Servers: []string{numa}})
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Servers[0]; got.Verdict != CannotTell || !strings.Contains(got.Reason, "host "+host+" is unreachable") {
		t.Fatalf("host unreachable: %+v", got)
	}
}

// cancelOnWrite is a progress writer that interrupts the audit at its
// first line, i.e. right after the first server was checked.
type cancelOnWrite context.CancelFunc

func (c cancelOnWrite) Write(p []byte) (int, error) {
	c()
	return len(p), nil
}

// kernelMovedBehindLibvirt moves vCPU 0's thread of the server to one CPU
// of its pin inside the compute host (taskset, the XML untouched) and
// requires the audit to report exactly that, in the kernel layer, naming
// the vCPU and both values. It needs a shell on the compute host:
// NUMA_COMPUTE_VM_SCRIPT names the local cloud's compute-vm.sh (make
// conformance sets it); elsewhere the step is skipped.
func kernelMovedBehindLibvirt(ctx context.Context, t *testing.T, env *harness.Env, id string) {
	t.Helper()
	script := os.Getenv("NUMA_COMPUTE_VM_SCRIPT")
	if script == "" {
		t.Log("NUMA_COMPUTE_VM_SCRIPT unset: the kernel-view step (a vCPU thread moved behind libvirt's back) is skipped")
		return
	}
	sh, err := env.Cloud.ServerHost(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := env.Pool.Conn(ctx, sh.Host)
	if err != nil {
		t.Fatal(err)
	}
	live, _, err := conn.DomainXML(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var pin string
	for _, p := range live.CPUTune.VCPUPin {
		if p.VCPU == 0 {
			pin = p.CPUSet
		}
	}
	pinned, err := cpuset.Parse(pin)
	if err != nil || pinned.Len() < 2 {
		t.Fatalf("vCPU 0 of %s is pinned to %q; the step needs at least two CPUs to move within", id, pin)
	}
	target, _ := pinned.Max()
	cmd := fmt.Sprintf(`pid=$(cat /run/libvirt/qemu/%s.pid) && for task in /proc/$pid/task/*; do
  if grep -q '^CPU 0/' "$task/comm"; then taskset -pc %d "${task##*/}" >/dev/null && echo moved; fi; done`, sh.InstanceName, target)
	out, err := exec.CommandContext(ctx, "bash", script, "ssh", cmd).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "moved") {
		t.Fatalf("moving vCPU 0 of %s to CPU %d inside %s: %v\n%s", sh.InstanceName, target, sh.Host, err, out)
	}
	rep, err := Run(ctx, env, nil, Options{Servers: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	got := rep.Servers[0]
	want := domain.Difference{Path: "kernel/vcpu[0]/affinity", Expected: pin + " (cputune/vcpupin[vcpu=0])", Observed: strconv.Itoa(target)}
	if got.Verdict != Differs || len(got.Diffs) != 1 || got.Diffs[0] != want {
		t.Fatalf("after moving vCPU 0's thread behind libvirt's back: expected differs with %v, observed %s %v %v", want, got.Verdict, got.Diffs, got.Notes)
	}
}
