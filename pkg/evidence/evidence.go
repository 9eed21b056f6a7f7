// Package evidence is the schema of a fixture's evidence file,
// evidence/<fixture>/result.json in a run's report directory: written by
// the harness (harness.WriteEvidence), read by the report (report.Load).
// One type for both sides, so that a field cannot be written under one
// name and read under another.
package evidence

import (
	"encoding/json"

	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
)

// FileName is the evidence file in each fixture's directory.
const FileName = "result.json"

// Result is one fixture's evidence.
type Result struct {
	Fixture string `json:"fixture"`
	// File is FILE:LINE of the fixture's definition.
	File   string   `json:"file"`
	Labels []string `json:"labels"`
	// Outcome is the fixture's expected outcome for the cloud's release.
	Outcome     string `json:"expected_outcome"`
	ServerID    string `json:"server_id,omitempty"`
	Host        string `json:"host,omitempty"`
	FlavorError string `json:"flavor_error,omitempty"`
	CreateError string `json:"create_error,omitempty"`
	BootError   string `json:"boot_error,omitempty"`
	// Predicted is the fitter's expectation on every configured host,
	// before anything was created.
	Predicted map[string]*expect.Expected `json:"predicted"`
	// Expected is the expectation for the host the server landed on.
	Expected   *expect.Expected `json:"expected,omitempty"`
	Candidates []Candidate      `json:"candidates,omitempty"`
	// Differences are the live domain's (and Nova's record's) differences
	// from Expected; empty means it conforms.
	Differences []domain.Difference `json:"differences"`
	// NovaTopology is Nova's own record of the server's topology, as the
	// API returned it (GET /servers/{id}/topology).
	NovaTopology json.RawMessage `json:"nova_topology,omitempty"`
	Notes        []string        `json:"notes,omitempty"`
}

// Candidate is one expectation for the landed host, computed from one
// set of other servers counted on it.
type Candidate struct {
	// Snapshot says which set: "before boot" (the prediction), one order
	// of concurrent claims, or the usage before or after a lifecycle step.
	Snapshot string `json:"snapshot"`
	// Others are the servers on the host that the usage counted.
	Others      []string            `json:"others"`
	Expected    *expect.Expected    `json:"expected"`
	Differences []domain.Difference `json:"differences"`
}
