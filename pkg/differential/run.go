package differential

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/numa-conformance/numa-conformance/pkg/oracle"
	"github.com/numa-conformance/numa-conformance/pkg/vectors"
	"github.com/numa-conformance/numa-conformance/pkg/vectors/replay"
)

// Judge is Nova, answering cases. *oracle.Oracle and *oracle.Pool are
// judges.
type Judge interface {
	RunAll(ctx context.Context, cases []oracle.Case) ([]oracle.Answer, error)
	Version() string
}

// Options control a differential run.
type Options struct {
	// Cases is how many cases to generate.
	Cases int
	// Seed makes the run reproducible.
	Seed uint64
	// ReportDir receives one vector file per divergence; empty writes
	// nothing.
	ReportDir string
	// Batch is how many cases go to the oracle at once.
	Batch int
	// Progress, when set, is called after every batch.
	Progress func(done, total, failed int)
}

// Divergence is a case on which the Go fitter and Nova disagree, shrunk to
// a smaller case that still disagrees.
type Divergence struct {
	Original Case
	// Shrunk is the smallest disagreeing case found (Original when no
	// smaller one disagrees).
	Shrunk  Case
	Outcome replay.Outcome
	// Nova is Nova's answer to Shrunk, as the oracle encoded it.
	Nova vectors.Expect
	// File is the vector file written for it, if any.
	File string
}

// Result summarises a run.
type Result struct {
	NovaVersion string
	Passed      int
	Failed      int
	// PerFunction counts cases by Nova function: passed and failed.
	PerFunction map[string][2]int
	// NovaOutcomes counts, per function, what Nova answered: "fits",
	// "None", or "error: Class" (and "built: ..." for errors Nova raised
	// while building its objects from the input). It shows what a run
	// really exercised: a run where Nova refused everything proves little.
	NovaOutcomes map[string]map[string]int
	Divergences  []Divergence
}

// Run generates opts.Cases cases, asks judge and the Go fitter for each, and
// shrinks and records every disagreement.
func Run(ctx context.Context, judge Judge, opts Options) (Result, error) {
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	res := Result{NovaVersion: judge.Version(), PerFunction: map[string][2]int{}, NovaOutcomes: map[string]map[string]int{}}
	g := NewGenerator(opts.Seed)
	for done := 0; done < opts.Cases; {
		n := min(opts.Batch, opts.Cases-done)
		batch := make([]Case, n)
		for i := range batch {
			batch[i] = g.Next()
		}
		verdicts, err := judgeAll(ctx, judge, batch)
		if err != nil {
			return res, err
		}
		for i, v := range verdicts {
			fn := batch[i].Function
			if res.NovaOutcomes[fn] == nil {
				res.NovaOutcomes[fn] = map[string]int{}
			}
			res.NovaOutcomes[fn][v.kind()]++
			count := res.PerFunction[fn]
			if v.Pass() {
				res.Passed++
				count[0]++
			} else {
				res.Failed++
				count[1]++
				d, err := shrink(ctx, judge, batch[i], v)
				if err != nil {
					return res, err
				}
				if opts.ReportDir != "" {
					if d.File, err = writeVector(opts.ReportDir, opts.Seed, d, res.NovaVersion); err != nil {
						return res, err
					}
				}
				res.Divergences = append(res.Divergences, d)
			}
			res.PerFunction[batch[i].Function] = count
		}
		done += n
		if opts.Progress != nil {
			opts.Progress(done, opts.Cases, res.Failed)
		}
	}
	return res, nil
}

// judgeAll has Nova answer the cases and compares the Go fitter's result
// with each answer. A case Nova cannot run at all, or whose answer the Go
// side cannot read, is a failure: either is a defect of this harness.
func judgeAll(ctx context.Context, judge Judge, cases []Case) ([]judged, error) {
	oc := make([]oracle.Case, len(cases))
	for i, c := range cases {
		oc[i] = oracle.Case{ID: c.ID, Category: c.Category, Function: c.Function, Input: c.Input}
	}
	answers, err := judge.RunAll(ctx, oc)
	if err != nil {
		return nil, fmt.Errorf("nova oracle: %w", err)
	}
	out := make([]judged, len(cases))
	for i, a := range answers {
		out[i] = judged{outcome: verdict(cases[i], a), nova: a}
	}
	return out, nil
}

// judged is one case's comparison together with Nova's raw answer.
type judged struct {
	outcome replay.Outcome
	nova    oracle.Answer
}

// kind classifies Nova's answer for NovaOutcomes.
func (j judged) kind() string {
	switch a := j.nova; {
	case a.OracleError != "":
		return "oracle error"
	case a.Error != "" && a.ErrorStage == "build":
		return "built: " + a.Error
	case a.Error != "":
		return "error: " + a.Error
	case string(a.Result) == "null":
		return "None"
	}
	return "result"
}

// Pass reports whether Go and Nova agreed.
func (j judged) Pass() bool { return j.outcome.Pass }

// comparable reports whether Nova could run the case at all; shrinking
// must not wander into cases the oracle rejects.
func (j judged) comparable() bool { return j.nova.OracleError == "" }

func verdict(c Case, a oracle.Answer) replay.Outcome {
	if a.OracleError != "" {
		return replay.Outcome{ID: c.ID, Expected: "oracle error: " + a.OracleError, Got: "(not compared)"}
	}
	v := asVector(c, a)
	o, err := replay.Run(v)
	if err != nil {
		return replay.Outcome{ID: c.ID, Expected: render(v.Expect), Got: "Go could not read the case: " + err.Error()}
	}
	if !o.Pass && a.ErrorMessage != "" {
		o.Detail = "Nova said: " + a.ErrorMessage
	}
	return o
}

func asVector(c Case, a oracle.Answer) vectors.Vector {
	return vectors.Vector{ID: c.ID, Category: c.Category, Function: c.Function, Input: c.Input, Expect: a.Expect()}
}

func render(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// maxShrinkRounds bounds shrinking: each round asks Nova about every
// one-step-smaller candidate at once.
const maxShrinkRounds = 40

// shrink looks for a smaller case that still disagrees, by repeatedly
// taking the first one-step-smaller candidate (see candidates) on which Nova
// and Go still differ.
func shrink(ctx context.Context, judge Judge, c Case, j judged) (Divergence, error) {
	d := Divergence{Original: c, Shrunk: c, Outcome: j.outcome, Nova: j.nova.Expect()}
	for range maxShrinkRounds {
		cands := candidates(d.Shrunk)
		if len(cands) == 0 {
			break
		}
		verdicts, err := judgeAll(ctx, judge, cands)
		if err != nil {
			return d, err
		}
		progressed := false
		for i, v := range verdicts {
			if !v.Pass() && v.comparable() {
				d.Shrunk, d.Outcome, d.Nova, progressed = cands[i], v.outcome, v.nova.Expect(), true
				break
			}
		}
		if !progressed {
			break
		}
	}
	return d, nil
}

// candidates returns every case one step smaller than c: one extra spec or
// image property dropped, one host or guest cell dropped, one page size
// dropped, limits removed. Each step keeps the case well-formed.
func candidates(c Case) []Case {
	var in map[string]any
	if err := json.Unmarshal(c.Input, &in); err != nil {
		return nil
	}
	var out []Case
	emit := func(mutate func(m map[string]any) bool) {
		var m map[string]any
		_ = json.Unmarshal(c.Input, &m) // a fresh copy to mutate
		if !mutate(m) {
			return
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return
		}
		n := c
		n.ID = fmt.Sprintf("%s.s%d", c.ID, len(out))
		n.Input = raw
		out = append(out, n)
	}
	// Flavor and image keys.
	for _, path := range [][]string{{"flavor", "extra_specs"}, {"image_props"}} {
		for _, k := range sortedKeys(dig(in, path...)) {
			emit(func(m map[string]any) bool { delete(dig(m, path...), k); return true })
		}
	}
	if l, ok := in["limits"]; ok && l != nil {
		emit(func(m map[string]any) bool { m["limits"] = nil; return true })
	}
	// Cells: host cells (never the last), guest cells (never the last;
	// placed guests only where the host keeps the cell they name).
	for _, path := range [][]string{{"host_topology"}, {"instance_topology"}} {
		cells, _ := dig(in, path...)["cells"].([]any)
		for i := range cells {
			if len(cells) < 2 {
				break
			}
			emit(func(m map[string]any) bool {
				t := dig(m, path...)
				cs := t["cells"].([]any)
				t["cells"] = append(cs[:i:i], cs[i+1:]...)
				return path[0] != "host_topology" || m["free"] == nil || stillPlaced(m)
			})
		}
	}
	// Page sizes of host cells, largest first.
	for _, path := range [][]string{{"host_topology"}, {"host_cell"}} {
		var cells []any
		if path[0] == "host_cell" {
			if hc, ok := in["host_cell"]; ok {
				cells = []any{hc}
			}
		} else {
			cells, _ = dig(in, path...)["cells"].([]any)
		}
		for ci, cell := range cells {
			pages, _ := cell.(map[string]any)["mempages"].([]any)
			for pi := len(pages) - 1; pi >= 1; pi-- {
				emit(func(m map[string]any) bool {
					var cm map[string]any
					if path[0] == "host_cell" {
						cm = m["host_cell"].(map[string]any)
					} else {
						cm = dig(m, path...)["cells"].([]any)[ci].(map[string]any)
					}
					ps := cm["mempages"].([]any)
					cm["mempages"] = append(ps[:pi:pi], ps[pi+1:]...)
					return true
				})
			}
		}
	}
	return out
}

// stillPlaced reports whether every placed guest cell of a usage case still
// names a host cell, so dropping a host cell never orphans a guest cell.
func stillPlaced(m map[string]any) bool {
	hosts := map[float64]bool{}
	for _, c := range dig(m, "host_topology")["cells"].([]any) {
		hosts[c.(map[string]any)["id"].(float64)] = true
	}
	for _, c := range dig(m, "instance_topology")["cells"].([]any) {
		if !hosts[c.(map[string]any)["id"].(float64)] {
			return false
		}
	}
	return true
}

// dig walks nested JSON objects; a missing step yields an empty map.
func dig(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return map[string]any{}
		}
		m = next
	}
	return m
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeVector records a divergence as a one-vector file in the vector
// schema, with Nova's answer as the expectation: ready to be copied into
// testdata/vectors as a regression test once the fitter is fixed.
func writeVector(dir string, seed uint64, d Divergence, novaVersion string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	v := vectors.Vector{
		ID: d.Shrunk.ID, Category: d.Shrunk.Category, Function: d.Shrunk.Function,
		NovaVersion: novaVersion, Input: d.Shrunk.Input,
		Origin: vectors.Origin{File: "numa-conformance differential", Test: fmt.Sprintf("seed %d, shrunk from %s", seed, d.Original.ID)},
	}
	v.Expect = d.Nova
	f := vectors.File{
		Schema: vectors.Schema, NovaVersion: novaVersion, Count: 1, Vectors: []vectors.Vector{v},
		Source: "Nova's answer through the project's oracle (oracle/nova_oracle.py) to a generated case the Go fitter got wrong",
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, d.Shrunk.ID+".json")
	return path, os.WriteFile(path, append(data, '\n'), 0o644)
}
