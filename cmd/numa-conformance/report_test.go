package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const reportRun = "../../pkg/report/testdata/run"

// copyReportRun copies the report package's test run, so the default
// output (DIR/report.html) lands in a temporary directory.
func copyReportRun(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "20261127T121258Z-d889670d")
	if err := os.CopyFS(dir, os.DirFS(reportRun)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReportWritesHTML(t *testing.T) {
	dir := copyReportRun(t)
	code, out, errOut := run(t, "report", dir)
	want := filepath.Join(dir, "report.html")
	if code != exitOK || out != want+"\n" {
		t.Fatalf("exit %d, stdout %q, want %q\n%s", code, out, want, errOut)
	}
	html, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`<table id="summary"`, `data-fixture="hugepages-any"`, "<svg", `<tr class="differs">`} {
		if !strings.Contains(string(html), s) {
			t.Errorf("%s lacks %s", want, s)
		}
	}

	// -o, before or after the directory.
	for _, args := range [][]string{{"report", "-o", "OUT", dir}, {"report", dir, "-o", "OUT"}} {
		o := filepath.Join(t.TempDir(), "r.html")
		for i, a := range args {
			if a == "OUT" {
				args[i] = o
			}
		}
		code, out, errOut := run(t, args...)
		if code != exitOK || out != o+"\n" {
			t.Errorf("%v: exit %d, stdout %q\n%s", args, code, out, errOut)
		}
		if st, err := os.Stat(o); err != nil || st.Size() == 0 {
			t.Errorf("%v: %s not written: %v", args, o, err)
		}
	}
}

func TestReportBadInputNamesFile(t *testing.T) {
	code, _, errOut := run(t, "report", "/nonexistent/run")
	if code != exitBadInput || !strings.Contains(errOut, "/nonexistent/run/run.json") {
		t.Errorf("missing directory: exit %d, %q", code, errOut)
	}
	dir := copyReportRun(t)
	bad := filepath.Join(dir, "evidence", "hugepages-any", "result.json")
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run(t, "report", dir)
	if code != exitBadInput || !strings.Contains(errOut, bad) {
		t.Errorf("bad result.json: exit %d, %q", code, errOut)
	}
	unwritable := filepath.Join(t.TempDir(), "no", "such", "dir", "r.html")
	code, _, errOut = run(t, "report", "-o", unwritable, copyReportRun(t))
	if code != exitBadInput || !strings.Contains(errOut, unwritable) {
		t.Errorf("unwritable output: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{{"report"}, {"report", "a", "b"}, {"report", "--bogus", "a"}} {
		if code, _, _ := run(t, args...); code != exitBadInput {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

// diff of a real run against itself changes nothing; with a fixed
// fixture turned failing (the test run's hugepages-any, compared in the
// other direction against a run where it passed) it exits 1.
func TestDiff(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch([]string{"diff", "../../pkg/report/testdata/run", "../../pkg/report/testdata/run"}, &out, &errb); code != exitOK {
		t.Fatalf("diff of a run with itself: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "diff: 0 of") {
		t.Fatalf("output: %s", out.String())
	}
	dir := t.TempDir()
	passing := filepath.Join(dir, "before.json")
	failing := filepath.Join(dir, "after.json")
	_ = os.WriteFile(passing, []byte(`{"servers":[{"id":"x","verdict":"conforms"}]}`), 0o644)
	_ = os.WriteFile(failing, []byte(`{"servers":[{"id":"x","verdict":"differs","differences":[{"Path":"numatune/memnode[cellid=1]/mode","Expected":"\"strict\"","Observed":"\"preferred\""}]}]}`), 0o644)
	out.Reset()
	if code := dispatch([]string{"diff", passing, failing}, &out, &errb); code != exitFailed {
		t.Fatalf("regression: exit %d\n%s", code, out.String())
	}
	for _, want := range []string{"REGRESSED x: conforms -> differs", `numatune/memnode[cellid=1]/mode: (as expected) -> "preferred"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := dispatch([]string{"diff", passing}, &out, &errb); code != exitBadInput {
		t.Errorf("one argument: exit %d", code)
	}
	if code := dispatch([]string{"diff", passing, filepath.Join(dir, "missing")}, &out, &errb); code != exitBadInput || !strings.Contains(errb.String(), "missing") {
		t.Errorf("missing file: exit %d, %s", code, errb.String())
	}
	errb.Reset()
	if code := dispatch([]string{"diff", "../../pkg/report/testdata/run", passing}, &out, &errb); code != exitBadInput ||
		!strings.Contains(errb.String(), "is a suite run (report directory) but "+passing+" is an audit") {
		t.Errorf("a suite run against an audit: exit %d, %s; want 2 naming both kinds", code, errb.String())
	}
	// A server deleted between two audits is gone, not a regression.
	empty := filepath.Join(dir, "empty.json")
	_ = os.WriteFile(empty, []byte(`{"servers":[]}`), 0o644)
	out.Reset()
	if code := dispatch([]string{"diff", failing, empty}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "gone      x: differs -> (not in the later audit") {
		t.Errorf("a server absent from the later audit: exit %d\n%s", code, out.String())
	}
}
