package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
)

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", envOr("NUMA_HARNESS_CONFIG", "harness.yaml"), "harness configuration (default $NUMA_HARNESS_CONFIG, else harness.yaml)")
	fixtureDir := fs.String("fixtures", "", "fixture directory to check (default: none)")
	cloud := fs.String("cloud", os.Getenv("OS_CLOUD"), "clouds.yaml entry (default $OS_CLOUD, else the configuration's cloud:, else the openrc variables)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance validate [--config FILE] [--fixtures DIR] [--cloud NAME]")
		fmt.Fprintln(stderr, "\nChecks offline, without contacting the cloud or any host, everything a run reads: the")
		fmt.Fprintln(stderr, "harness configuration, the fixtures, and the clouds.yaml entry (or openrc variables).")
		fmt.Fprintln(stderr, "Prints every problem found, each naming its file, line and key.")
		fmt.Fprintln(stderr, "Exit status: 0 all valid, 1 problems found, 2 bad flags.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if fs.NArg() > 0 {
		return badInput(stderr, "validate", fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	var problems []error
	cfg, err := harness.LoadConfig(*config)
	if err != nil {
		problems = append(problems, flatten(err)...)
	} else {
		fmt.Fprintf(stdout, "ok: %s: %d compute hosts\n", cfg.File, len(cfg.Hosts))
	}
	name := *cloud
	if name == "" && cfg != nil {
		name = cfg.Cloud
	}
	if name == "" && cfg == nil {
		name = cloudKey(*config) // the rest may be wrong; the entry can still be checked
	}
	if name == "" && cfg == nil && os.Getenv("OS_AUTH_URL") == "" {
		fmt.Fprintln(stdout, "not checked: the cloud (the configuration names it, and it did not load; or pass --cloud)")
	} else if err := openstack.CheckConfig(name); err != nil {
		problems = append(problems, err)
	} else if name != "" {
		fmt.Fprintf(stdout, "ok: cloud %s\n", name)
	} else {
		fmt.Fprintln(stdout, "ok: cloud from the openrc variables (OS_AUTH_URL ...)")
	}
	if *fixtureDir != "" {
		fxs, err := fixtures.LoadDir(*fixtureDir)
		if err != nil {
			problems = append(problems, flatten(err)...)
		} else {
			fmt.Fprintf(stdout, "ok: %s: %d fixtures\n", *fixtureDir, len(fxs))
		}
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, "error:", p)
	}
	switch len(problems) {
	case 0:
		fmt.Fprintln(stdout, "validate: no problems")
	case 1:
		fmt.Fprintln(stdout, "validate: 1 problem")
	default:
		fmt.Fprintf(stdout, "validate: %d problems\n", len(problems))
	}
	if len(problems) > 0 {
		return exitFailed
	}
	return exitOK
}

// cloudKey is the cloud: of a configuration that does not load as a
// whole, read leniently; "" when it cannot be read.
func cloudKey(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var doc struct {
		Cloud string `yaml:"cloud"`
	}
	_ = yaml.Unmarshal(data, &doc)
	return doc.Cloud
}

// flatten lists the errors an errors.Join holds, each on its own.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}
