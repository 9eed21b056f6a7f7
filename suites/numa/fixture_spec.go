// Package numa holds the NUMA conformance specs: one Ordered container per
// fixture of fixtures/flavors, which boots the fixture's server once and
// checks each property of its domain in its own spec. The suite itself is
// numa_suite_test.go; FixtureSpec is exported so that other suites (a
// downstream cloud's own fixtures) can reuse it.
package numa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/expect/match"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
	"github.com/numa-conformance/numa-conformance/pkg/harness"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
)

// FixtureSpecInput is what FixtureSpec needs at run time; it is read when
// the specs run, after the suite's set-up, hence a getter.
type FixtureSpecInput struct {
	Env *harness.Env
	// RunID is shared by all parallel processes of one run.
	RunID string
	// BaseImage boots fixtures without image properties.
	BaseImage string
	// Evidence receives each fixture's result for the run's report
	// directory; nil writes nothing.
	Evidence func(*harness.Result)
	// Fixtures are all the suite's fixtures; resize_to names one of them.
	Fixtures []fixtures.Fixture
}

// Property specs check these domain paths; whatever they do not cover is
// checked by the last spec, so no difference can go unreported.
var propertyPaths = []struct {
	text  string
	paths []string
}{
	{"has the guest NUMA cells the fitter expects (cpu/numa: ids, vCPUs, memory, memAccess)", []string{"cpu/numa"}},
	{"pins vCPUs and emulator threads as expected (cputune)", []string{"cputune"}},
	{"binds each guest cell's memory to the expected host node, strictly (numatune)", []string{"numatune"}},
	{"backs guest memory as expected (memoryBacking: huge pages, locking)", []string{"memoryBacking"}},
	{"has the guest CPU topology Nova computes (cpu/topology)", []string{"cpu/topology"}},
}

// FixtureLabel is the label only fixture name carries.
func FixtureLabel(name string) string { return "fixture=" + name }

// FixtureSpec declares the specs of one fixture. The container's text
// carries the fixture name and labels in brackets and the same words are
// Ginkgo labels, so --focus and --label-filter select the same specs. A
// fixture's name can also be a group label (manual-split is both), so each
// fixture has one label of its own, fixture=NAME, which selects it alone.
// runTimeout bounds the node that creates, boots and reads the server
// (harness.Timeouts.Run of the configuration).
func FixtureSpec(fx fixtures.Fixture, runTimeout time.Duration, input func() FixtureSpecInput) bool {
	labels := append(fx.AllLabels(), FixtureLabel(fx.Name))
	text := fx.Name
	if len(labels) > 1 {
		text += " [" + strings.Join(labels[1:], "] [") + "]"
	}
	decorators := []any{Label(labels...), Ordered, ContinueOnFailure}
	if fx.Fill > 0 {
		// It fills a host: nothing else may boot meanwhile.
		decorators = append(decorators, Serial)
	}
	return Describe(text, append(decorators, func() {
		var (
			in    FixtureSpecInput
			res   *harness.Result
			run   *openstack.Run
			fills []*harness.Result
		)
		BeforeAll(func(ctx SpecContext) {
			in = input()
			Expect(in.Env).NotTo(BeNil(), "the suite's set-up did not provide an environment")
			if mv := fx.Expect.RequiresMicroversion; mv != "" && !in.Env.Cloud.Supports(mv) {
				Skip(fmt.Sprintf("fixture %s needs compute API microversion %s; the cloud offers up to %s", fx.Name, mv, in.Env.Cloud.Microversion()))
			}
			if fx.Microversion != "" && !in.Env.Cloud.Supports(fx.Microversion) {
				Skip(fmt.Sprintf("fixture %s sets its extra specs at microversion %s; the cloud offers up to %s", fx.Name, fx.Microversion, in.Env.Cloud.Microversion()))
			}
			if reason := in.Env.MissingCapability(fx); reason != "" {
				Skip(reason)
			}
			var err error
			run, err = in.Env.Cloud.NewRun(openstack.RunSpec{ID: in.RunID, DeleteTimeout: in.Env.Config.Timeouts.Delete, Register: func(cleanup func(context.Context) error) {
				DeferCleanup(Uninterruptible(cleanup, in.Env.Config.Timeouts.Delete), NodeTimeout(in.Env.Config.Timeouts.Delete+time.Minute), GracePeriod(in.Env.Config.Timeouts.Delete+time.Minute))
			}})
			Expect(err).NotTo(HaveOccurred())
			for i := 1; i <= fx.Fill; i++ {
				f := fillFixture(fx, i)
				By(fmt.Sprintf("filling: booting %s", f.ServerName()))
				r, err := in.Env.Run(ctx, run, in.BaseImage, f)
				if r != nil && in.Evidence != nil {
					DeferCleanup(func() { in.Evidence(r) })
				}
				Expect(err).NotTo(HaveOccurred(), "running fill server %d of fixture %s", i, fx.Name)
				fills = append(fills, r)
			}
			By(fmt.Sprintf("booting %s (%d vCPUs, %d MiB) and reading its domain", fx.ServerName(), fx.Flavor.VCPUs, fx.Flavor.RAMMB))
			res, err = in.Env.Run(ctx, run, in.BaseImage, fx)
			if res != nil && in.Evidence != nil {
				DeferCleanup(func() { in.Evidence(res) })
			}
			attachEvidence(res)
			Expect(err).NotTo(HaveOccurred(), "running fixture %s (%s:%d)", fx.Name, fx.File, fx.Line)
			skipWhenHardwareDiffers(res)
		}, NodeTimeout(time.Duration(fx.Fill+1)*runTimeout))

		for i := 1; i <= fx.Fill; i++ {
			It(fmt.Sprintf("fill server %d of %d lands where the fitter predicts, given the servers before it", i, fx.Fill), func() {
				r := fills[i-1]
				requireDomain(r)
				Expect(r.Expected.Outcome).To(Equal(expect.Fits), "the fitter's expectation for fill server %d", i)
				Expect(r.Differences).To(match.HaveNoDifferences(), evidenceHint(r))
			})
		}

		outcomeSpecs := func(outcome fixtures.Outcome) {
			switch outcome {
			case fixtures.Fits:
				It("is accepted and becomes ACTIVE on a configured compute host", func() {
					Expect(res.FlavorErr).NotTo(HaveOccurred(), "flavor extra specs were rejected")
					Expect(res.CreateErr).NotTo(HaveOccurred(), "server create was rejected")
					Expect(res.Unschedulable()).To(BeEmpty(), "the scheduler could not consider every configured host when the server failed")
					Expect(res.BootErr).NotTo(HaveOccurred(), "server did not become ACTIVE")
					Expect(res.Expected.Outcome).To(Equal(expect.Fits), "the fitter's expectation for host %s", res.Host)
				})
				for _, p := range propertyPaths {
					It(p.text, func() {
						requireDomain(res)
						Expect(res.Differences).To(match.HaveNoDifferences(p.paths...), evidenceHint(res))
					})
				}
				It("has no other NUMA-related differences (vcpu cpuset, iothreads)", func() {
					requireDomain(res)
					var rest = res.Differences
					for _, p := range propertyPaths {
						rest = match.Without(rest, p.paths...)
					}
					Expect(rest).To(match.HaveNoDifferences(), evidenceHint(res))
				})
				It("agrees three ways: the fitter, Nova's server topology API and the live domain [topology-api]", Label("topology-api"), func() {
					requireDomain(res)
					if res.NovaTopology == nil {
						Skip("the cloud's compute API has no server topology (needs microversion " + openstack.MicroversionTopology + ")")
					}
					// The fitter against the domain is the property specs' job;
					// here: the fitter against Nova's record, and Nova's record
					// against the domain. The paths say which pair disagrees.
					diffs := append(harness.NovaViewDifferences(res.Expected, res.NovaTopology), harness.DomainVsNovaView(res.Domain, res.NovaTopology)...)
					Expect(diffs).To(match.HaveNoDifferences(), evidenceHint(res))
				})
				It("runs as its domain says: the host's kernel applies its vCPU affinities and memory nodes [kernel]", Label("kernel"), func(ctx SpecContext) {
					requireDomain(res)
					conn, err := in.Env.Pool.Conn(ctx, res.Host)
					Expect(err).NotTo(HaveOccurred())
					view, err := conn.KernelView(ctx, res.Server.ID)
					Expect(err).NotTo(HaveOccurred(), "reading what the kernel of %s applies to server %s", res.Host, res.Server.ID)
					diffs := domain.KernelDiff(res.Domain, in.Env.Hosts[res.Host].Info.OnlineCPUs, *view)
					Expect(diffs).To(match.HaveNoDifferences(), evidenceHint(res))
				})
				It("catches copies of this domain with one property altered, defined on the scratch libvirtd [altered-domain]", Label("altered-domain"), func(ctx SpecContext) {
					requireDomain(res)
					if in.Env.Scratch == nil {
						Skip("no scratch_libvirt in " + in.Env.Config.File + ": the altered copies need a libvirtd to be defined on")
					}
					alts := domain.Alterations(res.Domain)
					if len(alts) == 0 {
						Skip("the domain has no NUMA element to alter")
					}
					for _, a := range alts {
						cp, err := copyDomain(res.Domain)
						Expect(err).NotTo(HaveOccurred())
						a.Apply(cp)
						back, err := in.Env.Scratch.RoundTrip(ctx, cp)
						Expect(err).NotTo(HaveOccurred())
						diffs, err := expect.Check(res.Expected, back)
						Expect(err).NotTo(HaveOccurred())
						Expect(diffs).To(ContainElement(a.Want), "the check must report %s as %s", a.Name, a.Want)
					}
				})
				lifecycleSpecs(fx, runTimeout, func() (FixtureSpecInput, *harness.Result, *openstack.Run) { return in, res, run })
			case fixtures.APIRejected:
				It(fmt.Sprintf("is refused with HTTP 400 at %s create, with Nova's message", rejectedStage(fx.Expect)), func() {
					err := res.CreateErr
					if res.Want.Stage == fixtures.StageFlavor {
						err = res.FlavorErr
					}
					Expect(err).To(HaveOccurred(), "expected a 400 at %s create; the request was accepted (server %v)", res.Want.Stage, res.Server)
					Expect(harness.HTTPStatus(err)).To(Equal(400), "HTTP status of: %v", err)
					Expect(err.Error()).To(ContainSubstring(res.Want.Message), "the fixture's expected message")
					if res.Want.Stage == fixtures.StageServer {
						exp := res.Predicted[anyHost(res)]
						Expect(exp.Outcome).To(Equal(expect.Rejected), "the reference fitter accepts this request, Nova refused it")
						msg := harness.APIMessage(err)
						pattern := nova.MessagePattern(exp.ReasonClass)
						Expect(pattern).NotTo(BeNil(), "no message template for %s", exp.ReasonClass)
						Expect(msg).To(MatchRegexp(pattern.String()),
							"Nova's 400 must come from the exception the fitter predicts: %s (%s)", exp.ReasonClass, exp.ReasonText)
					}
				})
			case fixtures.NoValidHost:
				It("is accepted, then goes to ERROR with a NoValidHost fault", func() {
					Expect(res.FlavorErr).NotTo(HaveOccurred())
					Expect(res.CreateErr).NotTo(HaveOccurred())
					Expect(res.BootErr).To(HaveOccurred(), "expected the server to fail scheduling; it became ACTIVE on %s", res.Host)
					Expect(res.BootErr.Error()).To(ContainSubstring(res.Want.Message))
					// A host the ComputeFilter drops turns any boot into
					// NoValidHost, which would pass here for the wrong reason.
					Expect(res.Unschedulable()).To(BeEmpty(), "NoValidHost is Nova's NUMA verdict only if the scheduler could consider every configured host")
					for h, exp := range res.Predicted {
						Expect(exp.Outcome).To(Equal(expect.NoValidHost), "the reference fitter places the guest on host %s", h)
					}
				})
			}
		}
		outcomes := fx.Expect.Outcomes()
		if len(outcomes) == 1 {
			outcomeSpecs(outcomes[0])
			return
		}
		// Nova's answer depends on its release: each answer gets its specs,
		// and those of the releases the cloud does not run skip.
		for _, outcome := range outcomes {
			Context(fmt.Sprintf("on Nova %s", fx.Expect.Releases(outcome)), func() {
				BeforeEach(func() {
					// res is set: the specs run only after the BeforeAll passed.
					if res.Want.Outcome != outcome {
						Skip(fmt.Sprintf("fixture %s: Nova %s answers %s; this cloud runs %s, which answers %s (release changes: %s)",
							fx.Name, fx.Expect.Releases(outcome), outcome, in.Env.Profile.Name, res.Want.Outcome, fx.Expect.Changes()))
					}
				})
				outcomeSpecs(outcome)
			})
		}
	})...)
}

// rejectedStage is the stage of the fixture's api-400 answer (the first
// release's that has one), for spec text that is the same on every cloud.
func rejectedStage(e fixtures.Expect) fixtures.Stage {
	if e.Outcome == fixtures.APIRejected {
		return e.Stage
	}
	for _, r := range e.Since {
		if r.Outcome == fixtures.APIRejected {
			return r.Stage
		}
	}
	return ""
}

// fillFixture is the i-th server that fills the host before fx's own.
func fillFixture(fx fixtures.Fixture, i int) fixtures.Fixture {
	f := fx
	f.Name = fmt.Sprintf("%s-fill-%d", fx.Name, i)
	f.Server = fmt.Sprintf("%s-fill-%d", fx.ServerName(), i)
	f.Expect = fixtures.Expect{Outcome: fixtures.Fits}
	f.Lifecycle, f.ResizeTo, f.Fill = nil, "", 0
	return f
}

// lifecycleSpecs declares one spec per lifecycle operation of the
// fixture, then the resize to resize_to's flavor and back. They run in
// order on the fixture's server; each checks the whole domain.
func lifecycleSpecs(fx fixtures.Fixture, timeout time.Duration, get func() (FixtureSpecInput, *harness.Result, *openstack.Run)) {
	type step struct {
		op   openstack.Operation
		to   string
		text string
	}
	var steps []step
	for _, op := range fx.Lifecycle {
		steps = append(steps, step{op: openstack.Operation(op), text: "still matches after " + op})
	}
	if fx.ResizeTo != "" {
		steps = append(steps,
			step{op: openstack.OpResize, to: fx.ResizeTo, text: "matches the expectation for the resize_to fixture's flavor after a resize to it"},
			step{op: openstack.OpResize, to: fx.Name, text: "matches its own flavor's expectation again after resizing back"})
	}
	var last *harness.Step
	for _, st := range steps {
		It(st.text, func(ctx SpecContext) {
			in, res, run := get()
			requireDomain(res)
			var to *fixtures.Fixture
			if st.to != "" {
				var ok bool
				to, ok = fixtures.ByName(in.Fixtures, st.to)
				Expect(ok).To(BeTrue(), "resize_to %q names no fixture", st.to)
			}
			By(fmt.Sprintf("%s of server %s", st.op, res.Server.ID))
			s, err := in.Env.Lifecycle(ctx, run, res, last, st.op, to)
			var needs *harness.NeedsHostsError
			if errors.As(err, &needs) {
				Skip(needs.Error())
			}
			Expect(err).NotTo(HaveOccurred())
			last = s
			if s.DomainXML != "" {
				AddReportEntry("live domain XML after "+string(st.op), s.DomainXML, ReportEntryVisibilityFailureOrVerbose)
			}
			for _, n := range s.Notes {
				AddReportEntry("note", n, ReportEntryVisibilityAlways)
			}
			Expect(s.Differences).To(match.HaveNoDifferences(), "after %s, server %s on %s (expected fragments:\n%s)", st.op, res.Server.ID, s.Host, s.Expected.FragmentsXML)
		}, NodeTimeout(timeout))
	}
}

// copyDomain is a deep copy, through XML.
func copyDomain(d *libvirtxml.Domain) (*libvirtxml.Domain, error) {
	xml, err := d.Marshal()
	if err != nil {
		return nil, err
	}
	cp := &libvirtxml.Domain{}
	return cp, cp.Unmarshal(xml)
}

// skipWhenHardwareDiffers skips a fixture written for a host shape the
// cloud does not have (e.g. two NUMA nodes), naming what is missing,
// instead of failing for the cloud's hardware.
func skipWhenHardwareDiffers(res *harness.Result) {
	fx := res.Fixture
	want := expect.Outcome(res.Want.Outcome)
	if want != expect.Fits && want != expect.NoValidHost {
		return
	}
	var shapes []string
	anyAgrees := false
	for h, exp := range res.Predicted {
		if exp.Outcome == want {
			anyAgrees = true
		}
		shapes = append(shapes, fmt.Sprintf("%s: fitter predicts %s (%s)", h, exp.Outcome, exp.ReasonText))
	}
	if !anyAgrees && res.Server == nil && res.CreateErr == nil && res.FlavorErr == nil {
		Skip(fmt.Sprintf("fixture %s expects %s, which needs a host shape this cloud does not have: %s", fx.Name, want, strings.Join(shapes, "; ")))
	}
}

func anyHost(res *harness.Result) string {
	for h := range res.Predicted {
		return h
	}
	return ""
}

// requireDomain fails a property spec whose server never produced a
// domain, saying why, instead of reporting a misleading difference.
func requireDomain(res *harness.Result) {
	GinkgoHelper()
	switch {
	case res == nil:
		Fail("the fixture did not run")
	case res.FlavorErr != nil:
		Fail("no domain: the flavor's extra specs were rejected: " + res.FlavorErr.Error())
	case res.CreateErr != nil:
		Fail("no domain: server create was rejected: " + res.CreateErr.Error())
	case res.BootErr != nil:
		Fail("no domain: " + res.BootErr.Error())
	case res.Domain == nil:
		Fail("no domain was read")
	}
}

func evidenceHint(res *harness.Result) string {
	if res == nil || res.Server == nil {
		return ""
	}
	return fmt.Sprintf("server %s on %s; the report entries hold the live domain XML, the expected topology and all differences", res.Server.ID, res.Host)
}

// attachEvidence adds the run's evidence to the spec report: shown when a
// spec fails (or with -v), and always present in the JSON report.
func attachEvidence(res *harness.Result) {
	if res == nil {
		return
	}
	if res.DomainXML != "" {
		AddReportEntry("live domain XML", res.DomainXML, ReportEntryVisibilityFailureOrVerbose)
	}
	if res.Expected != nil {
		if js, err := json.MarshalIndent(res.Expected, "", "  "); err == nil {
			AddReportEntry("expected topology (reference fitter)", string(js), ReportEntryVisibilityFailureOrVerbose)
		}
	}
	if len(res.Differences) > 0 {
		AddReportEntry("differences", match.Render(res.Differences), ReportEntryVisibilityFailureOrVerbose)
	}
	for _, n := range res.Notes {
		AddReportEntry("note", n, ReportEntryVisibilityAlways)
	}
}

// Uninterruptible adapts a resource cleanup for DeferCleanup so that an
// interrupt (SIGINT, SIGTERM) arriving while it runs does not abandon it:
// Ginkgo cancels the running node's context on interrupt, and a delete
// whose wait is cancelled leaves the server half-deleted when the process
// exits. The cleanup gets its own deadline instead; register it with a
// GracePeriod at least as long so that Ginkgo waits for it.
func Uninterruptible(cleanup func(context.Context) error, timeout time.Duration) func(SpecContext) error {
	return func(ctx SpecContext) error {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return cleanup(c)
	}
}
