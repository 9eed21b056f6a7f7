package vectors

import (
	"path/filepath"
	"runtime"
)

// PublicFile is the path of the public vector set shipped in testdata, for
// tests in any package of this module.
func PublicFile() string {
	_, here, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(here), "..", "..", "testdata", "vectors", "public.json")
}
