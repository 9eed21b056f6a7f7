package main

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/differential"
	"github.com/numa-conformance/numa-conformance/pkg/oracle"
)

func runBench(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cases := fs.Int("cases", 3000, "random cases to time, spread over all functions")
	seed := fs.Uint64("seed", 1, "generator seed")
	scaling := fs.Int("scaling-cases", 20, "fit_host cases per host size in the growth table")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance bench [--cases N] [--seed S]")
		fmt.Fprintln(stderr, "\nTimes the same generated cases in Nova's Python code (through the oracle) and in")
		fmt.Fprintln(stderr, "the Go fitter, in process on both sides (process start and input decoding")
		fmt.Fprintln(stderr, "excluded), and prints per-function medians and the ratio, then how the cost of a")
		fmt.Fprintln(stderr, "fit that fails grows with the number of host cells.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return exitBadInput
	}
	ctx, cancel := interruptible(30 * time.Minute)
	defer cancel()
	// One oracle process, so Nova's timings are not disturbed by a sibling
	// process competing for the same core.
	judge, err := oracle.Start(ctx, oracle.Options{})
	if err != nil {
		return badInput(stderr, "bench", fmt.Errorf("starting the Nova oracle: %w (run oracle/install.sh)", err))
	}
	defer judge.Close()
	h := judge.Hello()
	fmt.Fprintf(stdout, "Nova %s (Python %s) vs Go fitter (%s), %s/%s, %d CPUs\n",
		h.NovaVersion, h.Python, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())

	names, groups := differential.NewGenerator(*seed).ByFunction(*cases)
	timings, err := differential.Bench(ctx, judge, names, groups)
	if err != nil {
		return badInput(stderr, "bench", err)
	}
	fmt.Fprintln(stdout, "\nper function (median per case):")
	printTimings(stdout, timings, func(s string) string { return s[strings.LastIndex(s, ":")+1:] })

	sizes := []int{1, 2, 4, 8, 16}
	scale := map[string][]differential.Case{}
	var labels []string
	for _, n := range sizes {
		l := fmt.Sprintf("%2d host cells, guest of %d cells, no fit", n, min(n, 4))
		labels = append(labels, l)
		scale[l] = differential.ScalingCases(n, *scaling)
	}
	growth, err := differential.Bench(ctx, judge, labels, scale)
	if err != nil {
		return badInput(stderr, "bench", err)
	}
	fmt.Fprintln(stdout, "\ngrowth with host size (numa_fit_instance_to_host, dedicated guest that fits nowhere):")
	printTimings(stdout, growth, func(s string) string { return s })
	for _, t := range append(timings, growth...) {
		if t.Mismatches > 0 {
			fmt.Fprintf(stdout, "\n%d cases of %s gave different results: the timings above compare different answers\n", t.Mismatches, t.Group)
			return exitFailed
		}
	}
	return exitOK
}

func printTimings(w io.Writer, ts []differential.Timing, label func(string) string) {
	fmt.Fprintf(w, "  %-46s %6s %12s %12s %9s\n", "", "cases", "Nova", "Go", "ratio")
	for _, t := range ts {
		fmt.Fprintf(w, "  %-46s %6d %12s %12s %8.0fx\n", label(t.Group), t.Cases, dur(t.NovaNS), dur(t.GoNS), t.Ratio())
	}
}

func dur(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
