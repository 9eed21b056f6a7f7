package openstack

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// ConnectErrorKind classifies why Connect failed, so that callers (and the
// cloud-gated tests) can tell "no cloud configured here" from "the cloud is
// configured but broken" without matching on error strings.
type ConnectErrorKind string

const (
	// NoConfig means no clouds.yaml was found in any search location.
	NoConfig ConnectErrorKind = "no clouds.yaml"
	// MissingCloud means clouds.yaml exists but has no entry for the name.
	MissingCloud ConnectErrorKind = "cloud not in clouds.yaml"
	// NoCloud means no cloud was named and no openrc variables are set.
	NoCloud ConnectErrorKind = "no cloud named"
	// BadConfig means the entry exists but could not be parsed or is incomplete.
	BadConfig ConnectErrorKind = "invalid cloud entry"
	// BadCredentials means Keystone rejected the credentials (HTTP 401).
	BadCredentials ConnectErrorKind = "authentication rejected"
	// Unreachable means an endpoint (Keystone or Nova) could not be reached.
	Unreachable ConnectErrorKind = "endpoint unreachable"
	// ServiceError means a reachable service answered in an unexpected way
	// (missing catalog entry, no microversion support, other HTTP errors).
	ServiceError ConnectErrorKind = "service error"
)

// ConnectError is returned by Connect. It always names the cloud and the
// clouds.yaml that was used (or the locations searched), because the most
// common failure in a conformance run is pointing at the wrong file or entry.
type ConnectError struct {
	Cloud string
	// Path is the clouds.yaml that was read; empty when none was found.
	Path string
	// Searched lists the locations tried when Path is empty.
	Searched []string
	Kind     ConnectErrorKind
	Err      error
}

// Error renders the failure with expected vs observed state, for test logs.
func (e *ConnectError) Error() string {
	where := e.Path
	if where == "" {
		where = "none found; searched " + strings.Join(e.Searched, ", ")
	}
	msg := fmt.Sprintf("openstack: connect to cloud %q (clouds.yaml: %s): %s", e.Cloud, where, e.Kind)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes the underlying (often gophercloud HTTP) error to errors.As.
func (e *ConnectError) Unwrap() error { return e.Err }

// MicroversionError reports that an operation needs a newer compute API
// microversion than the cloud offers; conformance checks that depend on it
// should be skipped, not failed.
type MicroversionError struct {
	Operation string
	Need      string
	Have      string
}

// Error renders the failure with expected vs observed state, for test logs.
func (e *MicroversionError) Error() string {
	return fmt.Sprintf("openstack: %s needs compute microversion >= %s, cloud max is %s", e.Operation, e.Need, e.Have)
}

// ServerFaultError reports that a server went to ERROR while we waited for
// it, carrying Nova's fault so the failure message explains the scheduling
// or spawn failure instead of only saying "timed out".
type ServerFaultError struct {
	ServerID string
	Name     string
	Status   string
	// Expected is the status that was waited for; empty means ACTIVE.
	Expected string
	Code     int
	Message  string
	Details  string
}

// Error renders the failure with expected vs observed state, for test logs.
func (e *ServerFaultError) Error() string {
	want := e.Expected
	if want == "" {
		want = "ACTIVE"
	}
	msg := fmt.Sprintf("openstack: server %s (%s): expected status %s, observed %s; fault %d: %s",
		e.ServerID, e.Name, want, e.Status, e.Code, e.Message)
	if e.Details != "" {
		// Details is usually a traceback whose end names the exception;
		// keep the tail so the message stays readable.
		d := e.Details
		if len(d) > 800 {
			d = "..." + d[len(d)-800:]
		}
		msg += "\ndetails: " + d
	}
	return msg
}

// TimeoutError reports a wait that ran out of time, with the last observed
// state as evidence of where it got stuck.
type TimeoutError struct {
	What     string
	ID       string
	Timeout  time.Duration
	Expected string
	Observed string
	Err      error
}

// Error renders the failure with expected vs observed state, for test logs.
func (e *TimeoutError) Error() string {
	msg := fmt.Sprintf("openstack: timed out after %s waiting for %s %s: expected %s, last observed %s",
		e.Timeout, e.What, e.ID, e.Expected, e.Observed)
	if e.Err != nil {
		msg += " (last error: " + e.Err.Error() + ")"
	}
	return msg
}

// Unwrap exposes the underlying (often gophercloud HTTP) error to errors.As.
func (e *TimeoutError) Unwrap() error { return e.Err }

// ExtraSpecsError reports that Nova rejected a flavor's extra specs. It
// names the keys that were sent because Nova's own message does not always
// identify them, and the flavor has already been deleted when this is
// returned (FlavorDeleted says whether that delete succeeded).
type ExtraSpecsError struct {
	Flavor     string
	FlavorID   string
	ExtraSpecs map[string]string
	// Microversion is the compute microversion the extra specs were sent
	// at: whether Nova validates them depends on it.
	Microversion  string
	FlavorDeleted bool
	Err           error
}

// Error renders the failure with expected vs observed state, for test logs.
func (e *ExtraSpecsError) Error() string {
	keys := make([]string, 0, len(e.ExtraSpecs))
	for k, v := range e.ExtraSpecs {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	cleanup := "flavor deleted"
	if !e.FlavorDeleted {
		cleanup = "flavor NOT deleted (leaked)"
	}
	return fmt.Sprintf("openstack: set extra specs [%s] on flavor %s (%s) at compute microversion %s: %v; %s",
		strings.Join(keys, ", "), e.Flavor, e.FlavorID, e.Microversion, e.Err, cleanup)
}

// Unwrap exposes the underlying (often gophercloud HTTP) error to errors.As.
func (e *ExtraSpecsError) Unwrap() error { return e.Err }

// ProviderNotFoundError reports that a compute host has no compute node
// resource provider in placement, either because no hypervisor has that
// service host (HypervisorHostname empty: usually a wrong host name, so
// KnownHosts lists the hosts that do exist) or because placement has no
// provider named after the hypervisor (nova-compute never reported, or the
// provider was deleted).
type ProviderNotFoundError struct {
	Cloud string
	Host  string
	// HypervisorHostname is the provider name that was looked up; empty
	// when no hypervisor was found for Host.
	HypervisorHostname string
	// KnownHosts are the service hosts of the hypervisors that exist, when
	// no hypervisor was found for Host.
	KnownHosts []string
}

// Error renders the failure with expected vs observed state, for test logs.
func (e *ProviderNotFoundError) Error() string {
	if e.HypervisorHostname == "" {
		return fmt.Sprintf("openstack: cloud %q: compute host %q: expected a hypervisor with that service host, observed none (hypervisors' service hosts: [%s])",
			e.Cloud, e.Host, strings.Join(e.KnownHosts, ", "))
	}
	return fmt.Sprintf("openstack: cloud %q: compute host %q: expected a placement resource provider named %q (its hypervisor_hostname), observed none",
		e.Cloud, e.Host, e.HypervisorHostname)
}
