package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
)

func runInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cloud := fs.String("cloud", os.Getenv("OS_CLOUD"), "clouds.yaml entry (default $OS_CLOUD; empty: the openrc variables)")
	tmpl := fs.String("uri-template", "qemu+ssh://nova@{host}/system", "each host's libvirt URI, {host} standing for its name")
	out := fs.String("o", "harness.yaml", "file to write (- for standard output); an existing file is not overwritten")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on the whole command")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance init [--cloud NAME] [--uri-template URI] [-o FILE]")
		fmt.Fprintln(stderr, "\nWrites a harness configuration from what the cloud says: its nova-compute hosts, their")
		fmt.Fprintln(stderr, "placement inventories and, where reachable, their libvirt (read-only). What no API shows")
		fmt.Fprintln(stderr, "(a host's cpu_shared_set and cpu_dedicated_set) is left as '? (N CPUs)' to fill in.")
		fmt.Fprintln(stderr, "Exit status: 0 written, 2 bad input or the cloud could not be read.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() > 0 {
		return badInput(stderr, "init", fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *out != "-" {
		if _, err := os.Stat(*out); err == nil {
			return badInput(stderr, "init", fmt.Errorf("-o %s: the file exists; move it away or name another", *out))
		}
	}
	ctx, cancel := interruptible(*timeout)
	defer cancel()
	c, err := openstack.Connect(ctx, *cloud)
	if err != nil {
		return badInput(stderr, "init", err)
	}
	facts, err := harness.GatherHostFacts(ctx, c, *tmpl)
	if err != nil {
		return badInput(stderr, "init", err)
	}
	name := c.Name
	if name == openstack.EnvSource {
		name = "" // the openrc variables: no clouds.yaml entry to name
	}
	data, err := harness.DraftConfig(harness.DraftInput{Cloud: name, URITemplate: *tmpl, Hosts: facts})
	if err != nil {
		return badInput(stderr, "init", err)
	}
	if *out == "-" {
		_, _ = stdout.Write(data)
		return exitOK
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return badInput(stderr, "init", err)
	}
	fmt.Fprintf(stdout, "init: wrote %s (%d compute hosts); fill in what it marks '?', then: numa-conformance validate --config %s\n", *out, len(facts), *out)
	return exitOK
}
