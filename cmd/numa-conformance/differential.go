package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/differential"
	"github.com/numa-conformance/numa-conformance/pkg/oracle"
)

func runDifferential(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("differential", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cases := fs.Int("cases", 2000, "how many random cases to generate")
	seed := fs.Uint64("seed", 1, "generator seed: the same seed gives the same cases")
	reportDir := fs.String("report-dir", "reports/differential", "where each divergence is written as a vector file")
	workers := fs.Int("workers", runtime.NumCPU(), "Nova oracle processes to run in parallel")
	verbose := fs.Bool("v", false, "also show what Nova answered, per function")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance differential [--cases N] [--seed S] [--report-dir DIR]")
		fmt.Fprintln(stderr, "\nGenerates random well-formed cases, has real Nova (Debian's python3-nova, through")
		fmt.Fprintln(stderr, "oracle/nova_oracle.py; install it with oracle/install.sh) and the Go fitter compute")
		fmt.Fprintln(stderr, "each, and compares the results exactly. Each divergence is shrunk and written as a")
		fmt.Fprintln(stderr, "vector file. Last line: 'N passed, M failed'. Exit 1 on any divergence, 2 when")
		fmt.Fprintln(stderr, "the oracle cannot start.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *cases < 1 || *workers < 1 {
		if err == nil {
			fs.Usage()
		}
		return exitBadInput
	}
	ctx, cancel := interruptible(*timeout)
	defer cancel()

	start := time.Now()
	judge, err := oracle.StartPool(ctx, oracle.Options{}, *workers)
	if err != nil {
		return badInput(stderr, "differential", fmt.Errorf("starting the Nova oracle: %w (run oracle/install.sh to install python3-nova)", err))
	}
	defer judge.Close()
	h := judge.Hello()
	fmt.Fprintf(stdout, "Nova %s (package %s, Python %s), %d oracle processes, seed %d, %d cases\n",
		h.NovaVersion, h.PackageVersion, h.Python, *workers, *seed, *cases)
	last := time.Now()
	res, err := differential.Run(ctx, judge, differential.Options{
		Cases: *cases, Seed: *seed, ReportDir: *reportDir,
		Progress: func(done, total, failed int) {
			if time.Since(last) > 5*time.Second || done == total {
				fmt.Fprintf(stderr, "  %d/%d cases, %d divergences, %.0fs\n", done, total, failed, time.Since(start).Seconds())
				last = time.Now()
			}
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "numa-conformance differential: %v\n", err)
		fmt.Fprintf(stdout, "%d passed, %d failed\n", res.Passed, res.Failed)
		return exitFailed
	}
	fns := make([]string, 0, len(res.PerFunction))
	for fn := range res.PerFunction {
		fns = append(fns, fn)
	}
	sort.Strings(fns)
	for _, fn := range fns {
		c := res.PerFunction[fn]
		fmt.Fprintf(stdout, "  %-62s %6d passed %4d failed\n", fn, c[0], c[1])
		if *verbose {
			kinds := res.NovaOutcomes[fn]
			names := make([]string, 0, len(kinds))
			for k := range kinds {
				names = append(names, k)
			}
			sort.Slice(names, func(i, j int) bool { return kinds[names[i]] > kinds[names[j]] })
			for _, k := range names {
				fmt.Fprintf(stdout, "      Nova answered %-44s %6d\n", k, kinds[k])
			}
		}
	}
	for _, d := range res.Divergences {
		fmt.Fprintf(stdout, "DIVERGENCE %s (%s), shrunk to %s\n", d.Original.ID, d.Shrunk.Function, d.Shrunk.ID)
		fmt.Fprintf(stdout, "  input:    %s\n  nova:     %s\n  go:       %s\n", d.Shrunk.Input, d.Outcome.Expected, d.Outcome.Got)
		if d.Outcome.Detail != "" {
			fmt.Fprintf(stdout, "  detail:   %s\n", d.Outcome.Detail)
		}
		if d.File != "" {
			fmt.Fprintf(stdout, "  vector:   %s\n", d.File)
		}
	}
	fmt.Fprintf(stdout, "took %.1fs\n", time.Since(start).Seconds())
	fmt.Fprintf(stdout, "%d passed, %d failed\n", res.Passed, res.Failed)
	if res.Failed > 0 {
		return exitFailed
	}
	return exitOK
}
