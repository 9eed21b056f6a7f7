package replay

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// TestPublicVectors is the project's main conformance gate for the fitter:
// every fact recorded from Nova 26.2.2 must be reproduced.
func TestPublicVectors(t *testing.T) {
	f, err := vectors.Load(vectors.PublicFile())
	if err != nil {
		t.Fatal(err)
	}
	perFunction := map[string]int{}
	for _, v := range f.Vectors {
		perFunction[v.Function]++
		t.Run(v.ID, func(t *testing.T) {
			o, err := Run(v)
			if err != nil {
				t.Fatal(err)
			}
			if !o.Pass {
				t.Errorf("%s (%s)\nexpected: %s\ngot:      %s\ndetail:   %s", v.Function, v.Origin.Test, o.Expected, o.Got, o.Detail)
			}
		})
	}
	for _, fn := range Functions() {
		if perFunction[fn] == 0 {
			t.Errorf("no public vector exercises %s", fn)
		}
	}
}

// TestReleaseVectors replays the facts recorded from Nova 31.0.0, 33.0.2
// and 34.0.0's own unit tests, each under the profile its nova_version
// names (no fallback: the version must be one the profiles know exactly).
func TestReleaseVectors(t *testing.T) {
	for _, file := range vectors.ReleaseFiles() {
		f, err := vectors.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Vectors) < 200 {
			t.Fatalf("%s: %d vectors; the recorded sets hold over 200", file, len(f.Vectors))
		}
		for _, v := range f.Vectors {
			t.Run(v.ID, func(t *testing.T) {
				if _, warn, err := nova.ProfileFor(v.NovaVersion); err != nil || warn != "" || v.NovaVersion == "" {
					t.Fatalf("nova_version %q: %q, %v; want an exact known release", v.NovaVersion, warn, err)
				}
				o, err := Run(v)
				if err != nil {
					t.Fatal(err)
				}
				if !o.Pass {
					t.Errorf("%s (%s, Nova %s)\nexpected: %s\ngot:      %s\ndetail:   %s", v.Function, v.Origin.Test, v.NovaVersion, o.Expected, o.Got, o.Detail)
				}
			})
		}
	}
}

// TestWrongResultFails proves the comparison can fail: a vector whose
// recorded result is altered (one memory size, or one CPU list in an XML
// fragment) must not pass.
func TestWrongResultFails(t *testing.T) {
	f, err := vectors.Load(vectors.PublicFile())
	if err != nil {
		t.Fatal(err)
	}
	altered := 0
	for _, v := range f.Vectors {
		if v.Expect.Error != "" {
			continue
		}
		var x any
		if err := json.Unmarshal(v.Expect.Result, &x); err != nil {
			t.Fatal(err)
		}
		if !alter(x) {
			continue
		}
		bad := v
		bad.Expect.Result, _ = json.Marshal(x)
		o, err := Run(bad)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		altered++
		if o.Pass {
			t.Errorf("%s passed with an altered expectation: %s", v.ID, bad.Expect.Result)
		}
	}
	if altered < 50 {
		t.Fatalf("only %d vectors could be altered", altered)
	}
}

// alter changes the first memory size or XML cpuset it finds in place.
func alter(x any) bool {
	switch x := x.(type) {
	case map[string]any:
		for _, k := range []string{"memory", "cputune_xml", "cpu_numa_xml", "memory_backing_xml"} {
			switch val := x[k].(type) {
			case float64:
				x[k] = val + 1
				return true
			case string:
				if r := strings.Replace(val, `cpuset="`, `cpuset="63,`, 1); r != val {
					x[k] = r
					return true
				}
				if r := strings.Replace(val, `size="2048"`, `size="1048576"`, 1); r != val {
					x[k] = r
					return true
				}
			}
		}
		for _, k := range []string{"cells", "result"} {
			if alter(x[k]) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if alter(e) {
				return true
			}
		}
	}
	return false
}

func TestErrorClassMismatchFails(t *testing.T) {
	v := vectors.Vector{
		ID: "x", Function: vectors.FuncGetConstraints,
		Input:  json.RawMessage(`{"flavor":{"vcpus":3,"memory_mb":2048,"extra_specs":{"hw:numa_nodes":"2"}},"image_props":{}}`),
		Expect: vectors.Expect{Error: "ImageNUMATopologyForbidden"},
	}
	o, err := Run(v)
	if err != nil {
		t.Fatal(err)
	}
	if o.Pass || o.Got != "error: ImageNUMATopologyAsymmetric" {
		t.Errorf("got %+v, want a failure naming ImageNUMATopologyAsymmetric", o)
	}
}

func TestBadInputIsNamed(t *testing.T) {
	_, err := Run(vectors.Vector{ID: "v1", Function: vectors.FuncFitHost, Input: json.RawMessage(`{"host_topology": 3}`), Expect: vectors.Expect{Result: json.RawMessage("null")}})
	if err == nil || !strings.Contains(err.Error(), "v1") {
		t.Errorf("got %v, want an error naming vector v1", err)
	}
	_, err = Run(vectors.Vector{ID: "v2", Function: "nova/nowhere.py:f", Input: json.RawMessage(`{}`)})
	if err == nil || !strings.Contains(err.Error(), "unknown function") {
		t.Errorf("got %v, want unknown function", err)
	}
}

// TestInputMutationFails proves the no-mutation check can fail: a call that
// changes its decoded input does not pass, whatever it returns.
func TestInputMutationFails(t *testing.T) {
	in := &struct{ Memory int }{Memory: 1024}
	o := unchanged(in, func() outcome {
		in.Memory = 2048
		pass := true
		return outcome{value: "fine", pass: &pass}
	})()
	if o.pass == nil || *o.pass || !strings.Contains(o.detail, "changed its input") {
		t.Errorf("a mutating call passed: %+v", o)
	}
	same := unchanged(in, func() outcome { pass := true; return outcome{pass: &pass} })()
	if !*same.pass {
		t.Errorf("a call that leaves its input alone failed: %+v", same)
	}
}
