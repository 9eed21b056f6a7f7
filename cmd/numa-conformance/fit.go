package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/expect/fitter"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// hostFile is what --host accepts: either a bare HOST_TOPOLOGY of the vector
// schema ({"cells": [...]}) or an object shaped like a fit_host /
// libvirt_xml vector input, which adds the limits and the compute
// configuration.
type hostFile struct {
	Cells          []topology.HostCell    `json:"cells"`
	HostTopology   *topology.HostTopology `json:"host_topology"`
	Limits         *topology.Limits       `json:"limits"`
	HostOnlineCPUs *cpuset.CPUSet         `json:"host_online_cpus"`
	Conf           computeConf            `json:"conf"`
}

// computeConf is the nova.conf of the compute host, spelled as in
// nova.conf and in libvirt_xml vectors.
type computeConf struct {
	Pack                      *bool   `json:"packing_host_numa_cells_allocation_strategy"`
	VCPUPinSet                *string `json:"vcpu_pin_set"`
	CPUSharedSet              *string `json:"cpu_shared_set"`
	CPUDedicatedSet           *string `json:"cpu_dedicated_set"`
	RealtimeSchedulerPriority *int    `json:"realtime_scheduler_priority"`
	FileBackedMemory          int     `json:"file_backed_memory"`
}

// fitReport is the --json output of fit.
type fitReport struct {
	NovaRelease  string                     `json:"nova_release"`
	Requested    *topology.InstanceTopology `json:"requested"`
	Placement    *topology.InstanceTopology `json:"placement"`
	CPUTopology  *topology.GuestCPUTopology `json:"cpu_topology,omitempty"`
	Error        string                     `json:"error,omitempty"`
	Reason       string                     `json:"reason,omitempty"`
	ExpectedXML  string                     `json:"expected_xml,omitempty"`
	VCPUCPUSet   string                     `json:"vcpu_cpuset,omitempty"`
	Fits         bool                       `json:"fits"`
	NUMARequired bool                       `json:"numa_topology_requested"`
}

func runFit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hostPath := fs.String("host", "", "host JSON: a HOST_TOPOLOGY, or {host_topology, limits, conf, host_online_cpus} (required)")
	flavorPath := fs.String("flavor", "", "flavor JSON: {vcpus, memory_mb, extra_specs} (required)")
	imagePath := fs.String("image", "", "image properties JSON: {\"hw_numa_nodes\": \"2\", ...}")
	release := fs.String("nova", "26.2.2", "Nova release whose rules apply: a version (26.2.2), Debian package version, major version (31), release number (2025.1) or name (epoxy)")
	asJSON := fs.Bool("json", false, "print a JSON report instead of text")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: numa-conformance fit --host HOST.json --flavor FLAVOR.json [--image PROPS.json] [--json]")
		fmt.Fprintln(stderr, "\nOffline what-if for operators: the guest NUMA topology Nova derives from the flavor")
		fmt.Fprintln(stderr, "and image, where Nova places it on the host, and the libvirt XML fragments the")
		fmt.Fprintln(stderr, "domain should then have. Nothing is contacted. Input files use the sub-objects of")
		fmt.Fprintln(stderr, "the nova-numa-vectors/1 schema.")
		fmt.Fprintln(stderr, "Exit status: 0 fits, 1 Nova would refuse it (error or no fit), 2 bad input.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitBadInput
	}
	if *hostPath == "" || *flavorPath == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitBadInput
	}
	profile, warning, err := nova.ProfileFor(*release)
	if err != nil {
		return badInput(stderr, "fit", err)
	}
	if warning != "" {
		fmt.Fprintln(stderr, "warning:", warning)
	}
	var hf hostFile
	var flavor topology.Flavor
	image := topology.ImageProps{}
	if err := readStrict(*hostPath, &hf); err != nil {
		return badInput(stderr, "fit", err)
	}
	if err := readStrict(*flavorPath, &flavor); err != nil {
		return badInput(stderr, "fit", err)
	}
	if *imagePath != "" {
		if err := readStrict(*imagePath, &image); err != nil {
			return badInput(stderr, "fit", err)
		}
	}
	host, cfg, pack, err := hf.resolve(*hostPath, profile)
	if err != nil {
		return badInput(stderr, "fit", err)
	}
	if flavor.VCPUs < 1 || flavor.MemoryMB < 1 {
		return badInput(stderr, "fit", fmt.Errorf("%s: vcpus and memory_mb must be positive integers, got vcpus=%d memory_mb=%d", *flavorPath, flavor.VCPUs, flavor.MemoryMB))
	}

	rep := fitReport{NovaRelease: profile.Name}
	refuse := func(err error) int {
		rep.Error = nova.ClassOf(err)
		if rep.Error == "" {
			rep.Error = "error"
		}
		rep.Reason = strings.TrimPrefix(err.Error(), rep.Error+": ")
		return printFit(stdout, rep, *asJSON, exitFailed)
	}
	cpuTopology, err := constraints.BestCPUTopology(flavor, image, true)
	if err != nil {
		return refuse(err)
	}
	rep.CPUTopology = &cpuTopology
	requested, err := constraints.Get(flavor, image)
	if err != nil {
		return refuse(err)
	}
	rep.Requested = requested
	rep.NUMARequired = requested != nil
	in := domain.Input{
		Flavor: flavor, Image: image, Host: &host, HostOnlineCPUs: hf.onlineCPUs(host),
		Config: cfg, Profile: profile,
	}
	if requested != nil {
		placed, err := fitter.FitInstance(host, *requested, hf.Limits, fitter.Options{Profile: profile, Pack: pack})
		if err != nil {
			return refuse(err)
		}
		if placed == nil {
			rep.Error = "NoValidHost"
			rep.Reason = "the guest's NUMA topology fits no permutation of the host's cells (NUMATopologyFilter refuses the host)"
			return printFit(stdout, rep, *asJSON, exitFailed)
		}
		rep.Placement = placed
		in.Instance = placed
	}
	frags, err := domain.Build(in)
	if err != nil {
		return refuse(err)
	}
	rep.Fits = true
	if frags.VCPUCPUSet != nil {
		rep.VCPUCPUSet = frags.VCPUCPUSet.String()
	}
	xml, err := frags.XML()
	if err != nil {
		return badInput(stderr, "fit", err)
	}
	rep.ExpectedXML = xml
	return printFit(stdout, rep, *asJSON, exitOK)
}

// resolve turns the host file into the fitter's and XML builder's inputs.
func (hf hostFile) resolve(path string, profile nova.Profile) (topology.HostTopology, domain.Config, bool, error) {
	var host topology.HostTopology
	switch {
	case hf.HostTopology != nil && hf.Cells != nil:
		return host, domain.Config{}, false, fmt.Errorf("%s: give either cells or host_topology, not both", path)
	case hf.HostTopology != nil:
		host = *hf.HostTopology
	default:
		host = topology.HostTopology{Cells: hf.Cells}
	}
	if len(host.Cells) == 0 {
		return host, domain.Config{}, false, fmt.Errorf("%s: no host cells: want {\"cells\": [...]} or {\"host_topology\": {\"cells\": [...]}}", path)
	}
	seen := map[int]bool{}
	for i, c := range host.Cells {
		if seen[c.ID] {
			return host, domain.Config{}, false, fmt.Errorf("%s: cells[%d]: duplicate cell id %d", path, i, c.ID)
		}
		seen[c.ID] = true
		if c.MemoryMiB <= 0 {
			return host, domain.Config{}, false, fmt.Errorf("%s: cells[%d].memory: want the cell's memory in MiB, got %d", path, i, c.MemoryMiB)
		}
		if !c.PinnedCPUs.IsSubsetOf(c.PCPUSet) {
			return host, domain.Config{}, false, fmt.Errorf("%s: cells[%d].pinned_cpus %s: not within pcpuset %s", path, i, c.PinnedCPUs, c.PCPUSet)
		}
	}
	cfg := domain.Config{RealtimeSchedulerPriority: 1, FileBackedMemory: hf.Conf.FileBackedMemory}
	if hf.Conf.RealtimeSchedulerPriority != nil {
		cfg.RealtimeSchedulerPriority = *hf.Conf.RealtimeSchedulerPriority
	}
	for _, opt := range []struct {
		name string
		val  *string
		dst  **cpuset.CPUSet
	}{
		{"vcpu_pin_set", hf.Conf.VCPUPinSet, &cfg.VCPUPinSet},
		{"cpu_shared_set", hf.Conf.CPUSharedSet, &cfg.CPUSharedSet},
		{"cpu_dedicated_set", hf.Conf.CPUDedicatedSet, &cfg.CPUDedicatedSet},
	} {
		if opt.val == nil {
			continue
		}
		// Nova's reading of the option: "" is unset, an empty list is an error.
		s, err := domain.ParseCPUListOption(opt.name, *opt.val)
		if err != nil {
			return host, cfg, false, fmt.Errorf("%s: conf.%s: %w", path, opt.name, err)
		}
		*opt.dst = s
	}
	pack := profile.PackByDefault
	if hf.Conf.Pack != nil {
		pack = *hf.Conf.Pack
	}
	return host, cfg, pack, nil
}

// onlineCPUs defaults the host's online CPUs to every CPU its cells list.
func (hf hostFile) onlineCPUs(host topology.HostTopology) cpuset.CPUSet {
	if hf.HostOnlineCPUs != nil {
		return *hf.HostOnlineCPUs
	}
	var all cpuset.CPUSet
	for _, c := range host.Cells {
		all = all.Union(c.CPUSet).Union(c.PCPUSet)
		for _, s := range c.Siblings {
			all = all.Union(s)
		}
	}
	return all
}

// readStrict decodes a JSON file, refusing unknown fields so a misspelt key
// is reported instead of silently ignored.
func readStrict(path string, into any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(data[:se.Offset], []byte("\n"))
			return fmt.Errorf("%s:%d: %v", path, line, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			line := 1 + bytes.Count(data[:min(int(te.Offset), len(data))], []byte("\n"))
			return fmt.Errorf("%s:%d: %s: want %s, got a %s", path, line, te.Field, jsonTypeWords(te.Type.Kind()), te.Value)
		}
		return fmt.Errorf("%s: %v", path, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// jsonTypeWords names what a JSON field of Go kind k must hold.
func jsonTypeWords(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return `a string (quote numbers: "2")`
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + k.String()
}

func printFit(w io.Writer, rep fitReport, asJSON bool, code int) int {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return code
	}
	fmt.Fprintf(w, "Nova rules: %s\n", rep.NovaRelease)
	if rep.CPUTopology != nil {
		t := rep.CPUTopology
		fmt.Fprintf(w, "guest <cpu><topology>: sockets=%d cores=%d threads=%d\n", t.Sockets, t.Cores, t.Threads)
	}
	if rep.Requested != nil {
		fmt.Fprintln(w, "requested guest NUMA topology:")
		describeCells(w, rep.Requested, false)
	} else if rep.Error == "" {
		fmt.Fprintln(w, "no guest NUMA topology requested: no <numa>, <numatune> or <cputune>")
	}
	if rep.Error != "" {
		fmt.Fprintf(w, "refused: %s: %s\n", rep.Error, rep.Reason)
		return code
	}
	if rep.Placement != nil {
		fmt.Fprintln(w, "placement:")
		describeCells(w, rep.Placement, true)
	}
	if rep.VCPUCPUSet != "" {
		fmt.Fprintf(w, "<vcpu cpuset=%q>\n", rep.VCPUCPUSet)
	}
	fmt.Fprintln(w, "expected libvirt XML fragments:")
	fmt.Fprintln(w, rep.ExpectedXML)
	return code
}

func describeCells(w io.Writer, t *topology.InstanceTopology, placed bool) {
	for i, c := range t.Cells {
		where := fmt.Sprintf("guest cell %d", i)
		if placed {
			where += fmt.Sprintf(" -> host cell %d", c.ID)
		}
		fmt.Fprintf(w, "  %s: vCPUs %s", where, c.VCPUs())
		if !c.PCPUSet.IsEmpty() {
			fmt.Fprintf(w, " (pinned %s)", c.PCPUSet)
		}
		fmt.Fprintf(w, ", %d MiB", c.MemoryMiB)
		switch {
		case c.PageSizeKB > 0:
			fmt.Fprintf(w, ", %d KiB pages", c.PageSizeKB)
		case c.PageSizeKB == topology.PageSizeSmall:
			fmt.Fprint(w, ", small pages")
		case c.PageSizeKB == topology.PageSizeLarge:
			fmt.Fprint(w, ", large pages")
		case c.PageSizeKB == topology.PageSizeAny:
			fmt.Fprint(w, ", any page size")
		}
		if c.CPUPolicy != "" {
			fmt.Fprintf(w, ", cpu_policy=%s", c.CPUPolicy)
		}
		if c.CPUThreadPolicy != "" {
			fmt.Fprintf(w, ", thread_policy=%s", c.CPUThreadPolicy)
		}
		fmt.Fprintln(w)
		if len(c.CPUPinning) > 0 {
			fmt.Fprint(w, "    pinning:")
			for _, v := range c.PCPUSet.Members() {
				fmt.Fprintf(w, " %d->%d", v, c.CPUPinning[v])
			}
			fmt.Fprintln(w)
		}
		if !c.CPUSetReserved.IsEmpty() {
			fmt.Fprintf(w, "    emulator threads reserved: %s\n", c.CPUSetReserved)
		}
	}
	if t.EmulatorThreadsPolicy != "" {
		fmt.Fprintf(w, "  emulator_threads_policy=%s\n", t.EmulatorThreadsPolicy)
	}
}
