// Package harness is the conformance framework the Ginkgo suites stand on:
// the harness configuration, the pre-flight checks that must pass before
// anything is created, and the run of one fixture (create, boot, read the
// domain, compute what it should be) with its evidence.
//
// It holds no Ginkgo code: suites pass a cleanup registrar and assert on
// the Result, so the same flow serves the suites, the CLI and tests.
package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/yamlstrict"
)

// Defaults for the waits of a run. A server's first boot on a nested,
// emulated compute host takes up to three minutes; production clouds are
// faster, and slower ones can set timeouts.boot.
const (
	DefaultBootTimeout   = 10 * time.Minute
	DefaultDeleteTimeout = openstack.DefaultDeleteTimeout
	DefaultImageTimeout  = 5 * time.Minute
)

// Config is the harness configuration file: which cloud, how to reach its
// compute hosts, and the host settings no API exposes.
type Config struct {
	// File is where the configuration was read from.
	File string
	// Cloud is the clouds.yaml entry; OS_CLOUD, when set, wins.
	Cloud string
	// Image names an existing image to boot fixtures without image
	// properties; empty means a blank raw image is uploaded for the run.
	Image    string
	Timeouts Timeouts
	// PackHostNUMACells is [compute]
	// packing_host_numa_cells_allocation_strategy of the compute hosts;
	// nil means the release's default.
	PackHostNUMACells *bool
	Hosts             hosts.Hosts
	// ScratchLibvirt is a libvirt URI where the harness may define (and at
	// once undefine) inactive domains: copies of live domains with one
	// property altered, to prove the checks catch them. Never a compute
	// host; empty skips those specs.
	ScratchLibvirt string
}

// Timeouts bound the waits of a run.
type Timeouts struct {
	Boot   time.Duration `yaml:"boot"`
	Delete time.Duration `yaml:"delete"`
	Image  time.Duration `yaml:"image"`
}

// ConfigError is a problem in the harness configuration, naming the file
// and, where known, the line and key.
type ConfigError struct {
	File    string
	Line    int
	Field   string
	Problem string
	Err     error
}

// Error renders FILE:LINE: FIELD: PROBLEM.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap exposes the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads the harness configuration:
//
//	cloud: mycloud          # clouds.yaml entry (OS_CLOUD wins when set)
//	image: cirros           # optional: boot this image instead of a blank one
//	scratch_libvirt: qemu:///system  # optional: where altered copies are defined
//	timeouts: {boot: 10m, delete: 5m, image: 5m}
//	compute:
//	  packing_host_numa_cells_allocation_strategy: false
//	hosts:                  # see hosts.ParseConfig
//	  compute-1: {uri: qemu+tcp://compute-1/system}
//
// Unknown keys are errors, so a misspelt setting cannot be silently
// ignored.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		why := err
		var pe *fs.PathError
		if errors.As(err, &pe) {
			why = pe.Err // "no such file or directory", "is a directory"
		}
		return nil, &ConfigError{File: path, Problem: fmt.Sprintf("cannot read the harness configuration: %v (set NUMA_HARNESS_CONFIG or --config)", why), Err: err}
	}
	return ParseConfig(path, data)
}

// ParseConfig reads a harness configuration document; file names it in
// errors.
func ParseConfig(file string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{File: file, Problem: "not valid YAML: " + err.Error(), Err: err}
	}
	if dups := yamlstrict.Duplicates(yamlstrict.Check(&doc)); len(dups) > 0 {
		errs := make([]error, len(dups))
		for i, d := range dups {
			errs[i] = &ConfigError{File: file, Line: d.Line, Field: d.Key, Problem: d.Problem(), Err: d}
		}
		return nil, errors.Join(errs...)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &ConfigError{File: file, Problem: `want a mapping with at least the key "hosts"`}
	}
	cfg := &Config{File: file}
	top := doc.Content[0]
	var errs []error
	sawHosts, scratchLine := false, 0
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		fail := func(problem string, err error) {
			errs = append(errs, &ConfigError{File: file, Line: k.Line, Field: k.Value, Problem: problem, Err: err})
		}
		switch k.Value {
		case "cloud":
			cfg.Cloud = v.Value
		case "image":
			cfg.Image = v.Value
		case "scratch_libvirt":
			if v.Value == "" {
				fail("want a libvirt URI of a scratch libvirtd (never a compute host's)", nil)
				continue
			}
			cfg.ScratchLibvirt, scratchLine = v.Value, k.Line
		case "timeouts":
			var terrs []error
			cfg.Timeouts, terrs = parseTimeouts(file, v)
			errs = append(errs, terrs...)
		case "compute":
			var cerrs []error
			cfg.PackHostNUMACells, cerrs = parseCompute(file, v)
			errs = append(errs, cerrs...)
		case "hosts":
			sawHosts = true
			hs, err := hosts.DecodeHosts(file, v)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			cfg.Hosts = hs
		default:
			fail("unknown key; known keys are cloud, image, timeouts, compute, scratch_libvirt, hosts", nil)
		}
	}
	// After the loop: hosts may come before or after scratch_libvirt.
	if err := scratchIsNoComputeHost(file, scratchLine, cfg); err != nil {
		errs = append(errs, err)
	}
	if !sawHosts && len(errs) == 0 {
		errs = append(errs, &ConfigError{File: file, Problem: `no "hosts": the harness reads each compute host's libvirt and needs to know how to reach it`})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(cfg.Hosts) == 0 {
		return nil, &ConfigError{File: file, Field: "hosts", Problem: "empty: list at least one compute host"}
	}
	cfg.Timeouts = cfg.Timeouts.withDefaults()
	return cfg, nil
}

// scratchIsNoComputeHost refuses a scratch_libvirt that names a configured
// compute host or its libvirt URI: the harness defines and undefines
// domains there, which it must never do on a compute host.
func scratchIsNoComputeHost(file string, line int, cfg *Config) error {
	if cfg.ScratchLibvirt == "" {
		return nil
	}
	for name, h := range cfg.Hosts {
		if cfg.ScratchLibvirt == name || cfg.ScratchLibvirt == h.URI {
			return &ConfigError{File: file, Line: line, Field: "scratch_libvirt", Problem: fmt.Sprintf("%q is compute host %s's libvirt; want a scratch libvirtd that is no compute host (the harness defines domains there)", cfg.ScratchLibvirt, name)}
		}
	}
	return nil
}

// Run bounds one fixture's whole run: flavor, image upload, boot and the
// reads after it.
func (t Timeouts) Run() time.Duration {
	return t.Image + t.Boot + 2*time.Minute
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Boot == 0 {
		t.Boot = DefaultBootTimeout
	}
	if t.Delete == 0 {
		t.Delete = DefaultDeleteTimeout
	}
	if t.Image == 0 {
		t.Image = DefaultImageTimeout
	}
	return t
}

// decodeStrict decodes a node rejecting unknown keys (yaml.Node.Decode
// has no strict mode).
// eachKey calls fn for each key of mapping n with its value, reporting a
// node that is no mapping, and the keys fn refuses, as ConfigErrors of
// file under section; fn returns the problem with a key, or "".
func eachKey(file, section string, n *yaml.Node, fn func(k, v *yaml.Node) string) []error {
	if n.Kind != yaml.MappingNode {
		return []error{&ConfigError{File: file, Line: n.Line, Field: section, Problem: "want a mapping"}}
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if problem := fn(k, v); problem != "" {
			errs = append(errs, &ConfigError{File: file, Line: k.Line, Field: section + "." + k.Value, Problem: problem})
		}
	}
	return errs
}

// decodeValue decodes one scalar, saying what was expected in the words
// of yamlstrict.TypeProblem when it has the wrong type.
func decodeValue(v *yaml.Node, dst any) string {
	err := v.Decode(dst)
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		if p, ok := yamlstrict.TypeProblem(te.Errors[0]); ok {
			return p.Text
		}
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// parseTimeouts reads the timeouts: section.
func parseTimeouts(file string, n *yaml.Node) (Timeouts, []error) {
	var t Timeouts
	dst := map[string]*time.Duration{"boot": &t.Boot, "delete": &t.Delete, "image": &t.Image}
	errs := eachKey(file, "timeouts", n, func(k, v *yaml.Node) string {
		d, ok := dst[k.Value]
		if !ok {
			return "unknown key; known keys are boot, delete and image"
		}
		var text string
		if p := decodeValue(v, &text); p != "" {
			return p
		}
		dur, err := time.ParseDuration(text)
		if err != nil || dur <= 0 {
			return fmt.Sprintf("%q: want a positive duration such as 10m", text)
		}
		*d = dur
		return ""
	})
	return t, errs // after eachKey, which fills t
}

// parseCompute reads the compute: section: the nova.conf options no API
// shows that change every host's expectations.
func parseCompute(file string, n *yaml.Node) (*bool, []error) {
	var pack *bool
	errs := eachKey(file, "compute", n, func(k, v *yaml.Node) string {
		if k.Value != "packing_host_numa_cells_allocation_strategy" {
			return "unknown key; the only key is packing_host_numa_cells_allocation_strategy"
		}
		var b bool
		if p := decodeValue(v, &b); p != "" {
			return p
		}
		pack = &b
		return ""
	})
	return pack, errs // after eachKey, which sets pack
}
