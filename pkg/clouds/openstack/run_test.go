package openstack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestNewRunChecksSpec checks that NewRun refuses a run ID that sweep could
// never find, a missing registrar and a negative delete timeout, naming the
// field, and that the delete timeout it keeps is the one asked for.
func TestNewRunChecksSpec(t *testing.T) {
	c := &Cloud{Name: "test"}
	register := func(func(context.Context) error) {}
	for _, tc := range []struct {
		spec  RunSpec
		field string
		want  string
	}{
		{RunSpec{ID: "ci-42", Register: register}, "ID", `run ID "ci-42": want 8 lowercase hex digits`},
		{RunSpec{ID: "0A1B2C3D", Register: register}, "ID", "the only run IDs sweep recognises"},
		{RunSpec{ID: "0a1b2c3d"}, "Register", "run Register nil: want a cleanup registrar"},
		{RunSpec{ID: "0a1b2c3d", Register: register, DeleteTimeout: -time.Second}, "DeleteTimeout", "run DeleteTimeout -1s: want a positive duration"},
	} {
		_, err := c.NewRun(tc.spec)
		var se *RunSpecError
		if !errors.As(err, &se) || se.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewRun(%+v) = %v; want a RunSpecError on %s saying %q", tc.spec, err, tc.field, tc.want)
		}
	}
	r, err := c.NewRun(RunSpec{ID: NewRunID(), Register: register, DeleteTimeout: 10 * time.Minute})
	if err != nil || r.deleteTimeout != 10*time.Minute {
		t.Fatalf("NewRun with a 10m delete timeout: %v, kept %v", err, r.deleteTimeout)
	}
	if r, _ := c.NewRun(RunSpec{ID: NewRunID(), Register: register}); r.deleteTimeout != DefaultDeleteTimeout {
		t.Errorf("default delete timeout %v; want %v", r.deleteTimeout, DefaultDeleteTimeout)
	}
}
