package runs

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/audit"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
)

// TestLibvirtdRestartUnderRunningHarness restarts, under one running
// harness, first the compute host's libvirtd and then the scratch
// libvirtd, each between two checks, and requires the check after each
// restart to succeed on the same connections (dialed again, not failed
// for the rest of the run). It needs the local cloud: it restarts
// libvirtd inside the compute VM (compute-vm.sh restart-libvirtd) and the
// scratch libvirtd that ci/libvirt-local/up.sh started. It runs in its own
// `go test` of this package, so nothing else uses those libvirtds meanwhile.
func TestLibvirtdRestartUnderRunningHarness(t *testing.T) {
	cloudOrSkip(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Minute)
	defer cancel()
	cfg, err := harness.LoadConfig(os.Getenv("NUMA_HARNESS_CONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := harness.Preflight(ctx, cfg, os.Getenv("OS_CLOUD"))
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if env.Scratch == nil {
		t.Fatalf("%s has no scratch_libvirt; the local cloud's configuration has one", cfg.File)
	}
	id := bootNUMAServer(ctx, t, env)

	check := func(when string) {
		t.Helper()
		rep, err := audit.Run(ctx, env, nil, audit.Options{Servers: []string{id}})
		if err != nil || len(rep.Servers) != 1 || rep.Servers[0].Verdict != audit.Conforms {
			t.Fatalf("%s: expected the server's domain read and conforming, observed %+v (error %v)", when, rep, err)
		}
		host := rep.Servers[0].Host
		conn, err := env.Pool.Conn(ctx, host)
		if err != nil {
			t.Fatal(err)
		}
		d, _, err := conn.DomainXML(ctx, id)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if _, err := env.Scratch.RoundTrip(ctx, d); err != nil {
			t.Fatalf("%s: scratch libvirtd: %v", when, err)
		}
	}
	check("before any restart")
	host := onlyHost(t, env)
	conn, _ := env.Pool.Conn(ctx, host)

	runScript(ctx, t, "../../ci/local-cloud/compute-vm.sh", "restart-libvirtd")
	check("after the compute host's libvirtd restarted")
	if n := conn.Redials(); n != 1 {
		t.Errorf("connection to %s: %d re-dials after its libvirtd restarted; want 1", host, n)
	}

	runScript(ctx, t, "../../ci/libvirt-local/down.sh")
	runScript(ctx, t, "../../ci/libvirt-local/up.sh", "--tcp", "--tls", "--ssh")
	check("after the scratch libvirtd restarted")
	if n := env.Scratch.Redials(); n != 1 {
		t.Errorf("scratch connection: %d re-dials after its libvirtd restarted; want 1", n)
	}
	waitSchedulable(ctx, t, env.Cloud, host)
}

// bootNUMAServer boots a 2-vCPU hw:numa_nodes=2 server on the
// configuration's image and waits until it is ACTIVE; it is deleted when
// the test ends.
func bootNUMAServer(ctx context.Context, t *testing.T, env *harness.Env) string {
	t.Helper()
	run, err := env.Cloud.NewRun(openstack.RunSpec{ID: openstack.NewRunID(), DeleteTimeout: env.Config.Timeouts.Delete,
		Register: func(cleanup func(context.Context) error) {
			t.Cleanup(func() {
				if err := cleanup(context.Background()); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			})
		}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := env.Cloud.FindImage(ctx, env.Config.Image)
	if err != nil {
		t.Fatalf("image %q of %s: %v", env.Config.Image, env.Config.File, err)
	}
	f, err := run.CreateFlavor(ctx, openstack.FlavorSpec{Name: "restart", VCPUs: 2, RAMMB: 256, ExtraSpecs: map[string]string{"hw:numa_nodes": "2"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := run.CreateServer(ctx, openstack.ServerSpec{Name: "restart", FlavorID: f.ID, ImageID: img})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Cloud.WaitActive(ctx, s.ID, env.Config.Timeouts.Boot); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// onlyHost is the configuration's single compute host: the local cloud's.
func onlyHost(t *testing.T, env *harness.Env) string {
	t.Helper()
	hs := env.Pool.Hosts()
	if len(hs) != 1 {
		t.Fatalf("want the local cloud's one compute host in %s, found %v", env.Config.File, hs)
	}
	return hs[0]
}

// runScript runs one of the project's scripts, failing the test with its
// output when it fails.
func runScript(ctx context.Context, t *testing.T, script string, args ...string) {
	t.Helper()
	start := time.Now()
	out, err := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", script, args, err, out)
	}
	t.Logf("%s %v: %v", script, args, time.Since(start).Round(100*time.Millisecond))
}

// waitSchedulable waits until host's nova-compute is schedulable again:
// nova-compute disables its service when its libvirt connection drops
// ("AUTO: Connection to libvirt lost") and enables it once reconnected,
// and the cloud must be left as the test found it.
func waitSchedulable(ctx context.Context, t *testing.T, cloud *openstack.Cloud, host string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		s, err := cloud.ComputeServiceOf(ctx, host)
		if err == nil && s.Schedulable() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after the restarts, %v (error %v); want it enabled and up within 5 minutes", s, err)
		case <-time.After(5 * time.Second):
		}
	}
}
