package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/numa-conformance/numa-conformance/pkg/report"
)

func runReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the HTML here (default DIR/report.html)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance report [-o FILE] DIR")
		fmt.Fprintln(stderr, "\nRenders a run's report directory (reports/<time>-<run ID>/: run.json,")
		fmt.Fprintln(stderr, "ginkgo.json, evidence/) as one self-contained HTML page and prints its path.")
		fmt.Fprintln(stderr, "Exit status: 0 written, 2 unreadable report directory or unwritable output.")
		fs.PrintDefaults()
	}
	// Accept the directory before or after -o.
	var dirs []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitBadInput
		}
		if fs.NArg() == 0 {
			break
		}
		dirs = append(dirs, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(dirs) != 1 {
		fs.Usage()
		return exitBadInput
	}
	dir := dirs[0]
	r, err := report.Load(dir)
	if err != nil {
		return badInput(stderr, "report", err)
	}
	path := *out
	if path == "" {
		path = filepath.Join(dir, "report.html")
	}
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, r); err != nil {
		return badInput(stderr, "report", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return badInput(stderr, "report", err)
	}
	fmt.Fprintln(stdout, path)
	return exitOK
}
