package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
	"github.com/numa-conformance/numa-conformance/pkg/vectors/replay"
)

func runVectors(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vectors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "print every vector's verdict, not only failures")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance vectors [-v] FILE...")
		fmt.Fprintln(stderr, "\nReplays nova-numa-vectors/1 files through the reference fitter. Prints each")
		fmt.Fprintln(stderr, "failing vector with the fields where our result differs from Nova's (or both")
		fmt.Fprintln(stderr, "outcomes when either is an error), then 'N passed, M failed'.")
		fmt.Fprintln(stderr, "Exit status: 0 all passed, 1 some failed, 2 unreadable or invalid input.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitBadInput
	}
	// Read every file first: a typo in the last file should not cost a
	// whole run.
	var files []*vectors.File
	for _, path := range fs.Args() {
		f, err := vectors.Load(path)
		if err != nil {
			return badInput(stderr, "vectors", err)
		}
		files = append(files, f)
	}
	passed, failed, invalid := 0, 0, 0
	warned := map[string]bool{}
	for i, f := range files {
		path := fs.Arg(i)
		for _, v := range f.Vectors {
			// A vector of a release the profiles do not know exactly is
			// replayed under the nearest rules: say so, once per version.
			if _, warn, err := nova.ProfileFor(v.NovaVersion); v.NovaVersion != "" && err == nil && warn != "" && !warned[v.NovaVersion] {
				warned[v.NovaVersion] = true
				fmt.Fprintf(stderr, "%s: warning: nova_version %s: %s\n", path, v.NovaVersion, warn)
			}
			o, err := replay.Run(v)
			if err != nil {
				invalid++
				var ie *replay.InputError
				if errors.As(err, &ie) {
					fmt.Fprintf(stderr, "%s: vector %s: invalid: %s\n", path, ie.ID, ie.Reason)
				} else {
					fmt.Fprintf(stderr, "%s: vector %s: %v\n", path, v.ID, err)
				}
				continue
			}
			if o.Pass {
				passed++
				if *verbose {
					fmt.Fprintf(stdout, "PASS %s\n", v.ID)
				}
				continue
			}
			failed++
			fmt.Fprintf(stdout, "FAIL %s (%s, %s)\n", v.ID, v.Function, v.Origin.Test)
			printDifferences(stdout, o, *verbose)
			if o.Detail != "" {
				fmt.Fprintf(stdout, "  detail:   %s\n", o.Detail)
			}
		}
	}
	if invalid > 0 {
		fmt.Fprintf(stdout, "%d passed, %d failed, %d invalid\n", passed, failed, invalid)
		return exitBadInput
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// maxFieldLines bounds the field differences printed per vector; -v
// prints them all, with both whole results.
const maxFieldLines = 20

// printDifferences shows where our result differs from Nova's: field by
// field when both are JSON results, else the two renderings (an error
// class on either side says it all), unless the runner's detail explains
// the difference (the caller prints it).
func printDifferences(w io.Writer, o replay.Outcome, verbose bool) {
	diffs := o.Differences()
	// Runners that compare semantically (XML fragments) explain in Detail.
	if verbose || len(diffs) == 0 && !o.Semantic {
		fmt.Fprintf(w, "  expected: %s\n  observed: %s\n", o.Expected, o.Got)
	}
	for i, d := range diffs {
		if i == maxFieldLines && !verbose {
			fmt.Fprintf(w, "  ... %d more differences (-v shows all)\n", len(diffs)-i)
			break
		}
		fmt.Fprintf(w, "  %s\n", d)
	}
}
