package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
)

func runSweep(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cloud := fs.String("cloud", os.Getenv("OS_CLOUD"), "clouds.yaml entry to connect to (default $OS_CLOUD)")
	run := fs.String("run", "", "sweep only this run ID (8 hex digits, as in numa-conformance-<run>-...)")
	del := fs.Bool("delete", false, "delete what is found (default: only list it)")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance sweep [--cloud NAME] [--run ID] [--delete] [--timeout 10m]")
		fmt.Fprintln(stderr, "\nFinds what crashed or killed conformance runs left on the cloud: servers (of the")
		fmt.Fprintln(stderr, "current project), flavors and images named numa-conformance-<run>-..., and servers")
		fmt.Fprintln(stderr, "whose numa-conformance-run metadata names a run. Shared resources such as the")
		fmt.Fprintln(stderr, "numa-conformance-blank image never match. Without --delete it only lists them, per")
		fmt.Fprintln(stderr, "run; with --delete it deletes them, servers first, and waits until each is gone.")
		fmt.Fprintln(stderr, "Exit status: 0 nothing failed, 1 a deletion failed, 2 bad flags or the cloud could")
		fmt.Fprintln(stderr, "not be reached or listed.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() > 0 {
		return badInput(stderr, "sweep", fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *cloud == "" && os.Getenv("OS_AUTH_URL") == "" {
		return badInput(stderr, "sweep", errors.New("no cloud: pass --cloud NAME, set OS_CLOUD, or source an openrc file (OS_AUTH_URL, ...)"))
	}
	if *run != "" && !openstack.IsRunID(*run) {
		return badInput(stderr, "sweep", fmt.Errorf("--run %q: expected a run ID of 8 lowercase hex digits (the <run> of numa-conformance-<run>-...)", *run))
	}
	if *timeout <= 0 {
		return badInput(stderr, "sweep", fmt.Errorf("--timeout %s: expected a positive duration", *timeout))
	}
	ctx, cancel := interruptible(*timeout)
	defer cancel()

	c, err := openstack.Connect(ctx, *cloud)
	if err != nil {
		return badInput(stderr, "sweep", err)
	}
	var byRun map[string]*openstack.Leftovers
	if *run != "" {
		l, err := c.FindLeftovers(ctx, *run)
		if err != nil {
			return badInput(stderr, "sweep", err)
		}
		byRun = map[string]*openstack.Leftovers{}
		if !l.Empty() {
			byRun[*run] = l
		}
	} else if byRun, err = c.FindAllLeftovers(ctx); err != nil {
		return badInput(stderr, "sweep", err)
	}

	runs := make([]string, 0, len(byRun))
	total := 0
	for id, l := range byRun {
		runs = append(runs, id)
		total += l.Count()
	}
	sort.Strings(runs)
	if total == 0 {
		fmt.Fprintf(stdout, "cloud %q: no leftovers\n", c.Name)
		return exitOK
	}
	fmt.Fprintf(stdout, "cloud %q: %s left by %s\n", c.Name, plural(total, "resource"), plural(len(runs), "run"))
	if !*del {
		for _, id := range runs {
			fmt.Fprintf(stdout, "run %s: would delete %d\n", id, byRun[id].Count())
			printLeftovers(stdout, byRun[id])
		}
		fmt.Fprintf(stdout, "dry run: nothing deleted; pass --delete to delete %s\n", plural(total, "resource"))
		return exitOK
	}

	code := exitOK
	for _, id := range runs {
		l := byRun[id]
		start := time.Now()
		// DeleteLeftovers lists the run again, so a resource that vanished
		// since the listing above is not an error, and one that appeared
		// is deleted too.
		if err := c.DeleteLeftovers(ctx, id, *timeout); err != nil {
			fmt.Fprintf(stderr, "numa-conformance sweep: run %s: %v\n", id, err)
			fmt.Fprintf(stdout, "run %s: FAILED to delete all of:\n", id)
			printLeftovers(stdout, l)
			code = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "run %s: deleted %d in %.1fs\n", id, l.Count(), time.Since(start).Seconds())
		printLeftovers(stdout, l)
	}
	return code
}

// printLeftovers lists a run's resources one per line, in deletion order.
func printLeftovers(w io.Writer, l *openstack.Leftovers) {
	for _, s := range l.Servers {
		fmt.Fprintf(w, "  server %s (%s)\n", s.Name, s.ID)
	}
	for _, f := range l.Flavors {
		fmt.Fprintf(w, "  flavor %s (%s)\n", f.Name, f.ID)
	}
	for _, i := range l.Images {
		fmt.Fprintf(w, "  image  %s (%s)\n", i.Name, i.ID)
	}
}

// plural renders "1 run" / "2 runs".
func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
