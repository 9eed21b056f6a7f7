package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/audit"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
)

// exitCannotTell is audit's status when nothing differs but some servers
// could not be checked.
const exitCannotTell = 3

func runAudit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cloud := fs.String("cloud", os.Getenv("OS_CLOUD"), "clouds.yaml entry (default $OS_CLOUD); admin credentials")
	config := fs.String("config", envOr("NUMA_HARNESS_CONFIG", "harness.yaml"), "harness configuration: how to reach each compute host's libvirt (default $NUMA_HARNESS_CONFIG or harness.yaml)")
	ids := fs.String("servers", "", "comma-separated server IDs to audit")
	all := fs.Bool("all", false, "audit every server of every project")
	host := fs.String("host", "", "only servers on this compute host")
	perHost := fs.Int("per-host", 2, "servers checked at once per compute host")
	out := fs.String("json", "", "also write the report as JSON to this file")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long (the report so far is still written)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance audit [--cloud NAME] [--config FILE] (--servers ID,... | --all) [--host HOST] [--json FILE]")
		fmt.Fprintln(stderr, "\nChecks servers that already exist: for each server with a NUMA-relevant flavor or image,")
		fmt.Fprintln(stderr, "rebuilds the domain Nova's libvirt driver must have written from what Nova recorded (the")
		fmt.Fprintln(stderr, "server's flavor and image, its topology from the server topology API) and compares it with")
		fmt.Fprintln(stderr, "the live domain read over read-only libvirt. It never creates, changes or deletes anything,")
		fmt.Fprintln(stderr, "in OpenStack or on a host. Per server: conforms, differs (with the differences) or cannot-tell")
		fmt.Fprintln(stderr, "(and why). Progress goes to stderr. Exit status: 0 all conform, 1 something differs, 2 bad")
		fmt.Fprintln(stderr, "input or no cloud, 3 nothing differs but some servers could not be checked.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() > 0 {
		return badInput(stderr, "audit", fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if (*ids == "") == !*all {
		return badInput(stderr, "audit", errors.New("name servers with --servers ID,... or ask for --all (not both)"))
	}
	if *perHost < 1 {
		return badInput(stderr, "audit", fmt.Errorf("--per-host %d: want at least 1", *perHost))
	}
	cfg, err := harness.LoadConfig(*config)
	if err != nil {
		return badInput(stderr, "audit", err)
	}
	ctx, cancel := interruptible(*timeout)
	defer cancel()
	env, unreachable, err := harness.PreflightReachable(ctx, cfg, *cloud)
	if err != nil {
		return badInput(stderr, "audit", err)
	}
	defer env.Close()
	for h, err := range unreachable {
		fmt.Fprintf(stderr, "audit: host %s unreachable, its servers cannot be checked: %v\n", h, err)
	}
	var list []string
	for _, id := range strings.Split(*ids, ",") {
		if id = strings.TrimSpace(id); id != "" {
			list = append(list, id)
		}
	}
	rep, err := audit.Run(ctx, env, unreachable, audit.Options{Servers: list, All: *all, Host: *host, PerHost: *perHost, Progress: stderr})
	if err != nil {
		return badInput(stderr, "audit", err)
	}
	printAudit(stdout, rep)
	if *out != "" {
		data, err := json.MarshalIndent(rep, "", "  ")
		if err == nil {
			err = os.WriteFile(*out, append(data, '\n'), 0o644)
		}
		if err != nil {
			return badInput(stderr, "audit", fmt.Errorf("writing %s: %w", *out, err))
		}
		fmt.Fprintf(stdout, "report: %s\n", *out)
	}
	switch {
	case rep.Counts[string(audit.Differs)] > 0:
		return exitFailed
	case rep.Counts[string(audit.CannotTell)] > 0:
		return exitCannotTell
	}
	return exitOK
}

func printAudit(w io.Writer, rep *audit.Report) {
	for _, s := range rep.Servers {
		fmt.Fprintf(w, "%-12s %s %s on %s", s.Verdict, s.ID, s.Name, s.Host)
		if s.Reason != "" {
			fmt.Fprintf(w, ": %s", s.Reason)
		}
		fmt.Fprintln(w)
		for _, d := range s.Diffs {
			fmt.Fprintf(w, "    %s: expected %s, observed %s\n", d.Path, d.Expected, d.Observed)
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "    note: %s\n", n)
		}
	}
	fmt.Fprintf(w, "audit: %d conform, %d differ, %d cannot tell, %d without NUMA settings skipped",
		rep.Counts[string(audit.Conforms)], rep.Counts[string(audit.Differs)], rep.Counts[string(audit.CannotTell)], rep.Skipped)
	if rep.Interrupted {
		fmt.Fprint(w, " (interrupted: partial report)")
	}
	fmt.Fprintln(w)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
