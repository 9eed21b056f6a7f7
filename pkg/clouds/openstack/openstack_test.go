package openstack

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
)

const (
	testCloudName = "local"
	testImageName = "numa-conformance-blank"
)

// connectOrSkip connects to the real local cloud, skipping when it is not
// configured or not reachable unless NUMA_REQUIRE_CLOUD=1.
func connectOrSkip(t *testing.T) *Cloud {
	t.Helper()
	require := os.Getenv("NUMA_REQUIRE_CLOUD") == "1"
	skip := func(format string, args ...any) {
		t.Helper()
		if require {
			t.Fatalf("NUMA_REQUIRE_CLOUD=1 but "+format, args...)
		}
		t.Skipf(format+" (set NUMA_REQUIRE_CLOUD=1 to fail instead; bring the cloud up with `make cloud-up` and set OS_CLIENT_CONFIG_FILE=/var/lib/numa-conformance/local-cloud/clouds.yaml)", args...)
	}
	if os.Getenv("OS_CLIENT_CONFIG_FILE") == "" {
		skip("OS_CLIENT_CONFIG_FILE is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Connect(ctx, testCloudName)
	if err != nil {
		var ce *ConnectError
		if errors.As(err, &ce) && (ce.Kind == NoConfig || ce.Kind == MissingCloud || ce.Kind == Unreachable) {
			skip("cloud %q not usable: %v", testCloudName, err)
		}
		t.Fatalf("Connect(%q): %v", testCloudName, err)
	}
	return c
}

// testRun returns a Run whose cleanups are tied to t.Cleanup.
func testRun(t *testing.T, c *Cloud) *Run {
	t.Helper()
	r, err := c.NewRun(RunSpec{ID: NewRunID(), Register: func(cleanup func(ctx context.Context) error) {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), DefaultDeleteTimeout+30*time.Second)
			defer cancel()
			if err := cleanup(ctx); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeCloudsYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", p)
	return p
}

func TestConnectMissingCloudNamesCloudAndFile(t *testing.T) {
	p := writeCloudsYAML(t, "clouds:\n  other:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n")
	_, err := Connect(context.Background(), "no-such-cloud")
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Kind != MissingCloud {
		t.Fatalf("Connect: expected *ConnectError kind %q, observed %T %v", MissingCloud, err, err)
	}
	t.Logf("observed: %v", err)
	for _, want := range []string{`"no-such-cloud"`, p, "other"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error should mention %q; observed: %v", want, err)
		}
	}
}

func TestConnectNoConfigFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "absent.yaml")
	t.Setenv("OS_CLIENT_CONFIG_FILE", p)
	_, err := Connect(context.Background(), "local")
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Kind != NoConfig || !strings.Contains(err.Error(), p) {
		t.Fatalf("expected NoConfig error naming %s, observed %v", p, err)
	}
}

func TestConnectUnreachable(t *testing.T) {
	p := writeCloudsYAML(t, `clouds:
  dead:
    auth:
      auth_url: http://127.0.0.1:1/v3
      username: u
      password: p
      project_name: p
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Connect(ctx, "dead")
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Kind != Unreachable {
		t.Fatalf("expected *ConnectError kind %q, observed %T %v", Unreachable, err, err)
	}
	t.Logf("observed: %v", err)
	if !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `"dead"`) {
		t.Errorf("error should name the cloud and file; observed %v", err)
	}
}

func TestConnectBadCredentials(t *testing.T) {
	c := connectOrSkip(t) // only to know the real cloud is there
	ao := c.ConfigPath
	raw, err := os.ReadFile(ao)
	if err != nil {
		t.Fatal(err)
	}
	// Reuse the real auth_url with a wrong password.
	var authURL string
	for _, l := range strings.Split(string(raw), "\n") {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, "auth_url:") {
			authURL = strings.TrimSpace(strings.TrimPrefix(s, "auth_url:"))
			break
		}
	}
	if authURL == "" {
		t.Fatalf("no auth_url in %s", ao)
	}
	p := writeCloudsYAML(t, `clouds:
  wrong:
    auth:
      auth_url: `+authURL+`
      username: admin
      password: definitely-not-the-password
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
`)
	_, err = Connect(context.Background(), "wrong")
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Kind != BadCredentials {
		t.Fatalf("expected *ConnectError kind %q, observed %T %v", BadCredentials, err, err)
	}
	t.Logf("observed: %v", err)
	if !gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
		t.Errorf("expected the 401 to stay reachable via errors.As; observed %v", err)
	}
	if !strings.Contains(err.Error(), p) {
		t.Errorf("error should name %s; observed %v", p, err)
	}
}

func TestConnectAndMicroversion(t *testing.T) {
	start := time.Now()
	c := connectOrSkip(t)
	t.Logf("connected to %q via %s in %s; compute max microversion %s", c.Name, c.ConfigPath, time.Since(start), c.Microversion())
	if !c.Supports(MicroversionNetworksNone) || !c.Supports("2.1") {
		t.Errorf("expected support for 2.1 and %s, max is %s", MicroversionNetworksNone, c.Microversion())
	}
	if c.Supports("3.0") || c.Supports("2.9999") {
		t.Errorf("Supports accepts versions above max %s", c.Microversion())
	}
}

func TestFlavorCreateAndCleanup(t *testing.T) {
	c := connectOrSkip(t)
	var id string
	t.Run("create", func(t *testing.T) {
		r := testRun(t, c)
		f, err := r.CreateFlavor(context.Background(), FlavorSpec{Name: "numa2", VCPUs: 2, RAMMB: 512, DiskGB: 1, ExtraSpecs: map[string]string{"hw:numa_nodes": "2"}})
		if err != nil {
			t.Fatal(err)
		}
		id = f.ID
		if want := r.ResourceName("numa2"); f.Name != want {
			t.Errorf("name: expected %q, observed %q", want, f.Name)
		}
		got, err := flavors.ListExtraSpecs(context.Background(), c.computeMax(), f.ID).Extract()
		if err != nil {
			t.Fatal(err)
		}
		if got["hw:numa_nodes"] != "2" {
			t.Errorf("extra specs: expected hw:numa_nodes=2, observed %v", got)
		}
	})
	if id == "" {
		return
	}
	_, err := flavors.Get(context.Background(), c.computeMax(), id).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("flavor %s after cleanup: expected 404, observed err=%v", id, err)
	}
}

func TestFlavorBadExtraSpecNoLeak(t *testing.T) {
	c := connectOrSkip(t)
	if !c.Supports(MicroversionExtraSpecValidation) {
		t.Skipf("extra spec validation needs %s, cloud max is %s", MicroversionExtraSpecValidation, c.Microversion())
	}
	r := testRun(t, c)
	_, err := r.CreateFlavor(context.Background(), FlavorSpec{Name: "bad", VCPUs: 1, RAMMB: 256, DiskGB: 1, ExtraSpecs: map[string]string{"hw:numa_mempolicy": "preferred"}})
	var se *ExtraSpecsError
	if !errors.As(err, &se) {
		t.Fatalf("expected *ExtraSpecsError, observed %T %v", err, err)
	}
	if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("expected HTTP 400 reachable via errors.As, observed %v", err)
	}
	if !strings.Contains(err.Error(), "hw:numa_mempolicy") {
		t.Errorf("error should name the key hw:numa_mempolicy; observed %v", err)
	}
	if !se.FlavorDeleted {
		t.Errorf("flavor %s leaked: %v", se.FlavorID, err)
	}
	pages, lerr := flavors.ListDetail(c.computeMax(), flavors.ListOpts{AccessType: flavors.AllAccess}).AllPages(context.Background())
	if lerr != nil {
		t.Fatal(lerr)
	}
	all, _ := flavors.ExtractFlavors(pages)
	for _, f := range all {
		if f.Name == r.ResourceName("bad") {
			t.Errorf("expected no flavor %q, observed %s", f.Name, f.ID)
		}
	}
	t.Logf("rejected as expected: %v", err)
}

func TestServerBootNUMA(t *testing.T) {
	c := connectOrSkip(t)
	ctx := context.Background()
	imageID, err := c.FindImage(ctx, testImageName)
	if err != nil {
		t.Fatal(err)
	}
	var serverID string
	t.Run("boot", func(t *testing.T) {
		r := testRun(t, c)
		f, err := r.CreateFlavor(ctx, FlavorSpec{Name: "boot-numa2", VCPUs: 2, RAMMB: 512, DiskGB: 1, ExtraSpecs: map[string]string{"hw:numa_nodes": "2"}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := r.CreateServer(ctx, ServerSpec{Name: "numa2", FlavorID: f.ID, ImageID: imageID})
		if err != nil {
			t.Fatal(err)
		}
		serverID = s.ID
		start := time.Now()
		if err := c.WaitActive(ctx, s.ID, 5*time.Minute); err != nil {
			t.Fatalf("after %s: %v", time.Since(start), err)
		}
		t.Logf("server %s ACTIVE after %s", s.ID, time.Since(start))

		h, err := c.ServerHost(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("host=%s hypervisor=%s instance=%s", h.Host, h.HypervisorHostname, h.InstanceName)

		if c.Supports(MicroversionTags) {
			got, err := servers.Get(ctx, c.computeAt(MicroversionServerDefault), s.ID).Extract()
			if err != nil {
				t.Fatal(err)
			}
			if got.Tags == nil || !contains(*got.Tags, r.Tag()) {
				t.Errorf("tags: expected %q, observed %v", r.Tag(), got.Tags)
			}
		}

		if !c.Supports(MicroversionTopology) {
			t.Skipf("topology needs %s, cloud max %s", MicroversionTopology, c.Microversion())
		}
		topo, err := c.ServerTopology(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(topo.Nodes) != 2 {
			t.Fatalf("topology: expected 2 nodes, observed %d: %+v", len(topo.Nodes), topo)
		}
		seen := map[int]bool{}
		vcpus, mem := 0, 0
		for i, n := range topo.Nodes {
			if n.HostNode == nil {
				t.Fatalf("topology node %d: expected host_node (admin view), observed none: %+v", i, n)
			}
			seen[*n.HostNode] = true
			vcpus += len(n.VCPUSet)
			mem += n.MemoryMB
			t.Logf("node %d: host_node=%d vcpu_set=%v memory_mb=%d pinning=%v siblings=%v", i, *n.HostNode, n.VCPUSet, n.MemoryMB, n.CPUPinning, n.Siblings)
		}
		if !seen[0] || !seen[1] {
			t.Errorf("topology: expected host nodes {0,1}, observed %v", seen)
		}
		if vcpus != 2 || mem != 512 {
			t.Errorf("topology: expected 2 vCPUs / 512 MB total, observed %d / %d", vcpus, mem)
		}
	})
	if serverID == "" {
		return
	}
	_, err = servers.Get(ctx, c.computeAt(MicroversionServerDefault), serverID).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("server %s after cleanup: expected 404, observed err=%v", serverID, err)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestImageCreateAndCleanup(t *testing.T) {
	c := connectOrSkip(t)
	// The local cloud keeps its blank image beside its clouds.yaml.
	state := "/var/lib/numa-conformance/local-cloud"
	if f := os.Getenv("OS_CLIENT_CONFIG_FILE"); f != "" {
		state = filepath.Dir(f)
	}
	file := filepath.Join(state, "blank.qcow2")
	if _, err := os.Stat(file); err != nil {
		t.Skipf("no local test image file: %v", err)
	}
	var id string
	t.Run("create", func(t *testing.T) {
		r := testRun(t, c)
		start := time.Now()
		img, err := r.CreateImage(context.Background(), ImageSpec{Name: "blank", File: file, Properties: map[string]string{"hw_numa_nodes": "1"}}, 2*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		id = img.ID
		t.Logf("image %s active after %s", img.ID, time.Since(start))
	})
	if id == "" {
		return
	}
	_, err := images.Get(context.Background(), c.image, id).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("image %s after cleanup: expected 404, observed err=%v", id, err)
	}
}

// unschedulable boots a server that Nova cannot place (40 GB RAM: within
// the default quota, far beyond any test host) so it goes to ERROR quickly.
func unschedulable(t *testing.T, r *Run, name string) *Server {
	t.Helper()
	ctx := context.Background()
	imageID, err := r.FindImage(ctx, testImageName)
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.CreateFlavor(ctx, FlavorSpec{Name: name, VCPUs: 1, RAMMB: 40 << 10, DiskGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.CreateServer(ctx, ServerSpec{Name: name, FlavorID: f.ID, ImageID: imageID})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWaitActiveFailsFastOnError(t *testing.T) {
	c := connectOrSkip(t)
	r := testRun(t, c)
	s := unschedulable(t, r, "novalidhost")

	err := c.WaitActive(context.Background(), s.ID, time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Errorf("WaitActive with 1ms timeout: expected *TimeoutError, observed %T %v", err, err)
	}

	start := time.Now()
	err = c.WaitActive(context.Background(), s.ID, 3*time.Minute)
	var fe *ServerFaultError
	if !errors.As(err, &fe) {
		t.Fatalf("expected *ServerFaultError, observed %T %v", err, err)
	}
	t.Logf("failed after %s: %v", time.Since(start), err)
	if fe.Status != "ERROR" || !strings.Contains(fe.Message, "No valid host") {
		t.Errorf("expected status ERROR with a 'No valid host' fault, observed status=%s message=%q", fe.Status, fe.Message)
	}
}

func TestLeftoversAfterCrashedRun(t *testing.T) {
	c := connectOrSkip(t)
	ctx := context.Background()
	// A run whose cleanups never run, as when the process is killed.
	r, err := c.NewRun(RunSpec{ID: NewRunID(), Register: func(func(context.Context) error) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteLeftovers(context.Background(), r.ID, DefaultDeleteTimeout) })
	s := unschedulable(t, r, "crashed")

	l, err := c.FindLeftovers(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Servers) != 1 || l.Servers[0].ID != s.ID || len(l.Flavors) != 1 {
		t.Fatalf("leftovers: expected server %s and 1 flavor, observed %s", s.ID, l)
	}
	start := time.Now()
	if err := c.DeleteLeftovers(ctx, r.ID, DefaultDeleteTimeout); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted %s in %s", l, time.Since(start))
	if l, err = c.FindLeftovers(ctx, r.ID); err != nil || !l.Empty() {
		t.Fatalf("after DeleteLeftovers: expected nothing, observed %s (err=%v)", l, err)
	}
	if _, err := c.FindLeftovers(ctx, ""); err == nil {
		t.Error("FindLeftovers with empty run ID must refuse")
	}
}

// TestConnectFromOpenrc connects with the local cloud's credentials given
// as a Keystone v3 openrc file gives them (user and project domains apart,
// no OS_CLOUD), as the openstack client allows, and checks that a wrong
// password is rejected naming the environment as the source.
func TestConnectFromOpenrc(t *testing.T) {
	connectOrSkip(t)
	ao, eo, _, err := clouds.Parse(clouds.WithCloudName(testCloudName), clouds.WithLocations(os.Getenv("OS_CLIENT_CONFIG_FILE")))
	if err != nil {
		t.Fatal(err)
	}
	project, domain := ao.TenantName, ao.DomainName
	if ao.Scope != nil {
		project = ao.Scope.ProjectName
	}
	if project == "" || domain == "" {
		t.Fatalf("the %q entry names no project or user domain: %+v", testCloudName, ao)
	}
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_CLIENT_CONFIG_FILE", "/nonexistent/clouds.yaml")
	for k, v := range map[string]string{
		"OS_AUTH_URL": ao.IdentityEndpoint, "OS_USERNAME": ao.Username, "OS_PASSWORD": ao.Password,
		"OS_PROJECT_NAME": project, "OS_USER_DOMAIN_NAME": domain, "OS_PROJECT_DOMAIN_NAME": domain,
		"OS_REGION_NAME": eo.Region, "OS_INTERFACE": "public", "OS_IDENTITY_API_VERSION": "3",
	} {
		t.Setenv(k, v)
	}
	t.Setenv("OS_DOMAIN_NAME", "")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := Connect(ctx, "")
	if err != nil {
		t.Fatalf("Connect from openrc variables: %v", err)
	}
	if c.Name != EnvSource || c.Microversion() == "" {
		t.Errorf("connected as %q at %s; want %q", c.Name, c.Microversion(), EnvSource)
	}
	t.Setenv("OS_PASSWORD", "wrong")
	_, err = Connect(ctx, "")
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Kind != BadCredentials || !strings.Contains(err.Error(), EnvSource) {
		t.Errorf("a wrong password: %v; want BadCredentials naming %s", err, EnvSource)
	}
	t.Setenv("OS_AUTH_URL", "")
	if _, err := Connect(ctx, ""); !errors.As(err, &ce) || ce.Kind != NoCloud || !strings.Contains(err.Error(), "OS_AUTH_URL") {
		t.Errorf("neither a cloud name nor OS_AUTH_URL: %v", err)
	}
}
