package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// version describes the binary from its build information: the module
// version (set by go install MODULE@VERSION, "(devel)" in a checkout), the
// commit and its time, whether the tree had changes, and the Go release.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "numa-conformance (no build information)"
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "numa-conformance %s", bi.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(&b, " (commit %.12s", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(&b, " of %s", t)
		}
		if settings["vcs.modified"] == "true" {
			b.WriteString(", with uncommitted changes")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, ", %s", bi.GoVersion)
	return b.String()
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return badInput(stderr, "version", fmt.Errorf("unexpected arguments %q", args))
	}
	fmt.Fprintln(stdout, version())
	return exitOK
}
