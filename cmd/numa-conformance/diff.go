package main

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/report"
)

func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance diff BEFORE AFTER")
		fmt.Fprintln(stderr, "\nCompares two reports of the same kind: suite runs (report directories, reports/<time>-<run>/)")
		fmt.Fprintln(stderr, "or audits (audit --json files), e.g. before and after an upgrade. Lists the fixtures or")
		fmt.Fprintln(stderr, "servers whose verdict changed and, for each, the properties whose observed value changed.")
		fmt.Fprintln(stderr, "Exit status: 0 nothing regressed, 1 something regressed, 2 bad input.")
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitBadInput
	}
	before, kind, err := report.LoadOutcomes(fs.Arg(0))
	if err != nil {
		return badInput(stderr, "diff", fmt.Errorf("%s: %w", fs.Arg(0), err))
	}
	after, afterKind, err := report.LoadOutcomes(fs.Arg(1))
	if err != nil {
		return badInput(stderr, "diff", fmt.Errorf("%s: %w", fs.Arg(1), err))
	}
	if kind != afterKind {
		return badInput(stderr, "diff", fmt.Errorf("%s is %s but %s is %s: compare two suite runs or two audits", fs.Arg(0), kind, fs.Arg(1), afterKind))
	}
	changes := report.Compare(kind, before, after)
	regressed := 0
	for _, c := range changes {
		mark, after := "changed", orAbsent(c.After)
		switch {
		case c.Regressed:
			mark, regressed = "REGRESSED", regressed+1
		case c.Gone:
			mark, after = "gone", "(not in the later audit: deleted, or on a host it did not cover)"
		}
		fmt.Fprintf(stdout, "%-9s %s: %s -> %s\n", mark, c.Key, orAbsent(c.Before), after)
		for _, p := range slices.Sorted(maps.Keys(c.Properties)) {
			v := c.Properties[p]
			fmt.Fprintf(stdout, "    %s: %s -> %s\n", p, orExpected(v[0]), orExpected(v[1]))
		}
	}
	fmt.Fprintf(stdout, "diff: %d of %d changed, %d regressed\n", len(changes), len(union(before, after)), regressed)
	if regressed > 0 {
		return exitFailed
	}
	return exitOK
}

func orAbsent(v string) string {
	if v == "" {
		return "(absent)"
	}
	return v
}

func orExpected(v string) string {
	if v == "" {
		return "(as expected)"
	}
	return v
}

func union(a, b report.Outcomes) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}
