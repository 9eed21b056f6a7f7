package replay

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// xmlInput is the input of a libvirt_xml vector (SCHEMA.md).
type xmlInput struct {
	InstanceTopology *topology.InstanceTopology `json:"instance_topology"`
	Flavor           topology.Flavor            `json:"flavor"`
	ImageProps       topology.ImageProps        `json:"image_props"`
	HostTopology     *topology.HostTopology     `json:"host_topology"`
	HostOnlineCPUs   *cpuset.CPUSet             `json:"host_online_cpus"`
	NUMATuneXML      *string                    `json:"numatune_xml"`
	Conf             struct {
		VCPUPinSet                *string `json:"vcpu_pin_set"`
		CPUSharedSet              *string `json:"cpu_shared_set"`
		CPUDedicatedSet           *string `json:"cpu_dedicated_set"`
		RealtimeSchedulerPriority int     `json:"realtime_scheduler_priority"`
		FileBackedMemory          int     `json:"file_backed_memory"`
	} `json:"conf"`
}

// xmlResult is the result of either libvirt_xml function: the fragments
// as Nova serialized them, null where Nova wrote none.
type xmlResult struct {
	CPUSet           *cpuset.CPUSet `json:"cpuset"`
	CPUTuneXML       *string        `json:"cputune_xml"`
	CPUNUMAXML       *string        `json:"cpu_numa_xml"`
	NUMATuneXML      *string        `json:"numatune_xml"`
	MemoryBackingXML *string        `json:"memory_backing_xml"`
}

// xmlCall builds the domain package's input from a vector. Two facts about
// the host were mocked in Nova's tests and not recorded, so they are
// inferred here:
//
//   - _has_numa_support(): a host without NUMA support reports no topology
//     and never has its online CPUs read; the driver then raises
//     NUMATopologyUnsupported for a NUMA guest. A host with support but no
//     NUMA cells looks the same in the input, so the recorded outcome
//     decides between the two.
//   - supports_amd_sev: Nova's tests that ask for memory encryption mock a
//     SEV-capable host.
func xmlCall(v vectors.Vector, profile nova.Profile) (domain.Input, *libvirtxml.DomainNUMATune, error) {
	var raw xmlInput
	if err := decode(v, &raw); err != nil {
		return domain.Input{}, nil, err
	}
	in := domain.Input{
		Instance: raw.InstanceTopology,
		Flavor:   raw.Flavor,
		Image:    raw.ImageProps,
		Host:     raw.HostTopology,
		Config: domain.Config{
			RealtimeSchedulerPriority: raw.Conf.RealtimeSchedulerPriority,
			FileBackedMemory:          raw.Conf.FileBackedMemory,
		},
		HostFeatures: domain.HostFeatures{AMDSEV: true},
		Profile:      profile,
	}
	if raw.HostOnlineCPUs != nil {
		in.HostOnlineCPUs = *raw.HostOnlineCPUs
	}
	in.HostFeatures.NoNUMASupport = raw.HostTopology == nil && raw.HostOnlineCPUs == nil &&
		v.Expect.Error == (&nova.NUMATopologyUnsupported{}).Class()
	for _, o := range []struct {
		name string
		val  *string
		dst  **cpuset.CPUSet
	}{
		{"vcpu_pin_set", raw.Conf.VCPUPinSet, &in.Config.VCPUPinSet},
		{"[compute] cpu_shared_set", raw.Conf.CPUSharedSet, &in.Config.CPUSharedSet},
		{"[compute] cpu_dedicated_set", raw.Conf.CPUDedicatedSet, &in.Config.CPUDedicatedSet},
	} {
		if o.val == nil {
			continue
		}
		s, err := domain.ParseCPUListOption(o.name, *o.val)
		if err != nil {
			// Nova raises while reading its configuration: that is the
			// outcome to compare, not bad input.
			return in, nil, err
		}
		*o.dst = s
	}
	var numatune *libvirtxml.DomainNUMATune
	if raw.NUMATuneXML != nil {
		numatune = &libvirtxml.DomainNUMATune{}
		if err := xml.Unmarshal([]byte(*raw.NUMATuneXML), numatune); err != nil {
			return in, nil, &InputError{ID: v.ID, Reason: "input numatune_xml: " + err.Error()}
		}
	}
	return in, numatune, nil
}

func runGuestNUMAConfig(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	return xmlRunner(v, profile, func(in domain.Input, _ *libvirtxml.DomainNUMATune) (domain.Fragments, error) {
		return domain.NUMAConfig(in)
	})
}

func runGuestMemoryBacking(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	return xmlRunner(v, profile, func(in domain.Input, numatune *libvirtxml.DomainNUMATune) (domain.Fragments, error) {
		mb, err := domain.MemoryBacking(in, numatune)
		return domain.Fragments{MemoryBacking: mb}, err
	})
}

// xmlRunner compares fragments itself, element by element with
// domain.Diff, because Nova's serialization and ours differ in quoting,
// attribute order and units without differing in meaning.
func xmlRunner(v vectors.Vector, profile nova.Profile, build func(domain.Input, *libvirtxml.DomainNUMATune) (domain.Fragments, error)) (any, func() outcome, error) {
	in, numatune, err := xmlCall(v, profile)
	var ie *InputError
	if errors.As(err, &ie) {
		return nil, nil, err
	}
	var want *domain.Fragments
	if v.Expect.Error == "" {
		w, err := expectedFragments(v)
		if err != nil {
			return nil, nil, err
		}
		want = &w
	}
	return &in, func() outcome {
		if err != nil {
			return outcome{err: err}
		}
		got, err := build(in, numatune)
		if err != nil {
			return outcome{err: err}
		}
		rendered, rerr := got.XML()
		if rerr != nil {
			rendered = rerr.Error()
		}
		pass := false
		detail := ""
		if want != nil {
			diffs := domain.Diff(*want, got)
			pass = len(diffs) == 0
			var lines []string
			for _, d := range diffs {
				lines = append(lines, d.String())
			}
			detail = strings.Join(lines, "; ")
		}
		return outcome{value: rendered, detail: detail, pass: &pass}
	}, nil
}

// expectedFragments parses Nova's serialized fragments.
func expectedFragments(v vectors.Vector) (domain.Fragments, error) {
	var r xmlResult
	if err := json.Unmarshal(v.Expect.Result, &r); err != nil {
		return domain.Fragments{}, &InputError{ID: v.ID, Reason: "expect.result: " + err.Error()}
	}
	f := domain.Fragments{VCPUCPUSet: r.CPUSet}
	var err error
	parse := func(field string, s *string, into any) bool {
		if s == nil || err != nil {
			return false
		}
		if e := xml.Unmarshal([]byte(*s), into); e != nil {
			err = &InputError{ID: v.ID, Reason: fmt.Sprintf("expect.result.%s does not parse: %v", field, e)}
			return false
		}
		return true
	}
	if t := new(libvirtxml.DomainCPUTune); parse("cputune_xml", r.CPUTuneXML, t) {
		f.CPUTune = t
	}
	if n := new(libvirtxml.DomainNuma); parse("cpu_numa_xml", r.CPUNUMAXML, n) {
		f.CPUNUMA = n
	}
	if n := new(libvirtxml.DomainNUMATune); parse("numatune_xml", r.NUMATuneXML, n) {
		f.NUMATune = n
	}
	if m := new(libvirtxml.DomainMemoryBacking); parse("memory_backing_xml", r.MemoryBackingXML, m) {
		f.MemoryBacking = m
	}
	return f, err
}
