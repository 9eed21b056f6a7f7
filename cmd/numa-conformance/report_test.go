package main

import (
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
