package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/vectors"
)

var shared struct {
	once sync.Once
	o    *Oracle
	skip string
	err  error
}

// startReal returns the real oracle, shared by the tests of this package
// (starting Nova takes seconds), skipping only when the interpreter cannot
// import nova (oracle/install.sh has not run on this machine).
func startReal(t testing.TB) *Oracle {
	t.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Probe(ctx, ""); err != nil {
			shared.skip = "real Nova oracle unavailable: " + err.Error()
			return
		}
		shared.o, shared.err = Start(ctx, Options{})
	})
	if shared.skip != "" {
		t.Skip(shared.skip)
	}
	if shared.err != nil {
		t.Fatalf("Start: %v", shared.err)
	}
	return shared.o
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.o != nil {
		if err := shared.o.Close(); err != nil {
			println("closing the shared oracle:", err.Error())
			code = 1
		}
	}
	os.Exit(code)
}

func publicVectors(t testing.TB) *vectors.File {
	t.Helper()
	f, err := vectors.Load(vectors.PublicFile())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReplayPublicVectors is the oracle's self-check: every recorded vector
// (libvirt_xml aside) must come back from real Nova exactly as recorded, which
// proves the oracle builds Nova's inputs and encodes its outputs the way the
// vectors do.
func TestReplayPublicVectors(t *testing.T) {
	o := startReal(t)
	f := publicVectors(t)
	h := o.Hello()
	t.Logf("oracle: nova %s (package %s), python %s", h.NovaVersion, h.PackageVersion, h.Python)

	var cases []Case
	var vs []vectors.Vector
	for _, v := range f.Vectors {
		if v.Category == vectors.CategoryLibvirtXML {
			continue
		}
		cases = append(cases, CaseFromVector(v))
		vs = append(vs, v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	answers, err := o.RunAll(ctx, cases)
	if err != nil {
		t.Fatalf("RunAll: %v", err)
	}
	// The vectors are facts about one Nova release; another release (e.g.
	// Nova 31 in a trixie chroot) may legitimately differ, so there the
	// differences are reported, not failed.
	sameRelease := o.Version() == f.NovaVersion
	report := t.Errorf
	if !sameRelease {
		report = t.Logf
		t.Logf("oracle runs nova %s, vectors are from %s: differences are informational", o.Version(), f.NovaVersion)
	}
	failed := 0
	for i, a := range answers {
		v := vs[i]
		if a.ID != v.ID {
			t.Fatalf("answer %d has id %q, want %q", i, a.ID, v.ID)
		}
		if a.OracleError != "" {
			failed++
			report("%s: oracle error: %s", v.ID, a.OracleError)
			continue
		}
		want, _ := json.Marshal(v.Expect)
		got, _ := json.Marshal(a.Expect())
		eq, err := EqualJSON(want, got)
		if err != nil {
			t.Fatalf("%s: %v", v.ID, err)
		}
		if !eq {
			failed++
			report("%s (%s):\n want %s\n got  %s", v.ID, v.Function, want, got)
		}
	}
	t.Logf("%d passed, %d failed", len(answers)-failed, failed)
	if sameRelease && len(answers) != 188 {
		t.Errorf("replayed %d vectors, want the 188 non-libvirt_xml public vectors", len(answers))
	}
}

// TestRunConcurrent checks that answers reach the right caller when several
// goroutines share one process, including repeated case IDs.
func TestRunConcurrent(t *testing.T) {
	o := startReal(t)
	f := publicVectors(t)
	fits := f.ByFunction(vectors.FuncFitHost)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(fits); i += 3 {
				v := fits[i]
				c := CaseFromVector(v)
				c.ID = "same-id" // IDs need not be unique
				a, err := o.Run(ctx, c)
				if err != nil {
					t.Errorf("Run %s: %v", v.ID, err)
					return
				}
				want, _ := json.Marshal(v.Expect)
				got, _ := json.Marshal(a.Expect())
				if eq, _ := EqualJSON(want, got); !eq || a.ID != "same-id" {
					t.Errorf("%s: got %s (id %q), want %s", v.ID, got, a.ID, want)
				}
			}
		}(g)
	}
	wg.Wait()
}

// TestBadCasesKeepOracleAlive checks that cases the oracle cannot run are
// answered with OracleError and that Nova's input-building exceptions are
// reported as Nova errors, with the process still usable afterwards.
func TestBadCasesKeepOracleAlive(t *testing.T) {
	o := startReal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cases := []Case{
		{ID: "unknown-fn", Category: "fit_host", Function: "nova/virt/hardware.py:nope", Input: json.RawMessage(`{}`)},
		{ID: "libvirt", Category: "libvirt_xml", Function: vectors.FuncGuestNUMAConfig, Input: json.RawMessage(`{}`)},
		{ID: "wrong-type", Category: "fit_host", Function: vectors.FuncFitHost,
			Input: json.RawMessage(`{"host_topology": {"cells": [{"id": "zero"}]}, "instance_topology": null, "limits": null}`)},
		{ID: "no-input", Category: "policy", Function: vectors.FuncCPUPolicy},
		{ID: "bad-enum", Category: "policy", Function: vectors.FuncCPUPolicy,
			Input: json.RawMessage("{\n  \"flavor\": {\"extra_specs\": {}},\n  \"image_props\": {\"hw_cpu_policy\": \"bogus\"}\n}")},
		{ID: "ok", Category: "policy", Function: vectors.FuncCPUPolicy,
			Input: json.RawMessage(`{"flavor": {"extra_specs": {"hw:cpu_policy": "dedicated"}}, "image_props": {}}`)},
	}
	answers, err := o.RunAll(ctx, cases)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range answers[:4] {
		if a.OracleError == "" {
			t.Errorf("%s: want an oracle error, got %+v", a.ID, a)
		}
	}
	if !strings.Contains(answers[1].OracleError, "unsupported") {
		t.Errorf("libvirt_xml: got %q, want it called unsupported", answers[1].OracleError)
	}
	if a := answers[4]; a.Error != "ValueError" || a.ErrorStage != "build" || a.ErrorMessage == "" {
		t.Errorf("bad enum: got %+v, want ValueError at build stage", a)
	}
	if a := answers[5]; string(a.Result) != `"dedicated"` || a.Error != "" || a.OracleError != "" {
		t.Errorf("ok: got %+v", a)
	}
	if _, err := o.Run(ctx, cases[5]); err != nil {
		t.Errorf("oracle unusable after bad cases: %v", err)
	}
}

// TestTimeoutLeavesOracleUsable checks that a caller giving up does not
// desynchronise answers for later callers.
func TestTimeoutLeavesOracleUsable(t *testing.T) {
	o := startReal(t)
	f := publicVectors(t)
	fits := f.ByFunction(vectors.FuncFitHost)
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	for _, v := range fits[:5] {
		if _, err := o.Run(expired, CaseFromVector(v)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Run with cancelled ctx: err = %v, want context.Canceled", err)
		}
	}
	if _, err := o.RunAll(expired, []Case{CaseFromVector(fits[0])}); !errors.Is(err, context.Canceled) {
		t.Fatalf("RunAll with cancelled ctx: err = %v, want context.Canceled", err)
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	for _, v := range fits {
		a, err := o.Run(ctx, CaseFromVector(v))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(v.Expect)
		got, _ := json.Marshal(a.Expect())
		if eq, _ := EqualJSON(want, got); !eq {
			t.Errorf("%s after timeouts: got %s, want %s", v.ID, got, want)
		}
	}
}

// fakeOracle writes a stand-in script, so process-failure handling is tested
// without Nova.
func fakeOracle(t *testing.T, body string) Options {
	t.Helper()
	py := DefaultPythonPath()
	if _, err := os.Stat(py); err != nil {
		t.Skipf("no %s: %v", py, err)
	}
	script := filepath.Join(t.TempDir(), "fake_oracle.py")
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return Options{Python: py, Script: script, StartTimeout: 30 * time.Second}
}

const fakeHello = `import sys, json
sys.stdout.write(json.dumps({"oracle": "nova", "protocol": 1, "nova_version": "0.0-fake"}) + "\n")
sys.stdout.flush()
`

func TestProcessDeathReportsStderr(t *testing.T) {
	opts := fakeOracle(t, fakeHello+`
line = sys.stdin.readline()
sys.stderr.write("Traceback: something exploded in nova\n")
sys.exit(7)
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if o.Version() != "0.0-fake" {
		t.Errorf("Version = %q", o.Version())
	}
	_, err = o.Run(ctx, Case{ID: "x", Function: vectors.FuncFitHost, Input: json.RawMessage(`{}`)})
	var pe *ProcessError
	if !errors.As(err, &pe) {
		t.Fatalf("Run after crash: err = %v, want *ProcessError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "exit status 7") || !strings.Contains(msg, "something exploded") {
		t.Errorf("error does not name the exit and stderr tail: %s", msg)
	}
	if _, err := o.RunAll(ctx, []Case{{ID: "y", Function: vectors.FuncFitHost}}); err == nil {
		t.Error("RunAll after crash succeeded")
	}
	if err := o.Close(); err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("Close after crash = %v, want the crash", err)
	}
	if _, err := o.Run(ctx, Case{ID: "z", Function: vectors.FuncFitHost}); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestBadHello(t *testing.T) {
	opts := fakeOracle(t, `import sys
sys.stderr.write("ImportError: No module named nova\n")
print("hello?")
`)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Start(ctx, opts)
	if err == nil || !strings.Contains(err.Error(), "hello") || !strings.Contains(err.Error(), "No module named nova") {
		t.Fatalf("Start = %v, want a hello error with the stderr tail", err)
	}
}

func TestHelloTimeout(t *testing.T) {
	opts := fakeOracle(t, "import time\ntime.sleep(60)\n")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Start(ctx, opts)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Start took %v after its deadline", d)
	}
}

func TestEqualJSON(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`{"a": [1, 2], "b": null}`, `{"b":null,"a":[1,2]}`, true},
		{`2048`, `2048.0`, false},
		{`2048.0`, `2.048e3`, true},
		{`[1,2]`, `[2,1]`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
		{`true`, `1`, false},
		{`null`, `null`, true},
		{`"x"`, `"x"`, true},
		{`123456789012345678901234567890`, `123456789012345678901234567890`, true},
	} {
		got, err := EqualJSON([]byte(tc.a), []byte(tc.b))
		if err != nil || got != tc.want {
			t.Errorf("EqualJSON(%s, %s) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
	}
	if _, err := EqualJSON([]byte(`{`), []byte(`{}`)); err == nil {
		t.Error("EqualJSON accepted invalid JSON")
	}
}

// BenchmarkFitHost measures oracle throughput on numa_fit_instance_to_host,
// pipelined through RunAll; the cases/s metric is what a differential run
// can expect from one oracle process.
func BenchmarkFitHost(b *testing.B) {
	o := startReal(b)
	fits := publicVectors(b).ByFunction(vectors.FuncFitHost)
	const batch = 2000
	cases := make([]Case, batch)
	for i := range cases {
		cases[i] = CaseFromVector(fits[i%len(fits)])
	}
	ctx := context.Background()
	var novaNS int64
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		answers, err := o.RunAll(ctx, cases)
		if err != nil {
			b.Fatal(err)
		}
		for _, a := range answers {
			novaNS += a.ElapsedNS
		}
	}
	total := float64(b.N * batch)
	b.ReportMetric(total/time.Since(start).Seconds(), "cases/s")
	b.ReportMetric(float64(novaNS)/total/1e3, "nova-µs/case")
}

func startPool(t testing.TB, n int) *Pool {
	t.Helper()
	startReal(t) // skips when Nova is unavailable
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := StartPool(ctx, Options{}, n)
	if err != nil {
		t.Fatalf("StartPool: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Pool.Close: %v", err)
		}
	})
	return p
}

// TestPoolMatchesSingleProcess checks that spreading a batch over several
// processes returns the same answers, in case order.
func TestPoolMatchesSingleProcess(t *testing.T) {
	o := startReal(t)
	p := startPool(t, 2)
	if p.Version() != o.Version() {
		t.Fatalf("pool runs nova %s, single process %s", p.Version(), o.Version())
	}
	var cases []Case
	for _, v := range publicVectors(t).Vectors {
		if v.Category != vectors.CategoryLibvirtXML {
			cases = append(cases, CaseFromVector(v))
		}
	}
	for len(cases) < 1000 {
		cases = append(cases, cases...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want, err := o.RunAll(ctx, cases)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.RunAll(ctx, cases)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		w, g := want[i], got[i]
		eq, _ := EqualJSON(orNull(w.Result), orNull(g.Result))
		if w.ID != g.ID || w.Error != g.Error || w.OracleError != g.OracleError || !eq {
			t.Fatalf("case %d (%s): pool %+v, single %+v", i, cases[i].ID, g, w)
		}
	}
	a, err := p.Run(ctx, cases[0])
	if err != nil || a.ID != cases[0].ID {
		t.Fatalf("Pool.Run = %+v, %v", a, err)
	}
}

// BenchmarkFitHostPool is BenchmarkFitHost over one process per CPU.
func BenchmarkFitHostPool(b *testing.B) {
	p := startPool(b, runtime.NumCPU())
	fits := publicVectors(b).ByFunction(vectors.FuncFitHost)
	const batch = 2000
	cases := make([]Case, batch)
	for i := range cases {
		cases[i] = CaseFromVector(fits[i%len(fits)])
	}
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := p.RunAll(ctx, cases); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "cases/s")
	b.ReportMetric(float64(p.Size()), "processes")
}
