package hosts

import (
	"errors"
	"fmt"
)

// HostError is a failed operation on one host's libvirt. It names the host
// and how it was reached, so that a report over many hosts points at the
// right one without further context.
type HostError struct {
	// Host is the Nova compute host name.
	Host string
	// URI is the host's libvirt URI; Address the dialed address when the
	// configuration overrides the URI's host.
	URI     string
	Address string
	// Op is what was being done: "connect", "capabilities", "domain xml", ...
	Op string
	// Err is the cause. It may wrap ErrConnClosed, ErrDomainNotFound,
	// context.DeadlineExceeded, a go-libvirt libvirt.Error (libvirt's own
	// error code and message), an *XMLError, or a nova exception.
	Err error
}

// Error renders "host NAME (URI[ via ADDRESS]): OP: cause".
func (e *HostError) Error() string {
	where := e.URI
	if e.Address != "" {
		where += " via " + e.Address
	}
	return fmt.Sprintf("host %s (%s): %s: %v", e.Host, where, e.Op, e.Err)
}

// Unwrap gives errors.Is and errors.As the cause.
func (e *HostError) Unwrap() error { return e.Err }

// XMLError is XML from libvirt that does not parse. Raw is the whole text,
// kept as evidence.
type XMLError struct {
	// What names the document: "capabilities", "domain 1b4e28ba-...".
	What string
	Raw  string
	Err  error
}

// Error names the document and the parse error; Raw is left out, as it
// can be long.
func (e *XMLError) Error() string {
	return fmt.Sprintf("%s: libvirt returned XML that does not parse (%d bytes kept): %v", e.What, len(e.Raw), e.Err)
}

// Unwrap gives errors.Is and errors.As the parse error.
func (e *XMLError) Unwrap() error { return e.Err }

var (
	// ErrConnClosed means the connection can no longer be used: it was
	// closed, libvirtd hung up, or a call did not answer in time and the
	// connection was closed to stop it. Dial again (a Pool does).
	ErrConnClosed = errors.New("connection closed")
	// ErrDomainNotFound means libvirt has no domain with that UUID or name
	// on the host.
	ErrDomainNotFound = errors.New("domain not found")
	// ErrUnknownHost means the configuration has no entry for the host.
	ErrUnknownHost = errors.New("host not in the configuration")
)
