package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":     duration,
	"join":    strings.Join,
	"verdict": func(v string) string { return "verdict-" + v },
}).Parse(pageTemplate))

// pageView is what the template renders.
type pageView struct {
	*Run
	Title    string
	Hosts    []kv
	Fixtures []*fixtureView
	// Differing counts the fixtures with recorded differences.
	Differing int
}

type kv struct{ K, V string }

type fixtureView struct {
	*Fixture
	Anchor string
	// Section is false for fixtures that ran no spec and left no
	// evidence: they get a summary row only.
	Section bool
	// Differs is set when the evidence records differences.
	Differs bool
	// Pictures are the expected and the observed placement.
	Pictures []svgPicture
	// PictureNotes explain missing or partial pictures.
	PictureNotes []string
	Predicted    []kv
	ExpectedXML  string
	// ObservedNUMA is the NUMA-related elements of the live domain.
	ObservedNUMA string
	Errors       []kv
}

// WriteHTML writes r as one self-contained HTML page: inline CSS and SVG,
// no scripts and no external assets.
func WriteHTML(w io.Writer, r *Run) error {
	v := pageView{Run: r, Title: "NUMA conformance report"}
	if r.Facts.RunID != "" {
		v.Title += " — run " + r.Facts.RunID
	}
	for _, h := range slices.Sorted(maps.Keys(r.Facts.Hosts)) {
		v.Hosts = append(v.Hosts, kv{h, r.Facts.Hosts[h]})
	}
	for _, f := range r.Fixtures {
		fv := newFixtureView(r, f)
		if fv.Differs {
			v.Differing++
		}
		v.Fixtures = append(v.Fixtures, fv)
	}
	if err := page.Execute(w, v); err != nil {
		return fmt.Errorf("report: rendering HTML: %w", err)
	}
	return nil
}

func newFixtureView(r *Run, f *Fixture) *fixtureView {
	fv := &fixtureView{Fixture: f, Anchor: "fixture-" + f.Name,
		Section: f.Evidence != nil || f.Verdict != Skipped}
	ev := f.Evidence
	if ev == nil {
		return fv
	}
	fv.Differs = len(ev.Differences) > 0
	for _, e := range []kv{{"flavor", ev.FlavorError}, {"create", ev.CreateError}, {"boot", ev.BootError}} {
		if e.V != "" {
			fv.Errors = append(fv.Errors, e)
		}
	}
	for _, h := range slices.Sorted(maps.Keys(ev.Predicted)) {
		p := ev.Predicted[h]
		if p == nil {
			continue
		}
		s := string(p.Outcome)
		if p.ReasonText != "" {
			s += ": " + p.ReasonText
		}
		fv.Predicted = append(fv.Predicted, kv{h, s})
	}
	fv.ExpectedXML = ev.ExpectedXML
	if fv.ExpectedXML == "" && ev.Expected != nil {
		fv.ExpectedXML = ev.Expected.FragmentsXML
	}
	if ev.DomainXML != "" {
		fv.ObservedNUMA = numaElements(ev.DomainXML)
	}

	var exp, obs *Placement
	switch {
	case fv.ExpectedXML != "":
		p, err := PlacementFromXML(fv.ExpectedXML)
		if err != nil {
			fv.PictureNotes = append(fv.PictureNotes, "expected.xml could not be read: "+err.Error())
		} else {
			exp = p
		}
	case ev.Expected != nil && ev.Expected.Placed != nil:
		exp = PlacementFromTopology(ev.Expected.Placed)
	}
	if ev.DomainXML != "" {
		p, err := PlacementFromXML(ev.DomainXML)
		if err != nil {
			fv.PictureNotes = append(fv.PictureNotes, "domain.xml could not be read: "+err.Error())
		} else {
			obs = p
		}
	}
	if exp == nil && obs == nil {
		fv.PictureNotes = append(fv.PictureNotes, "nothing to draw: no expected placement and no live domain")
		return fv
	}
	markDifferences(exp, obs)
	nodes := hostNodes(hostNodeCount(r.Facts.Hosts[ev.Host]), exp, obs)
	for _, side := range []struct {
		title string
		p     *Placement
	}{{"expected (reference fitter)", exp}, {"observed (live domain)", obs}} {
		if side.p == nil {
			fv.PictureNotes = append(fv.PictureNotes, side.title+": none")
			continue
		}
		if side.p.Note != "" {
			fv.PictureNotes = append(fv.PictureNotes, side.title+": "+side.p.Note)
		}
		fv.Pictures = append(fv.Pictures, draw(side.title, side.p, nodes))
	}
	return fv
}

// duration shows a run time to a useful precision.
func duration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
