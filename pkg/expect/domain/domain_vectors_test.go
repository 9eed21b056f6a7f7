package domain

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// xmlVectorInput is the input of a libvirt_xml vector (SCHEMA.md).
type xmlVectorInput struct {
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

// numaConfigResult is the result of a _get_guest_numa_config vector.
type numaConfigResult struct {
	CPUSet      *cpuset.CPUSet `json:"cpuset"`
	CPUTuneXML  *string        `json:"cputune_xml"`
	CPUNUMAXML  *string        `json:"cpu_numa_xml"`
	NUMATuneXML *string        `json:"numatune_xml"`
}

// memoryBackingResult is the result of a _get_guest_memory_backing_config
// vector.
type memoryBackingResult struct {
	MemoryBackingXML *string `json:"memory_backing_xml"`
}

func TestVectors(t *testing.T) {
	f, err := vectors.Load(vectors.PublicFile())
	if err != nil {
		t.Fatal(err)
	}
	numa := f.ByFunction(vectors.FuncGuestNUMAConfig)
	mem := f.ByFunction(vectors.FuncGuestMemoryBacking)
	if len(numa) == 0 || len(mem) == 0 {
		t.Fatalf("public set has %d %s and %d %s vectors; want some of each", len(numa), vectors.FuncGuestNUMAConfig, len(mem), vectors.FuncGuestMemoryBacking)
	}
	for _, v := range append(numa, mem...) {
		t.Run(v.ID, func(t *testing.T) { runVector(t, v) })
	}
}

func runVector(t *testing.T, v vectors.Vector) {
	var raw xmlVectorInput
	if err := json.Unmarshal(v.Input, &raw); err != nil {
		t.Fatalf("decoding input: %v", err)
	}
	in, numatune, err := vectorInput(v, raw)
	if err == nil {
		var got Fragments
		var want Fragments
		switch v.Function {
		case vectors.FuncGuestNUMAConfig:
			got, err = NUMAConfig(in)
			if err == nil && v.Expect.Error == "" {
				want = wantNUMAConfig(t, v.Expect.Result)
			}
		case vectors.FuncGuestMemoryBacking:
			got.MemoryBacking, err = MemoryBacking(in, numatune)
			if err == nil && v.Expect.Error == "" {
				want = wantMemoryBacking(t, v.Expect.Result)
			}
		default:
			t.Fatalf("unexpected function %s", v.Function)
		}
		if err == nil && v.Expect.Error == "" {
			if diffs := Diff(want, got); len(diffs) > 0 {
				fail(t, v, "fragments differ from Nova's:\n%s\ngot:\n%s", joinDiffs(diffs), mustXML(got))
			}
			return
		}
	}
	switch {
	case v.Expect.Error == "":
		fail(t, v, "Nova returned a result, we raised %v", err)
	case err == nil:
		fail(t, v, "Nova raised %s, we returned no error", v.Expect.Error)
	case nova.ClassOf(err) != v.Expect.Error:
		fail(t, v, "Nova raised %s, we raised %s (%v)", v.Expect.Error, nova.ClassOf(err), err)
	}
}

// fail reports a mismatch; a vector whose input is known to be incomplete
// is only an example of the output's shape, so it is skipped instead.
func fail(t *testing.T, v vectors.Vector, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf("%s (%s): ", v.Origin.Test, v.Function) + fmt.Sprintf(format, args...)
	if v.InputComplete != nil && !*v.InputComplete {
		t.Skip("input_complete=false, shape example only: " + msg)
	}
	t.Error(msg)
}

// vectorInput turns a vector's input into ours. Two facts about the host
// were mocked in Nova's tests but not recorded; they are filled in here:
//
//   - _has_numa_support(): a host without NUMA support reports no topology
//     and never has its online CPUs read, and the driver then raises
//     NUMATopologyUnsupported for a NUMA guest. A host with support but
//     without NUMA cells in its capabilities looks the same in the input,
//     so the recorded outcome decides between the two.
//   - supports_amd_sev: Nova's tests that ask for memory encryption mock a
//     SEV-capable host.
func vectorInput(v vectors.Vector, raw xmlVectorInput) (Input, *libvirtxml.DomainNUMATune, error) {
	in := Input{
		Instance: raw.InstanceTopology,
		Flavor:   raw.Flavor,
		Image:    raw.ImageProps,
		Host:     raw.HostTopology,
		Config: Config{
			RealtimeSchedulerPriority: raw.Conf.RealtimeSchedulerPriority,
			FileBackedMemory:          raw.Conf.FileBackedMemory,
		},
		HostFeatures: HostFeatures{AMDSEV: true},
		Profile:      nova.Zed,
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
		s, err := ParseCPUListOption(o.name, *o.val)
		if err != nil {
			return Input{}, nil, err
		}
		*o.dst = s
	}
	var numatune *libvirtxml.DomainNUMATune
	if raw.NUMATuneXML != nil {
		numatune = &libvirtxml.DomainNUMATune{}
		if err := xml.Unmarshal([]byte(*raw.NUMATuneXML), numatune); err != nil {
			return Input{}, nil, fmt.Errorf("input numatune_xml: %w", err)
		}
	}
	return in, numatune, nil
}

func wantNUMAConfig(t *testing.T, result json.RawMessage) Fragments {
	t.Helper()
	var r numaConfigResult
	if err := json.Unmarshal(result, &r); err != nil {
		t.Fatalf("decoding result: %v", err)
	}
	f := Fragments{VCPUCPUSet: r.CPUSet}
	f.CPUTune = unmarshalFragment[libvirtxml.DomainCPUTune](t, "cputune_xml", r.CPUTuneXML)
	f.CPUNUMA = unmarshalFragment[libvirtxml.DomainNuma](t, "cpu_numa_xml", r.CPUNUMAXML)
	f.NUMATune = unmarshalFragment[libvirtxml.DomainNUMATune](t, "numatune_xml", r.NUMATuneXML)
	return f
}

func wantMemoryBacking(t *testing.T, result json.RawMessage) Fragments {
	t.Helper()
	var r memoryBackingResult
	if err := json.Unmarshal(result, &r); err != nil {
		t.Fatalf("decoding result: %v", err)
	}
	return Fragments{MemoryBacking: unmarshalFragment[libvirtxml.DomainMemoryBacking](t, "memory_backing_xml", r.MemoryBackingXML)}
}

// unmarshalFragment parses one of Nova's serialized fragments; nil stays
// nil (Nova wrote no such element).
func unmarshalFragment[T any](t *testing.T, field string, s *string) *T {
	t.Helper()
	if s == nil {
		return nil
	}
	v := new(T)
	if err := xml.Unmarshal([]byte(*s), v); err != nil {
		t.Fatalf("expected %s does not parse: %v\n%s", field, err, *s)
	}
	return v
}

func joinDiffs(diffs []Difference) string {
	var b strings.Builder
	for _, d := range diffs {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

func mustXML(f Fragments) string {
	s, err := f.XML()
	if err != nil {
		return err.Error()
	}
	return s
}
