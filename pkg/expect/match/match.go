// Package match holds Gomega matchers over the expectation of pkg/expect,
// so that a suite's failure message is the list of differences (path,
// expected, observed) rather than two dumps of XML.
package match

import (
	"fmt"
	"strings"

	"github.com/onsi/gomega/types"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
)

// Conform succeeds when a *libvirtxml.Domain matches the expectation in
// every element Nova's NUMA code writes. With paths, only differences
// whose path starts with one of them count ("cpu/numa", "numatune"), so
// that each property can be its own spec.
func Conform(exp *expect.Expected, paths ...string) types.GomegaMatcher {
	return &conform{exp: exp, paths: paths}
}

type conform struct {
	exp   *expect.Expected
	paths []string
	diffs []domain.Difference
}

func (m *conform) Match(actual any) (bool, error) {
	d, ok := actual.(*libvirtxml.Domain)
	if !ok || d == nil {
		return false, fmt.Errorf("match.Conform wants a non-nil *libvirtxml.Domain, got %T", actual)
	}
	all, err := expect.Check(m.exp, d)
	if err != nil {
		return false, err
	}
	m.diffs = Filter(all, m.paths...)
	return len(m.diffs) == 0, nil
}

func (m *conform) FailureMessage(any) string {
	scope := "the domain"
	if len(m.paths) > 0 {
		scope = strings.Join(m.paths, ", ")
	}
	return fmt.Sprintf("expected %s to match the reference fitter, found %d difference(s):\n%s\nexpected fragments:\n%s",
		scope, len(m.diffs), Render(m.diffs), m.exp.FragmentsXML)
}

func (m *conform) NegatedFailureMessage(any) string {
	return "expected the domain to differ from the reference fitter's expectation, but it matches"
}

// HaveNoDifferences succeeds on an empty []domain.Difference (optionally
// after Filter by paths) and prints the list otherwise.
func HaveNoDifferences(paths ...string) types.GomegaMatcher {
	return &noDiffs{paths: paths}
}

type noDiffs struct {
	paths []string
	diffs []domain.Difference
}

func (m *noDiffs) Match(actual any) (bool, error) {
	d, ok := actual.([]domain.Difference)
	if !ok {
		return false, fmt.Errorf("match.HaveNoDifferences wants []domain.Difference, got %T", actual)
	}
	m.diffs = Filter(d, m.paths...)
	return len(m.diffs) == 0, nil
}

func (m *noDiffs) FailureMessage(any) string {
	scope := "no differences"
	if len(m.paths) > 0 {
		scope += " under " + strings.Join(m.paths, ", ")
	}
	return fmt.Sprintf("expected %s, found %d:\n%s", scope, len(m.diffs), Render(m.diffs))
}

func (m *noDiffs) NegatedFailureMessage(any) string {
	return "expected differences, found none"
}

// Filter keeps the differences under any of paths (all when none given).
func Filter(diffs []domain.Difference, paths ...string) []domain.Difference {
	if len(paths) == 0 {
		return diffs
	}
	var out []domain.Difference
	for _, d := range diffs {
		for _, p := range paths {
			if d.Path == p || strings.HasPrefix(d.Path, p+"/") || strings.HasPrefix(d.Path, p+"[") {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// Without drops the differences under any of paths.
func Without(diffs []domain.Difference, paths ...string) []domain.Difference {
	var out []domain.Difference
	for _, d := range diffs {
		if len(Filter([]domain.Difference{d}, paths...)) == 0 {
			out = append(out, d)
		}
	}
	return out
}

// Render lists differences one per line, aligned for reading in a log.
func Render(diffs []domain.Difference) string {
	var b strings.Builder
	for _, d := range diffs {
		fmt.Fprintf(&b, "  %s\n      expected: %s\n      observed: %s\n", d.Path, d.Expected, d.Observed)
	}
	return b.String()
}
