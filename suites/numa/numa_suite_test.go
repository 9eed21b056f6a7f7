package numa_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
	"github.com/numa-conformance/numa-conformance/pkg/report"
	"github.com/numa-conformance/numa-conformance/suites/numa"
)

// The suite is configured through the environment, so that `ginkgo` and
// `go test` run it alike:
//
//	OS_CLOUD             clouds.yaml entry (else the configuration's cloud:)
//	NUMA_HARNESS_CONFIG  harness configuration (default: harness.yaml at the repository root)
//	NUMA_FIXTURES        fixture directory (default: fixtures/flavors)
//	NUMA_REPORT_DIR      where reports go (default: reports/<UTC time>-<run ID>)
//	NUMA_RUN_ID          the run ID, 8 lowercase hex digits (default: random)
var (
	cfg      *harness.Config
	env      *harness.Env
	shared   sharedState
	repoRoot string
)

// sharedState is what process 1 hands to the other parallel processes.
type sharedState struct {
	RunID     string `json:"run_id"`
	BaseImage string `json:"base_image"`
	ReportDir string `json:"report_dir"`
}

func TestNUMA(t *testing.T) {
	RegisterFailHandler(Fail)
	suiteConfig, reporterConfig := GinkgoConfiguration()
	var err error
	if repoRoot, err = harness.FindRepoRoot("."); err != nil {
		t.Fatal(err)
	}
	// Bad input fails here, before any process connects or creates
	// anything. A dry run (listing specs) needs no configuration.
	cfg, err = harness.LoadConfig(configPath())
	switch {
	case err == nil || suiteConfig.DryRun:
	case os.Getenv("NUMA_HARNESS_CONFIG") == "" && os.Getenv("NUMA_REQUIRE_CLOUD") != "1" && errors.Is(err, fs.ErrNotExist):
		// `go test ./...` without a cloud: nothing to run against.
		t.Skipf("no harness configuration at %s: set NUMA_HARNESS_CONFIG and OS_CLOUD (see README), or run make conformance", configPath())
	default:
		t.Fatalf("harness configuration: %v", err)
	}
	runTimeout := harness.Timeouts{}.Run()
	if cfg != nil {
		runTimeout = cfg.Timeouts.Run()
	}
	fxs, err := fixtures.LoadDir(envOr("NUMA_FIXTURES", filepath.Join(repoRoot, "fixtures", "flavors")))
	if err != nil {
		t.Fatalf("fixtures: %v", err)
	}
	input := func() numa.FixtureSpecInput {
		return numa.FixtureSpecInput{Env: env, RunID: shared.RunID, BaseImage: shared.BaseImage, Evidence: writeEvidence, Fixtures: fxs}
	}
	for _, fx := range fxs {
		numa.FixtureSpec(fx, runTimeout, input)
	}
	if suiteConfig.Timeout == time.Hour { // Ginkgo's default: too short to be a choice, too long for CI
		suiteConfig.Timeout = 80 * time.Minute
	}
	RunSpecs(t, "NUMA conformance", suiteConfig, reporterConfig)
}

func configPath() string {
	return envOr("NUMA_HARNESS_CONFIG", filepath.Join(repoRoot, "harness.yaml"))
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var _ = SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
	// NUMA_RUN_ID lets a caller (the interrupt test) know the run's ID in
	// advance, to look for leftovers under it. Checked before anything is
	// created: sweep finds only run IDs of NewRunID's form.
	st := sharedState{RunID: envOr("NUMA_RUN_ID", openstack.NewRunID())}
	Expect(openstack.IsRunID(st.RunID)).To(BeTrue(), "NUMA_RUN_ID=%q: want 8 lowercase hex digits like %s (the only run IDs sweep recognises)", st.RunID, openstack.NewRunID())
	e, err := harness.Preflight(ctx, cfg, os.Getenv("OS_CLOUD"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(e.Close)
	if e.ProfileWarning != "" {
		AddReportEntry("nova release", e.ProfileWarning, ReportEntryVisibilityAlways)
		fmt.Fprintln(GinkgoWriter, "warning:", e.ProfileWarning)
	}
	st.ReportDir = envOr("NUMA_REPORT_DIR", filepath.Join(repoRoot, "reports", time.Now().UTC().Format("20060102T150405Z")+"-"+st.RunID))
	Expect(os.MkdirAll(st.ReportDir, 0o755)).To(Succeed())
	facts, _ := json.MarshalIndent(struct {
		RunID string `json:"run_id"`
		harness.Facts
	}{st.RunID, e.Facts}, "", "  ")
	Expect(os.WriteFile(filepath.Join(st.ReportDir, "run.json"), append(facts, '\n'), 0o644)).To(Succeed())
	// The same facts go into the JUnit and JSON reports, so each report
	// says which cloud, Nova rules and harness it came from.
	AddReportEntry("environment", string(facts), ReportEntryVisibilityAlways)

	if cfg.Image != "" {
		st.BaseImage, err = e.Cloud.FindImage(ctx, cfg.Image)
		Expect(err).NotTo(HaveOccurred(), "image %q named in %s", cfg.Image, cfg.File)
	} else {
		// One blank image for the whole run, deleted once every process
		// is done (DeferCleanup here behaves like SynchronizedAfterSuite).
		run, err := e.Cloud.NewRun(openstack.RunSpec{ID: st.RunID, DeleteTimeout: cfg.Timeouts.Delete, Register: func(cleanup func(context.Context) error) {
			DeferCleanup(numa.Uninterruptible(cleanup, cfg.Timeouts.Delete), NodeTimeout(cfg.Timeouts.Delete+time.Minute), GracePeriod(cfg.Timeouts.Delete+time.Minute))
		}})
		Expect(err).NotTo(HaveOccurred(), "NUMA_RUN_ID")
		file, err := harness.BlankImageFile()
		Expect(err).NotTo(HaveOccurred())
		img, err := run.CreateImage(ctx, openstack.ImageSpec{Name: "base", File: file, DiskFormat: "raw"}, cfg.Timeouts.Image)
		Expect(err).NotTo(HaveOccurred())
		st.BaseImage = img.ID
	}
	fmt.Fprintf(GinkgoWriter, "run %s: cloud %s (compute API %s, Nova rules %s), reports in %s\n",
		st.RunID, e.Facts.Cloud, e.Facts.ComputeAPI, e.Facts.NovaProfile, st.ReportDir)
	data, err := json.Marshal(st)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(ctx SpecContext, data []byte) {
	Expect(json.Unmarshal(data, &shared)).To(Succeed())
	var err error
	env, err = harness.Preflight(ctx, cfg, os.Getenv("OS_CLOUD"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Close)
	// All processes of the run share one claim journal.
	env.Journal = harness.OpenJournal(filepath.Join(shared.ReportDir, "claims.jsonl"))
}, NodeTimeout(5*time.Minute))

// writeEvidence stores a fixture's evidence in the run's report directory.
func writeEvidence(res *harness.Result) {
	if shared.ReportDir == "" {
		return
	}
	if err := harness.WriteEvidence(filepath.Join(shared.ReportDir, "evidence"), res); err != nil {
		fmt.Fprintf(GinkgoWriter, "writing evidence of %s: %v\n", res.Fixture.Name, err)
	}
}

// The reports are written by the suite itself (not only by ginkgo's
// --junit-report), so that `go test` runs leave the same files.
var _ = ReportAfterSuite("reports", func(r Report) {
	dir := shared.ReportDir
	if dir == "" || r.SuiteConfig.DryRun {
		return
	}
	Expect(reporters.GenerateJUnitReportWithConfig(r, filepath.Join(dir, "junit.xml"), reporters.JunitReportConfig{
		OmitTimelinesForSpecState: types.SpecStatePassed | types.SpecStateSkipped,
	})).To(Succeed())
	Expect(reporters.GenerateJSONReport(r, filepath.Join(dir, "ginkgo.json"))).To(Succeed())
	groups := numa.GroupTimes(r)
	fmt.Print(numa.RenderGroupTimes(groups))
	data, err := json.MarshalIndent(groups, "", "  ")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(dir, "groups.json"), append(data, '\n'), 0o644)).To(Succeed())
	// The readable report, from the files just written.
	run, err := report.Load(dir)
	Expect(err).NotTo(HaveOccurred())
	f, err := os.Create(filepath.Join(dir, "report.html"))
	Expect(err).NotTo(HaveOccurred())
	Expect(report.WriteHTML(f, run)).To(Succeed())
	Expect(f.Close()).To(Succeed())
	fmt.Printf("reports: %s (report.html, junit.xml, ginkgo.json, groups.json, run.json, evidence/)\n", dir)
})
