// Command numa-conformance checks that an OpenStack cloud places virtual
// machines on NUMA hardware exactly as Nova's own logic says it should.
//
// Subcommands:
//
//	vectors FILE...                       replay Nova test vectors through the reference fitter
//	fit --host H --flavor F [--image I]   offline what-if: where would Nova put this guest?
//	differential --cases N --seed S       the fitter against Nova's own Python code
//	bench                                 the fitter's speed against Nova's
//	sweep [--cloud C] [--delete]          list (or delete) what crashed runs left on a cloud
//	report DIR [-o FILE]                  render a run's report directory as one HTML page
//	audit (--servers ID,... | --all)      check existing servers read-only, nothing created
//	diff BEFORE AFTER                     what changed between two reports, and whether it regressed
//	init [--cloud C] [--uri-template U]   write a harness.yaml from what the cloud says
//	validate [--config F] [--fixtures D]  check the configuration, fixtures and cloud entry offline
//	version (or --version)                the binary's version and commit
//
// Run "numa-conformance help" for details.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Exit codes shared by every subcommand.
const (
	exitOK       = 0
	exitFailed   = 1 // the check ran and something did not conform (or did not fit)
	exitBadInput = 2 // the command could not run: bad flags, unreadable or invalid input
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"vectors", "replay nova-numa-vectors/1 files through the reference fitter", runVectors},
		{"fit", "offline what-if: Nova's placement and the expected libvirt XML for a flavor on a host", runFit},
		{"differential", "compare the fitter with Nova's own Python code on random cases", runDifferential},
		{"bench", "time the fitter against Nova's Python code on the same cases", runBench},
		{"sweep", "list, or with --delete remove, the servers/flavors/images crashed runs left on a cloud", runSweep},
		{"report", "render a run's report directory (reports/<time>-<run ID>/) as one HTML page", runReport},
		{"audit", "check existing servers' live domains against Nova's record, read-only", runAudit},
		{"diff", "compare two reports (suite runs or audits): changed verdicts and properties", runDiff},
		{"init", "write a harness.yaml from what the cloud says (hosts, inventories, libvirt)", runInit},
		{"validate", "check harness.yaml, fixtures and the clouds.yaml entry offline, every problem at once", runValidate},
		{"version", "the binary's version, commit and Go release (also --version)", runVersion},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		return runVersion(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return exitBadInput
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "numa-conformance: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitBadInput
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: numa-conformance COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "numa-conformance COMMAND -h" for a command's flags.`)
}

// badInput prints why a subcommand could not run and returns the exit code
// for unreadable or invalid input.
func badInput(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "numa-conformance %s: %v\n", cmd, err)
	return exitBadInput
}

// interruptible is the context of a long-running command: cancelled by
// Ctrl-C or SIGTERM, so child processes (the Nova oracle) are stopped
// cleanly, and bounded by timeout, so no run waits forever.
func interruptible(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}
