// Package replay runs nova-numa-vectors/1 vectors through the reference
// fitter and says, per vector, whether the Go code reproduces what Nova
// produced. Results are compared semantically: CPU sets as sets, unset
// fields equal to their zero values, XML fragments element by element.
package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/constraints"
	"github.com/numa-conformance/numa-conformance/pkg/expect/fitter"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

// Outcome is the verdict on one vector.
type Outcome struct {
	ID   string
	Pass bool
	// Expected and Got are canonical renderings of Nova's outcome and ours:
	// a JSON result, or "error: ClassName".
	Expected, Got string
	// Detail explains a semantic difference where a rendering alone would
	// not (XML fragments), or carries our error's message.
	Detail string
	// Semantic: the runner compared the results itself (XML fragments, as
	// libvirt would read them); Detail then says what differs, and the two
	// renderings are not comparable text.
	Semantic bool
}

// InputError reports a vector whose input this package cannot decode; the
// CLI treats it as invalid input rather than as a failed vector.
type InputError struct {
	ID     string
	Reason string
}

func (e *InputError) Error() string { return fmt.Sprintf("vector %s: %s", e.ID, e.Reason) }

// Run replays one vector.
func Run(v vectors.Vector) (Outcome, error) {
	call, err := Prepare(v)
	if err != nil {
		return Outcome{}, err
	}
	return call.Check()
}

// Call is a prepared vector: its input decoded, ready to run the Go
// function under test.
type Call struct {
	v vectors.Vector
	// bare runs the Go function and nothing else; checked also proves it
	// left its input unchanged, which costs two JSON encodings of the
	// input, many times the fitter's own time.
	bare, checked func() outcome
}

// Invoke runs the Go function once and discards the result; it is what a
// benchmark times, so it runs the function alone (Check proves, once, that
// the function leaves its input unchanged).
func (c Call) Invoke() { c.bare() }

// Check runs the Go function, fails when it changed its input, and
// compares its result with Nova's.
func (c Call) Check() (Outcome, error) { return compare(c.v, c.checked()) }

// Prepare decodes a vector's input. The returned Call may be run many times;
// it never changes the decoded input.
func Prepare(v vectors.Vector) (Call, error) {
	prep, ok := runners[v.Function]
	if !ok {
		return Call{}, &InputError{ID: v.ID, Reason: fmt.Sprintf("unknown function %q", v.Function)}
	}
	profile := nova.Zed
	if v.NovaVersion != "" {
		p, _, err := nova.ProfileFor(v.NovaVersion)
		if err != nil {
			return Call{}, &InputError{ID: v.ID, Reason: err.Error()}
		}
		profile = p
	}
	input, run, err := prep(v, profile)
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			ie.ID = v.ID
			return Call{}, ie
		}
		return Call{}, &InputError{ID: v.ID, Reason: err.Error()}
	}
	return Call{v: v, bare: run, checked: unchanged(input, run)}, nil
}

// outcome is what the Go side produced: a value to render as JSON, or an
// error carrying a Nova exception class.
type outcome struct {
	value  any
	err    error
	detail string // set by runners that compare themselves (XML)
	pass   *bool
}

// unchanged wraps a call so that it fails when the Go function changed its
// input: Nova mutates its arguments, the fitter promises not to.
func unchanged(input any, run func() outcome) func() outcome {
	before, _ := json.Marshal(input)
	return func() outcome {
		o := run()
		if after, _ := json.Marshal(input); !bytes.Equal(before, after) {
			fail := false
			o.pass = &fail
			o.detail = "the Go function changed its input: before " + string(before) + ", after " + string(after)
			o.err = nil
			o.value = "(input changed)"
		}
		return o
	}
}

// runner decodes a vector's input for the given Nova release and returns the
// decoded input (so Prepare can prove the call leaves it unchanged) and the
// call to make.
type runner func(vectors.Vector, nova.Profile) (input any, call func() outcome, err error)

var runners = map[string]runner{
	vectors.FuncGetConstraints:         runConstraints,
	vectors.FuncCPUPolicy:              runCPUPolicy,
	vectors.FuncRealtimeCPUs:           runRealtimeCPUs,
	vectors.FuncPageSize:               runPageSize,
	vectors.FuncDesirableCPUTopologies: runDesirable,
	vectors.FuncBestCPUTopology:        runBest,
	vectors.FuncFitHost:                runFitHost,
	vectors.FuncFitCell:                runFitCell,
	vectors.FuncUsage:                  runUsage,
	vectors.FuncGuestNUMAConfig:        runGuestNUMAConfig,
	vectors.FuncGuestMemoryBacking:     runGuestMemoryBacking,
}

// Functions lists the Nova functions this package can replay.
func Functions() []string {
	out := make([]string, 0, len(runners))
	for f := range maps.Keys(runners) {
		out = append(out, f)
	}
	return out
}

func decode(v vectors.Vector, into any) error {
	dec := json.NewDecoder(bytes.NewReader(v.Input))
	if err := dec.Decode(into); err != nil {
		return &InputError{ID: v.ID, Reason: "input: " + err.Error()}
	}
	return nil
}

type flavorImage struct {
	Flavor       topology.Flavor     `json:"flavor"`
	ImageProps   topology.ImageProps `json:"image_props"`
	AllowThreads *bool               `json:"allow_threads"`
}

func runConstraints(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in flavorImage
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		t, err := constraints.Get(in.Flavor, in.ImageProps)
		return outcome{value: normTopology(t), err: err}
	}, nil
}

func runCPUPolicy(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in flavorImage
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		p, err := constraints.CPUPolicy(in.Flavor, in.ImageProps)
		if p == "" {
			return outcome{value: nil, err: err}
		}
		return outcome{value: string(p), err: err}
	}, nil
}

func runRealtimeCPUs(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in flavorImage
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		rt, ok, err := constraints.RealtimeCPUs(in.Flavor, in.ImageProps)
		if !ok {
			return outcome{value: nil, err: err}
		}
		return outcome{value: rt, err: err}
	}, nil
}

func runPageSize(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in flavorImage
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		// PageSizeValue, not PageSize: Nova can return fractions ("4Kib" is
		// 0.5 KiB) and an explicit 0, which the fitter's int model folds away.
		ps, ok, err := constraints.PageSizeValue(in.Flavor, in.ImageProps)
		if !ok {
			return outcome{value: nil, err: err}
		}
		return outcome{value: ps, err: err}
	}, nil
}

func allowThreads(in flavorImage) bool { return in.AllowThreads == nil || *in.AllowThreads }

func runDesirable(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in flavorImage
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		ts, err := constraints.DesirableCPUTopologies(in.Flavor, in.ImageProps, allowThreads(in))
		if ts == nil {
			ts = []topology.GuestCPUTopology{}
		}
		return outcome{value: ts, err: err}
	}, nil
}

func runBest(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in flavorImage
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		t, err := constraints.BestCPUTopology(in.Flavor, in.ImageProps, allowThreads(in))
		return outcome{value: t, err: err}
	}, nil
}

type fitHostInput struct {
	Host     topology.HostTopology     `json:"host_topology"`
	Instance topology.InstanceTopology `json:"instance_topology"`
	Limits   *topology.Limits          `json:"limits"`
	Conf     struct {
		Pack bool `json:"packing_host_numa_cells_allocation_strategy"`
	} `json:"conf"`
}

func runFitHost(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in fitHostInput
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		t, err := fitter.FitInstance(in.Host, in.Instance, in.Limits, fitter.Options{Profile: profile, Pack: in.Conf.Pack})
		return outcome{value: normTopology(t), err: err}
	}, nil
}

type fitCellInput struct {
	Host     topology.HostCell     `json:"host_cell"`
	Instance topology.InstanceCell `json:"instance_cell"`
	Limits   *topology.Limits      `json:"limits"`
	Reserved int                   `json:"cpuset_reserved"`
}

func runFitCell(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in fitCellInput
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		c, err := fitter.FitCell(in.Host, in.Instance, in.Limits, in.Reserved, fitter.Options{Profile: profile})
		if c == nil {
			return outcome{value: nil, err: err}
		}
		n := normCell(*c)
		return outcome{value: &n, err: err}
	}, nil
}

type usageInput struct {
	Host     topology.HostTopology     `json:"host_topology"`
	Instance topology.InstanceTopology `json:"instance_topology"`
	Free     bool                      `json:"free"`
}

func runUsage(v vectors.Vector, profile nova.Profile) (any, func() outcome, error) {
	var in usageInput
	if err := decode(v, &in); err != nil {
		return nil, nil, err
	}
	return &in, func() outcome {
		h, err := fitter.Usage(in.Host, in.Instance, in.Free, fitter.Options{Profile: profile})
		if err != nil {
			return outcome{err: err}
		}
		return outcome{value: normHost(h)}
	}, nil
}

// normTopology makes equal topologies render equally: an empty pinning map
// and an absent one mean the same to Nova's callers.
func normTopology(t *topology.InstanceTopology) *topology.InstanceTopology {
	if t == nil {
		return nil
	}
	out := t.Clone()
	for i := range out.Cells {
		out.Cells[i] = normCell(out.Cells[i])
	}
	return &out
}

func normCell(c topology.InstanceCell) topology.InstanceCell {
	if len(c.CPUPinning) == 0 {
		c.CPUPinning = nil
	}
	return c
}

// normHost renders a host without cells as null: Nova treats an empty
// NUMATopology as no topology (it has len 0) and hands it back unchanged.
func normHost(h topology.HostTopology) *topology.HostTopology {
	if len(h.Cells) == 0 {
		return nil
	}
	out := h.Clone()
	for i := range out.Cells {
		if len(out.Cells[i].MemPages) == 0 {
			out.Cells[i].MemPages = nil
		}
		if len(out.Cells[i].Siblings) == 0 {
			out.Cells[i].Siblings = nil
		}
		// Nova's physnets is a set of strings: order and nil-vs-empty mean
		// nothing.
		if nm := out.Cells[i].NetworkMetadata; nm != nil {
			if len(nm.Physnets) == 0 {
				nm.Physnets = nil
			}
			slices.Sort(nm.Physnets)
		}
	}
	return &out
}

// expected decodes Nova's recorded result into the same Go type the runner
// produced, normalised the same way, so both render identically when equal.
func expected(v vectors.Vector, sample any) (any, error) {
	raw := v.Expect.Result
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, nil
	}
	bad := func(err error) error {
		return &InputError{ID: v.ID, Reason: "expect.result: " + err.Error()}
	}
	switch v.Function {
	case vectors.FuncGetConstraints, vectors.FuncFitHost:
		var t topology.InstanceTopology
		if err := json.Unmarshal(raw, &t); err != nil {
			return nil, bad(err)
		}
		return normTopology(&t), nil
	case vectors.FuncFitCell:
		var c topology.InstanceCell
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, bad(err)
		}
		n := normCell(c)
		return &n, nil
	case vectors.FuncUsage:
		var h topology.HostTopology
		if err := json.Unmarshal(raw, &h); err != nil {
			return nil, bad(err)
		}
		return normHost(h), nil
	case vectors.FuncRealtimeCPUs:
		var s cpuset.CPUSet
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, bad(err)
		}
		return s, nil
	}
	// Plain values (strings, ints, topology lists) compare as generic JSON
	// after a round trip through the runner's own type.
	if sample == nil {
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return nil, bad(err)
		}
		return x, nil
	}
	return json.RawMessage(raw), nil
}

func render(x any) string {
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("<unrenderable: %v>", err)
	}
	return string(b)
}

// canonicalJSON re-encodes JSON so that key order and spacing do not matter.
func canonicalJSON(s string) string {
	var x any
	if err := json.Unmarshal([]byte(s), &x); err != nil {
		return s
	}
	return render(x)
}

func compare(v vectors.Vector, got outcome) (Outcome, error) {
	o := Outcome{ID: v.ID}
	if v.Expect.Error != "" {
		o.Expected = "error: " + v.Expect.Error
	} else {
		exp, err := expected(v, got.value)
		if err != nil {
			return Outcome{}, err
		}
		o.Expected = canonicalJSON(render(exp))
	}
	if got.err != nil {
		class := nova.ClassOf(got.err)
		if class == "" {
			class = "<not a Nova exception> " + got.err.Error()
		}
		o.Got = "error: " + class
		o.Detail = got.err.Error()
	} else {
		o.Got = canonicalJSON(render(got.value))
		o.Detail = got.detail
	}
	if got.pass != nil {
		o.Pass, o.Semantic = *got.pass, true
		return o, nil
	}
	o.Pass = o.Expected == o.Got
	return o, nil
}
