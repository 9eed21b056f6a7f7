package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
}

func TestUnknownCommand(t *testing.T) {
	if code, _, errOut := run(t, "frobnicate"); code != exitBadInput || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}
