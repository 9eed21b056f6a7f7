package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

const public = "../../testdata/vectors/public.json"

func TestVectorsPublicPass(t *testing.T) {
	code, out, errOut := run(t, "vectors", public)
	if code != exitOK || lastLine(out) != "208 passed, 0 failed" {
		t.Fatalf("exit %d, last line %q\n%s%s", code, lastLine(out), out, errOut)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestVectorsFailingVectorExitsOne(t *testing.T) {
	f := writeFile(t, "v.json", `{"schema":"nova-numa-vectors/1","count":1,"vectors":[
	 {"id":"c-1","category":"constraints","function":"nova/virt/hardware.py:numa_get_constraints",
	  "input":{"flavor":{"vcpus":3,"memory_mb":2048,"extra_specs":{"hw:numa_nodes":"2"}},"image_props":{}},
	  "expect":{"result":null}}]}`)
	code, out, _ := run(t, "vectors", f)
	if code != exitFailed || !strings.Contains(out, "FAIL c-1") || !strings.Contains(out, "error: ImageNUMATopologyAsymmetric") || lastLine(out) != "0 passed, 1 failed" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// A failing vector whose results are both JSON is shown field by field.
func TestVectorsFieldDifferences(t *testing.T) {
	f := writeFile(t, "v.json", `{"schema":"nova-numa-vectors/1","count":1,"vectors":[
	 {"id":"c-2","category":"constraints","function":"nova/virt/hardware.py:numa_get_constraints",
	  "input":{"flavor":{"vcpus":8,"memory_mb":2048,"extra_specs":{"hw:numa_nodes":"2"}},"image_props":{}},
	  "expect":{"result":{"cells":[
	    {"id":0,"memory":1024,"pagesize":null,"cpu_policy":null,"cpu_thread_policy":null,"cpuset":[0,1,2,3],"pcpuset":[],"cpuset_reserved":null,"cpu_pinning":null},
	    {"id":1,"memory":1000,"pagesize":null,"cpu_policy":null,"cpu_thread_policy":null,"cpuset":[4,5,6,7],"pcpuset":[],"cpuset_reserved":null,"cpu_pinning":null}],
	   "emulator_threads_policy":null}}}]}`)
	code, out, _ := run(t, "vectors", f)
	if code != exitFailed || !strings.Contains(out, "  .cells[1].memory: expected 1000, observed 1024\n") || strings.Contains(out, "expected: {") {
		t.Fatalf("exit %d; want the one differing field, not both results:\n%s", code, out)
	}
}

// A vector of a release the profiles know only approximately is replayed
// under the nearest rules, and the run says so.
func TestVectorsWarnsOfApproximateRelease(t *testing.T) {
	f := writeFile(t, "v.json", `{"schema":"nova-numa-vectors/1","count":1,"vectors":[
	 {"id":"c-3","category":"constraints","function":"nova/virt/hardware.py:numa_get_constraints","nova_version":"31",
	  "input":{"flavor":{"vcpus":3,"memory_mb":2048,"extra_specs":{"hw:numa_nodes":"2"}},"image_props":{}},
	  "expect":{"error":"ImageNUMATopologyAsymmetric"}}]}`)
	code, out, errOut := run(t, "vectors", f)
	if code != exitOK || !strings.Contains(errOut, "warning: nova_version 31: Nova 31 admits several Nova rule sets") {
		t.Fatalf("exit %d\n%s\nstderr: %s", code, out, errOut)
	}
}

func TestVectorsBadInputExitsTwoNamingFileAndVector(t *testing.T) {
	code, _, errOut := run(t, "vectors", "/nonexistent/v.json")
	if code != exitBadInput || !strings.Contains(errOut, "/nonexistent/v.json") {
		t.Errorf("missing file: exit %d, %q", code, errOut)
	}
	f := writeFile(t, "bad.json", `{"schema":"nova-numa-vectors/1","vectors":[
	 {"id":"h-9","function":"nova/virt/hardware.py:numa_fit_instance_to_host","input":{"host_topology":7},"expect":{"result":null}}]}`)
	code, _, errOut = run(t, "vectors", f)
	if code != exitBadInput || !strings.Contains(errOut, f) || !strings.Contains(errOut, "h-9") {
		t.Errorf("invalid vector: exit %d, %q", code, errOut)
	}
}

func TestFitNumaVM1(t *testing.T) {
	code, out, errOut := run(t, "fit", "--host", "../../examples/host-2node.json", "--flavor", "../../examples/numa_vm_1.json")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		`<memory mode="strict" nodeset="0-1"/>`,
		`<memnode cellid="0" mode="strict" nodeset="0"/>`,
		`<memnode cellid="1" mode="strict" nodeset="1"/>`,
		`<cell id="0" cpus="0-1" memory="1048576"/>`,
		`<cell id="1" cpus="2-3" memory="1048576"/>`,
		"sockets=4 cores=1 threads=1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestFitDedicatedOnSplitHost(t *testing.T) {
	code, out, errOut := run(t, "fit", "--json", "--host", "../../examples/host-2node-split.json", "--flavor", "../../examples/ded2-require.json")
	if code != exitOK || !strings.Contains(out, `"fits": true`) || !strings.Contains(out, `"id": 1`) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestFitRefusals(t *testing.T) {
	asym := writeFile(t, "f.json", `{"vcpus": 3, "memory_mb": 2048, "extra_specs": {"hw:numa_nodes": "2"}}`)
	code, out, _ := run(t, "fit", "--host", "../../examples/host-2node.json", "--flavor", asym)
	if code != exitFailed || !strings.Contains(out, "ImageNUMATopologyAsymmetric") {
		t.Errorf("asymmetric split: exit %d\n%s", code, out)
	}
	big := writeFile(t, "f.json", `{"vcpus": 4, "memory_mb": 8192, "extra_specs": {"hw:numa_nodes": "2"}}`)
	code, out, _ = run(t, "fit", "--host", "../../examples/host-2node.json", "--flavor", big)
	if code != exitFailed || !strings.Contains(out, "NoValidHost") {
		t.Errorf("too big: exit %d\n%s", code, out)
	}
}

func TestFitBadInputNamesFileAndField(t *testing.T) {
	typo := writeFile(t, "flavor.json", `{"vcpus": 2, "memory_mb": 512, "extra_spec": {}}`)
	code, _, errOut := run(t, "fit", "--host", "../../examples/host-2node.json", "--flavor", typo)
	if code != exitBadInput || !strings.Contains(errOut, typo) || !strings.Contains(errOut, "extra_spec") {
		t.Errorf("unknown field: exit %d, %q", code, errOut)
	}
	badSet := writeFile(t, "host.json", `{"host_topology": {"cells": [{"id": 0, "memory": 1024, "cpuset": [0]}]}, "conf": {"cpu_shared_set": "3-1"}}`)
	code, _, errOut = run(t, "fit", "--host", badSet, "--flavor", "../../examples/plain.json")
	if code != exitBadInput || !strings.Contains(errOut, "conf.cpu_shared_set") {
		t.Errorf("bad cpu_shared_set: exit %d, %q", code, errOut)
	}
	code, _, _ = run(t, "fit", "--flavor", "../../examples/plain.json")
	if code != exitBadInput {
		t.Errorf("missing --host: exit %d", code)
	}
	// Wrong types name the field and what was expected, not Go's types.
	for doc, want := range map[string]string{
		`{"vcpus": 4, "memory_mb": 2048, "extra_specs": {"hw:numa_nodes": 2}}`: `:1: extra_specs: want a string (quote numbers: "2"), got a number`,
		"{\n  \"vcpus\": \"four\"\n}":                                          ":2: vcpus: want an integer, got a string",
	} {
		f := writeFile(t, "flavor.json", doc)
		code, _, errOut := run(t, "fit", "--host", "../../examples/host-2node.json", "--flavor", f)
		if code != exitBadInput || !strings.Contains(errOut, f+want) || strings.Contains(errOut, "Go struct") {
			t.Errorf("%s: exit %d, %q; want %q", doc, code, errOut, f+want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errOut := run(t, "frobnicate"); code != exitBadInput || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

func TestSweepNeedsCloud(t *testing.T) {
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_AUTH_URL", "")
	code, _, errOut := run(t, "sweep")
	if code != exitBadInput || !strings.Contains(errOut, "--cloud") || !strings.Contains(errOut, "OS_CLOUD") {
		t.Errorf("no cloud: exit %d, %q", code, errOut)
	}
}

func TestSweepMissingCloudGivesConnectError(t *testing.T) {
	yaml := writeFile(t, "clouds.yaml", "clouds:\n  other:\n    auth:\n      auth_url: http://127.0.0.1:1/v3\n")
	t.Setenv("OS_CLIENT_CONFIG_FILE", yaml)
	for _, args := range [][]string{{"sweep", "--cloud", "nosuch"}, {"sweep"}} {
		t.Setenv("OS_CLOUD", "nosuch")
		code, out, errOut := run(t, args...)
		if code != exitBadInput || out != "" {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
		// The ConnectError names the cloud, the file and the entries present.
		for _, want := range []string{`"nosuch"`, yaml, "other"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: error should mention %s; observed %q", args, want, errOut)
			}
		}
	}
}

func TestSweepBadFlags(t *testing.T) {
	t.Setenv("OS_CLOUD", "local")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--bogus"}, "bogus"},
		{[]string{"sweep", "extra"}, "extra"},
		{[]string{"sweep", "--run", "numa-conformance-blank"}, "8 lowercase hex"},
		{[]string{"sweep", "--run", "DEADBEEF"}, "8 lowercase hex"},
		{[]string{"sweep", "--timeout", "0s"}, "--timeout"},
		{[]string{"sweep", "--timeout", "soon"}, "soon"},
	} {
		code, _, errOut := run(t, tc.args...)
		if code != exitBadInput || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: expected exit %d mentioning %q, observed exit %d, %q", tc.args, exitBadInput, tc.want, code, errOut)
		}
	}
}

// TestSweepLive leaves a flavor behind as a killed run would, then runs
// the dry run (which must list it and delete nothing) and --run --delete
// (which must delete it). It deletes only its own run: other runs may be
// in flight on the same cloud.
func TestSweepLive(t *testing.T) {
	if os.Getenv("OS_CLIENT_CONFIG_FILE") == "" {
		if os.Getenv("NUMA_REQUIRE_CLOUD") == "1" {
			t.Fatal("NUMA_REQUIRE_CLOUD=1 but OS_CLIENT_CONFIG_FILE is not set")
		}
		t.Skip("OS_CLIENT_CONFIG_FILE is not set (point it at the local cloud's clouds.yaml to run)")
	}
	const cloud = "local"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := openstack.Connect(ctx, cloud)
	if err != nil {
		if os.Getenv("NUMA_REQUIRE_CLOUD") == "1" {
			t.Fatal(err)
		}
		t.Skipf("cloud %q not usable: %v", cloud, err)
	}
	r, err := c.NewRun(openstack.RunSpec{ID: openstack.NewRunID(), Register: func(func(context.Context) error) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.DeleteLeftovers(context.Background(), r.ID, openstack.DefaultDeleteTimeout) })
	f, err := r.CreateFlavor(ctx, openstack.FlavorSpec{Name: "cli-sweep", VCPUs: 1, RAMMB: 256, DiskGB: 1})
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := run(t, "sweep", "--cloud", cloud)
	if code != exitOK || !strings.Contains(out, "run "+r.ID+": would delete 1\n") || !strings.Contains(out, f.Name+" ("+f.ID+")") || !strings.HasPrefix(lastLine(out), "dry run: nothing deleted; pass --delete") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	if l, err := c.FindLeftovers(ctx, r.ID); err != nil || l.Count() != 1 {
		t.Fatalf("after the dry run: expected flavor %s still there, observed %v (err=%v)", f.ID, l, err)
	}

	code, out, errOut = run(t, "sweep", "--cloud", cloud, "--run", r.ID, "--delete")
	if code != exitOK || !strings.Contains(out, "run "+r.ID+": deleted 1 ") || !strings.Contains(out, f.ID) {
		t.Fatalf("--delete: exit %d\n%s%s", code, out, errOut)
	}
	t.Logf("--delete output:\n%s", out)
	if l, err := c.FindLeftovers(ctx, r.ID); err != nil || !l.Empty() {
		t.Fatalf("after --delete: expected nothing of run %s, observed %v (err=%v)", r.ID, l, err)
	}
	code, out, _ = run(t, "sweep", "--cloud", cloud, "--run", r.ID)
	if code != exitOK || !strings.Contains(out, "no leftovers") {
		t.Errorf("after --delete, dry run of run %s: exit %d\n%s", r.ID, code, out)
	}
}

// validate checks the configuration, the fixtures and the cloud entry
// offline and lists every problem, each naming its file and line.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	clouds := filepath.Join(dir, "clouds.yaml")
	_ = os.WriteFile(clouds, []byte("clouds:\n  lab:\n    auth: {auth_url: 'http://127.0.0.1:1/v3', username: u, password: p, project_name: p, user_domain_name: Default, project_domain_name: Default}\n"), 0o644)
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_AUTH_URL", "")
	good := filepath.Join(dir, "harness.yaml")
	_ = os.WriteFile(good, []byte("cloud: lab\nhosts:\n  c1: {uri: 'qemu+tcp://c1/system'}\n"), 0o644)
	code, out, _ := run(t, "validate", "--config", good, "--fixtures", "../../fixtures/flavors")
	if code != exitOK || !strings.Contains(out, "ok: cloud lab") || lastLine(out) != "validate: no problems" {
		t.Fatalf("a valid set-up: exit %d\n%s", code, out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("cloud: lan\ntimeouts: {boot: soon}\nhosts:\n  c1: {uri: 'qemu+tcp://c1/system', cpu_shared_set: 'x'}\n"), 0o644)
	fx := filepath.Join(dir, "fixtures")
	_ = os.MkdirAll(fx, 0o755)
	_ = os.WriteFile(filepath.Join(fx, "f.yaml"), []byte("fixtures:\n  - name: a\n    flavor: {vcpus: four, ram_mb: 1}\n    expect: {outcome: fits}\n"), 0o644)
	code, out, _ = run(t, "validate", "--config", bad, "--fixtures", fx)
	for _, want := range []string{
		bad + `:2: timeouts.boot: "soon": want a positive duration`,
		bad + ":4: host c1: cpu_shared_set",
		`no entry "lan" under clouds:; entries present: [lab]`,
		filepath.Join(fx, "f.yaml") + `:3: fixture a: flavor.vcpus: want an integer, got "four"`,
		"validate: 4 problems",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code != exitFailed {
		t.Errorf("exit %d; want %d\n%s", code, exitFailed, out)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := run(t, args...)
		if code != exitOK || !strings.HasPrefix(out, "numa-conformance ") || !strings.Contains(out, "go1.") {
			t.Errorf("%v: exit %d, %q", args, code, out)
		}
	}
}
