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

// ReleaseFiles are the vector sets recorded from later releases' own unit
// tests, shipped in testdata; each vector names its nova_version and is
// replayed under that release's profile.
func ReleaseFiles() []string {
	dir := filepath.Dir(PublicFile())
	return []string{
		filepath.Join(dir, "nova-31.0.0-unit.json"),
		filepath.Join(dir, "nova-33.0.2-unit.json"),
		filepath.Join(dir, "nova-34.0.0-unit.json"),
	}
}
