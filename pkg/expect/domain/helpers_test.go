package domain

import "strings"

// joinDiffs lays differences out one per line for test failure messages.
func joinDiffs(diffs []Difference) string {
	var b strings.Builder
	for _, d := range diffs {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}

// mustXML renders fragments for a failure message, or the rendering error.
func mustXML(f Fragments) string {
	s, err := f.XML()
	if err != nil {
		return err.Error()
	}
	return s
}
