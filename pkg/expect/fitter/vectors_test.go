package fitter_test

import (
	"path/filepath"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/vectors"
	"github.com/numa-conformance/numa-conformance/pkg/vectors/replay"
)

// TestVectors replays, through the same comparison the CLI uses, every
// fitting and usage vector: the public ones, random cases recorded from the
// real Nova 26.2.2 code (mutation across permutations, the id-keyed cache,
// CPython set order, errors), and cases recorded with the 31.3.1 versions
// of the two functions the Epoxy profile changes (their nova_version picks
// the profile). replay also fails a vector whose input the fitter changed.
func TestVectors(t *testing.T) {
	ours := map[string]bool{vectors.CategoryFitHost: true, vectors.CategoryFitCell: true, vectors.CategoryUsage: true}
	for _, file := range []string{vectors.PublicFile(), filepath.Join("testdata", "recorded-zed.json"), filepath.Join("testdata", "recorded-epoxy.json")} {
		f, err := vectors.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range f.Vectors {
			if !ours[v.Category] {
				continue
			}
			n++
			t.Run(filepath.Base(file)+"/"+v.ID, func(t *testing.T) {
				o, err := replay.Run(v)
				if err != nil {
					t.Fatal(err)
				}
				if !o.Pass {
					t.Errorf("%s (%s, Nova %s)\nexpected: %s\ngot:      %s\n%s", v.Function, v.Origin.Test, v.NovaVersion, o.Expected, o.Got, o.Detail)
				}
			})
		}
		if n == 0 {
			t.Errorf("%s: no fitting or usage vectors", file)
		}
	}
}
