package constraints_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
	"github.com/numa-conformance/numa-conformance/pkg/vectors/replay"
)

// ours lists the Nova functions this package implements.
var ours = map[string]bool{
	vectors.FuncGetConstraints: true, vectors.FuncCPUPolicy: true, vectors.FuncRealtimeCPUs: true,
	vectors.FuncPageSize: true, vectors.FuncDesirableCPUTopologies: true, vectors.FuncBestCPUTopology: true,
}

// TestVectors replays, through the comparison the CLI uses, the public
// vectors and testdata/nova_differential.json: inputs chosen to reach every
// branch (broken values included) and the data-driven cases of Nova's own
// test_hardware.py, each run through Nova 26.2.2 itself (see
// testdata/gen/README.md).
func TestVectors(t *testing.T) {
	for _, file := range []string{vectors.PublicFile(), filepath.Join("testdata", "nova_differential.json")} {
		f, err := vectors.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, v := range f.Vectors {
			if !ours[v.Function] {
				continue
			}
			seen[v.Function]++
			t.Run(filepath.Base(file)+"/"+v.ID, func(t *testing.T) {
				o, err := replay.Run(v)
				if err != nil {
					t.Fatal(err)
				}
				if !o.Pass {
					t.Errorf("%s (%s)\nexpected: %s\ngot:      %s\n%s", v.Function, v.Origin.Test, o.Expected, o.Got, o.Detail)
				}
			})
		}
		for fn := range ours {
			if seen[fn] == 0 {
				t.Errorf("%s: no vector for %s", file, fn)
			}
		}
	}
}

// TestPageSizeTruncatesLikeACell checks PageSize against Nova's exact value:
// an instance cell stores the page size as an integer, so "1.5KB" (1.5 KiB
// from _get_numa_pagesize_constraint) becomes 1.
func TestPageSizeTruncatesLikeACell(t *testing.T) {
	f, err := vectors.Load(filepath.Join("testdata", "nova_differential.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range f.ByFunction(vectors.FuncPageSize) {
		var in struct {
			Flavor topology.Flavor     `json:"flavor"`
			Image  topology.ImageProps `json:"image_props"`
		}
		if err := json.Unmarshal(v.Input, &in); err != nil {
			t.Fatal(err)
		}
		exact, ok, err := constraints.PageSizeValue(in.Flavor, in.Image)
		if err != nil || !ok {
			continue
		}
		if got, err := constraints.PageSize(in.Flavor, in.Image); err != nil || got != int(exact) {
			t.Errorf("%s: PageSize = %d, %v; want %d (Nova's %v truncated)", v.ID, got, err, int(exact), exact)
		}
	}
}
