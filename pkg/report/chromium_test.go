package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The browser tests open the report in Debian's chromium, headless
// (ci/chromium/install.sh installs it). They skip when chromium is
// missing, unless NUMA_REQUIRE_CHROMIUM=1.

func chromium(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("NUMA_REQUIRE_CHROMIUM") == "1" {
			t.Fatal("NUMA_REQUIRE_CHROMIUM=1 but chromium is not installed (run ci/chromium/install.sh)")
		}
		t.Skip("chromium is not installed (ci/chromium/install.sh installs it)")
	}
	return path
}

// browse runs headless chromium on file with args (e.g. --dump-dom) and
// returns its stdout and stderr.
func browse(t *testing.T, bin, file string, args ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu",
		"--user-data-dir=" + t.TempDir(), "--no-first-run", "--enable-logging=stderr", "--v=0"}, args...)
	cmd := exec.CommandContext(ctx, bin, append(all, "file://"+file)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// pageConsole matches what chromium logs for the page's console messages
// and uncaught exceptions, e.g.
//
//	[9519:9519:1127/131057.359295:INFO:CONSOLE:1] "Uncaught ReferenceError: ...", source: file:///... (1)
var pageConsole = regexp.MustCompile(`(?m)^.*(:CONSOLE|Uncaught).*$`)

func consoleMessages(stderr string) []string {
	return pageConsole.FindAllString(stderr, -1)
}

func writeReport(t *testing.T, r *Run) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestChromiumConsoleDetection checks the check: a page that logs an
// error and throws must be caught, or a clean run proves nothing.
func TestChromiumConsoleDetection(t *testing.T) {
	bin := chromium(t)
	p := filepath.Join(t.TempDir(), "bad.html")
	page := `<!DOCTYPE html><html><body><p>x</p><script>console.error("boom from page"); undefinedFunction();</script></body></html>`
	if err := os.WriteFile(p, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr := browse(t, bin, p, "--dump-dom")
	msgs := strings.Join(consoleMessages(stderr), "\n")
	if !strings.Contains(msgs, "boom from page") || !strings.Contains(msgs, "Uncaught") {
		t.Fatalf("chromium's stderr does not show the page's console errors; the console check would miss them:\n%s", stderr)
	}
}

func TestChromiumRendersReport(t *testing.T) {
	bin := chromium(t)
	file := writeReport(t, loadTestRun(t))
	dom, stderr := browse(t, bin, file, "--dump-dom")
	for _, want := range []string{
		`<table id="summary" class="summary">`,
		`data-fixture="hugepages-any"`,
		`<svg xmlns="http://www.w3.org/2000/svg" class="numa"`,
		`<rect x=`,
		`class="guest differs"`,
		`<tr class="fixture fixture-failed differs" data-fixture="hugepages-any">`,
		`<tr class="differs"><td class="path">cputune/emulatorpin/cpuset</td>`,
		// The note's markup stayed text: the browser parsed no script.
		`&lt;script&gt;alert("x")&lt;/script&gt;`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered DOM lacks %s", want)
		}
	}
	if strings.Contains(dom, "<script") {
		t.Error("the rendered DOM has a script element")
	}
	if msgs := consoleMessages(stderr); len(msgs) > 0 {
		t.Errorf("the page logged to the console:\n%s", strings.Join(msgs, "\n"))
	}
}

// isDiffersFill tells the background of differing rows and cells (#ffd6d6).
func isDiffersFill(r, g, b uint32) bool {
	near := func(v uint32, want uint32) bool { v >>= 8; return v+3 >= want && v <= want+3 }
	return near(r, 0xff) && near(g, 0xd6) && near(b, 0xd6)
}

func countDiffersPixels(t *testing.T, pngFile string) int {
	t.Helper()
	f, err := os.Open(pngFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", pngFile, err)
	}
	return countFill(img)
}

func countFill(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if isDiffersFill(r, g, bl) {
				n++
			}
		}
	}
	return n
}

// TestChromiumMarksDifferencesVisibly takes screenshots: the report with
// differences must show the red marking (the failed fixture comes first,
// so its summary row, picture and difference table are on screen), and
// the same report without differences must show none of it.
func TestChromiumMarksDifferencesVisibly(t *testing.T) {
	bin := chromium(t)
	shot := func(r *Run) int {
		file := writeReport(t, r)
		png := filepath.Join(t.TempDir(), "shot.png")
		_, stderr := browse(t, bin, file, "--window-size=1400,2400", "--hide-scrollbars", "--screenshot="+png)
		if msgs := consoleMessages(stderr); len(msgs) > 0 {
			t.Errorf("the page logged to the console:\n%s", strings.Join(msgs, "\n"))
		}
		if st, err := os.Stat(png); err != nil || st.Size() == 0 {
			t.Fatalf("no screenshot: %v\n%s", err, stderr)
		}
		n := countDiffersPixels(t, png)
		t.Logf("%d pixels of the differs marking", n)
		return n
	}
	r := loadTestRun(t)
	if n := shot(r); n < 2000 {
		t.Errorf("the screenshot shows %d pixels of the differs marking; want the rows and cells visibly marked", n)
	}
	for _, f := range r.Fixtures {
		if f.Evidence != nil {
			f.Evidence.Differences = nil
			// Same placement on both sides: no cell differs either.
			f.Evidence.DomainXML = ""
		}
	}
	if n := shot(r); n != 0 {
		t.Errorf("without differences the screenshot still shows %d pixels of the differs marking", n)
	}
}
