package hosts

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/topology"
)

// maxInFlight bounds the calls one Conn has outstanding. libvirtd serves at
// most max_client_requests (5 by default) calls of one client at a time and
// queues the rest; a call waiting in that queue would spend its timeout
// there. Waiting here instead starts the timeout when the call is sent.
const maxInFlight = 4

// closeGrace bounds the polite goodbye (REMOTE_PROC_CONNECT_CLOSE) in Close
// before the socket is simply closed.
const closeGrace = 2 * time.Second

// redialRetry is how often a re-dial tries again while the host refuses
// connections (a libvirtd being restarted), within the host's timeout.
const redialRetry = 500 * time.Millisecond

// Conn is a connection to one host's libvirt. It is safe for concurrent
// use, and it heals: when a call has timed out (which closes the socket,
// the only way to stop a go-libvirt call) or libvirtd has hung up, the
// next call dials the host again, so one slow or interrupted call fails
// only itself. Only Close ends a Conn for good.
type Conn struct {
	cfg     HostConfig
	ep      endpoint
	timeout time.Duration
	slots   chan struct{}
	// dialing serialises re-dials; a channel so that waiting for it
	// honours the caller's context.
	dialing chan struct{}

	mu      sync.Mutex
	sess    *session
	closed  bool
	redials int
}

// errHungUp is why a session ends when libvirtd closed it.
var errHungUp = errors.New("libvirtd hung up")

// session is one libvirt connection of a Conn: a socket and go-libvirt's
// client over it. A Conn replaces a session that broke.
type session struct {
	dialer *dialer
	lv     *libvirt.Libvirt

	mu     sync.Mutex
	broken error // why the session is unusable (wraps ErrConnClosed); nil while usable
}

// Dial connects to the host's libvirt, read-only unless cfg.ReadWrite. The
// connect is bounded by ctx and by the host's timeout.
func Dial(ctx context.Context, cfg HostConfig) (*Conn, error) {
	c := &Conn{cfg: cfg, timeout: cfg.Timeout, slots: make(chan struct{}, maxInFlight), dialing: make(chan struct{}, 1)}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if err := cfg.Validate(); err != nil {
		return nil, c.errorf("configuration", err)
	}
	c.ep, _ = parseURI(cfg.URI, !cfg.ReadWrite)
	s, err := c.open(ctx)
	if err != nil {
		return nil, c.errorf("connect", err)
	}
	c.sess = s
	return c, nil
}

// open dials a new session under ctx and the host's timeout.
func (c *Conn) open(parent context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(parent, c.timeout)
	defer cancel()
	s := &session{dialer: &dialer{ctx: ctx, cfg: c.cfg, ep: c.ep, readOnly: !c.cfg.ReadWrite}}
	s.lv = libvirt.NewWithDialer(s.dialer)
	done := make(chan error, 1)
	go func() { done <- s.lv.ConnectToURI(libvirt.ConnectURI(c.ep.driver)) }()
	select {
	case err := <-done:
		if err != nil {
			s.dialer.close()
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		s.dialer.close()
		return nil, c.gaveUp(parent)
	}
}

// reopen replaces a broken session: it dials again, and while the host
// refuses connections (its libvirtd restarting) tries again every
// redialRetry, all within the host's timeout and ctx.
func (c *Conn) reopen(ctx context.Context, why error) (*session, error) {
	deadline := time.Now().Add(c.timeout)
	for {
		s, err := c.open(ctx)
		if err == nil {
			return s, nil
		}
		refused := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT)
		if !refused || time.Now().Add(redialRetry).After(deadline) {
			return nil, fmt.Errorf("dial again after %v: %w", why, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial again after %v: gave up: %w", why, context.Cause(ctx))
		case <-time.After(redialRetry):
		}
	}
}

// current is the usable session, dialed anew when the last one broke.
func (c *Conn) current(ctx context.Context) (*session, error) {
	c.mu.Lock()
	s, closed := c.sess, c.closed
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%w: closed by the caller", ErrConnClosed)
	}
	if s.err() == nil {
		return s, nil
	}
	select {
	case c.dialing <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("gave up waiting for another caller's re-dial: %w", context.Cause(ctx))
	}
	defer func() { <-c.dialing }()
	c.mu.Lock()
	s = c.sess // another caller may have re-dialed meanwhile
	c.mu.Unlock()
	why := s.err()
	if why == nil {
		return s, nil
	}
	ns, err := c.reopen(ctx, why)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		ns.close()
		return nil, fmt.Errorf("%w: closed by the caller", ErrConnClosed)
	}
	c.sess, c.redials = ns, c.redials+1
	s.dialer.close() // the broken session's socket, if libvirtd's hang-up left it open
	return ns, nil
}

// Config is the configuration the Conn was dialed with.
func (c *Conn) Config() HostConfig { return c.cfg }

// Err is nil while the Conn's current session is usable, and otherwise
// says why it is not (wrapping ErrConnClosed). A broken session is
// replaced by the next call; only after Close does every call fail.
func (c *Conn) Err() error {
	c.mu.Lock()
	s, closed := c.sess, c.closed
	c.mu.Unlock()
	if closed {
		return fmt.Errorf("%w: closed by the caller", ErrConnClosed)
	}
	return s.err()
}

// Redials is how many times the Conn has dialed its host again after a
// session broke.
func (c *Conn) Redials() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.redials
}

// Close ends the connection for good. It does not wait longer than a
// moment for a host that does not answer.
func (c *Conn) Close() error {
	c.mu.Lock()
	already := c.closed
	c.closed = true
	s := c.sess
	c.mu.Unlock()
	if !already {
		s.close()
	}
	return nil
}

// err is nil while the session is usable.
func (s *session) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		select {
		case <-s.lv.Disconnected():
			s.broken = fmt.Errorf("%w: %w", ErrConnClosed, errHungUp)
		default:
		}
	}
	return s.broken
}

// kill makes the session unusable for the reason given and closes the
// socket, which ends every pending go-libvirt call on it.
func (s *session) kill(reason error) {
	s.mu.Lock()
	if s.broken == nil {
		s.broken = fmt.Errorf("%w: %v", ErrConnClosed, reason)
	}
	s.mu.Unlock()
	s.dialer.close()
}

// close says goodbye to libvirtd, waiting at most closeGrace, and closes
// the socket.
func (s *session) close() {
	s.mu.Lock()
	polite := s.broken == nil
	if polite {
		s.broken = fmt.Errorf("%w: closed by the caller", ErrConnClosed)
	}
	s.mu.Unlock()
	if polite {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.lv.Disconnect()
		}()
		select {
		case <-done:
		case <-time.After(closeGrace):
		}
	}
	s.dialer.close()
}

func (c *Conn) errorf(op string, err error) *HostError {
	e := &HostError{Host: c.cfg.Name, URI: c.cfg.URI, Op: op, Err: err}
	if c.cfg.Address != "" {
		e.Address = c.cfg.Address
	}
	return e
}

// gaveUp explains why a call or connect ended early: the caller's context,
// or the host's per-call timeout.
func (c *Conn) gaveUp(parent context.Context) error {
	if err := parent.Err(); err != nil {
		return fmt.Errorf("gave up: %w", context.Cause(parent))
	}
	return fmt.Errorf("no answer within %s (the host's timeout): %w", c.timeout, context.DeadlineExceeded)
}

// call runs one go-libvirt call under ctx and the host's timeout, on the
// current session (dialed anew if the last one broke). A call that finds
// its session gone under it (libvirtd restarted since the last call, and
// go-libvirt had not noticed yet) is sent once more on a fresh session:
// every call here reads, or defines and undefines by UUID, so sending it
// twice is harmless.
func (c *Conn) call(ctx context.Context, op string, f func(lv *libvirt.Libvirt) error) error {
	gone, err := c.attempt(ctx, op, f)
	if gone && ctx.Err() == nil {
		_, err = c.attempt(ctx, op, f)
	}
	return err
}

// attempt makes one call. go-libvirt calls cannot be cancelled; closing
// the socket is what makes one return. So a call still unanswered after
// the host's timeout kills its session (libvirtd is hung, or the network
// is), and the next call dials again. A caller that gives up earlier gets
// its error at once, while the call finishes in the background under the
// same timeout: one impatient caller does not break the session that a
// Pool shares with others. gone reports that the session went away under
// the call.
func (c *Conn) attempt(ctx context.Context, op string, f func(lv *libvirt.Libvirt) error) (gone bool, err error) {
	if ctx.Err() != nil {
		return false, c.errorf(op, fmt.Errorf("gave up before calling: %w", context.Cause(ctx)))
	}
	s, err := c.current(ctx)
	if err != nil {
		return false, c.errorf(op, err)
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return false, c.errorf(op, fmt.Errorf("gave up waiting for a free request slot: %w", context.Cause(ctx)))
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-c.slots }()
		done <- f(s.lv)
	}()
	timer := time.NewTimer(c.timeout)
	hung := func() error {
		why := fmt.Errorf("no answer within %s (the host's timeout): %w", c.timeout, context.DeadlineExceeded)
		s.kill(fmt.Errorf("%s: %v", op, why))
		return fmt.Errorf("%w; connection closed, the next call dials again", why)
	}
	select {
	case err := <-done:
		timer.Stop()
		if err == nil {
			return false, nil
		}
		if !socketGone(err) {
			return false, c.errorf(op, err)
		}
		prior := s.err()
		s.kill(fmt.Errorf("libvirtd hung up during %s", op))
		return prior == nil || errors.Is(prior, errHungUp), c.errorf(op, fmt.Errorf("%w (%v); the next call dials again", s.err(), err))
	case <-timer.C:
		return false, c.errorf(op, hung())
	case <-ctx.Done():
		go func() {
			select {
			case <-done:
				timer.Stop()
			case <-timer.C:
				hung()
			}
		}()
		return false, c.errorf(op, fmt.Errorf("gave up: %w", context.Cause(ctx)))
	}
}

// socketGone reports go-libvirt's ways of saying the socket went away.
func socketGone(err error) bool {
	return errors.Is(err, libvirt.ErrInterrupted) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// Capabilities is the host's libvirt capabilities (virsh capabilities),
// where Nova reads the host NUMA topology from.
func (c *Conn) Capabilities(ctx context.Context) (*libvirtxml.Caps, error) {
	caps, _, err := c.capabilities(ctx)
	return caps, err
}

func (c *Conn) capabilities(ctx context.Context) (*libvirtxml.Caps, string, error) {
	var raw string
	err := c.call(ctx, "capabilities", func(lv *libvirt.Libvirt) error {
		var err error
		raw, err = lv.ConnectGetCapabilities()
		return err
	})
	if err != nil {
		return nil, "", err
	}
	caps := &libvirtxml.Caps{}
	if err := caps.Unmarshal(raw); err != nil {
		return nil, raw, c.errorf("capabilities", &XMLError{What: "capabilities", Raw: raw, Err: err})
	}
	return caps, raw, nil
}

// OnlineCPUs is the host's online CPUs as Nova's Host.get_online_cpus()
// reads them (virNodeGetCPUMap).
func (c *Conn) OnlineCPUs(ctx context.Context) (cpuset.CPUSet, error) {
	var (
		cpumap []byte
		n      int32
	)
	err := c.call(ctx, "online cpus", func(lv *libvirt.Libvirt) error {
		var err error
		cpumap, _, n, err = lv.NodeGetCPUMap(1, 1, 0)
		return err
	})
	if err != nil {
		return cpuset.CPUSet{}, err
	}
	return cpuMap(cpumap, int(n)), nil
}

// HostInfo is what the host's libvirt tells Nova about its NUMA layout,
// with the evidence it came from.
type HostInfo struct {
	// Caps and CapsXML are the capabilities, parsed and as libvirt sent
	// them.
	Caps    *libvirtxml.Caps
	CapsXML string
	// OnlineCPUs is Host.get_online_cpus().
	OnlineCPUs cpuset.CPUSet
	// Topology is what the driver's _get_host_numa_topology reports for
	// cfg; nil when Nova reports no NUMA topology for the host.
	Topology *topology.HostTopology
}

// HostTopology reads the capabilities and online CPUs and builds the host
// NUMA topology Nova sees under cfg (normally Config().DomainConfig()). An
// invalid cfg for this host (a CPU set naming offline CPUs) is the
// nova.Invalid that nova-compute would fail to start with; the HostInfo
// read so far comes with it, as evidence.
func (c *Conn) HostTopology(ctx context.Context, cfg domain.Config) (*HostInfo, error) {
	caps, raw, err := c.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	online, err := c.OnlineCPUs(ctx)
	if err != nil {
		return nil, err
	}
	info := &HostInfo{Caps: caps, CapsXML: raw, OnlineCPUs: online}
	if info.Topology, err = domain.HostFromCapabilities(caps, cfg, online); err != nil {
		return info, c.errorf("host topology", err)
	}
	return info, nil
}

// DomainXML fetches a domain's XML: the live definition of a running
// domain, else its persistent one. id is the Nova server UUID (which is the
// domain UUID) or, failing that, the libvirt domain name
// (OS-EXT-SRV-ATTR:instance_name). The raw XML is returned as libvirt sent
// it, also when it does not parse.
func (c *Conn) DomainXML(ctx context.Context, id string) (*libvirtxml.Domain, string, error) {
	dom, err := c.lookup(ctx, id)
	if err != nil {
		return nil, "", err
	}
	var raw string
	err = c.call(ctx, "domain xml", func(lv *libvirt.Libvirt) error {
		var err error
		raw, err = lv.DomainGetXMLDesc(dom, 0)
		if libvirt.IsNotFound(err) {
			// Undefined between the lookup and now.
			return fmt.Errorf("%w: %q (libvirt: %w)", ErrDomainNotFound, id, err)
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	d := &libvirtxml.Domain{}
	if err := d.Unmarshal(raw); err != nil {
		return nil, raw, c.errorf("domain xml", &XMLError{What: "domain " + id, Raw: raw, Err: err})
	}
	return d, raw, nil
}

// VersionInfo is the host's libvirt and hypervisor (QEMU) versions, which
// decide what Nova's driver may write.
type VersionInfo struct {
	Libvirt    string // e.g. "9.0.0"
	Hypervisor string // QEMU's version, e.g. "7.2.0"
}

// Version reads the host's libvirt and QEMU versions.
func (c *Conn) Version(ctx context.Context) (VersionInfo, error) {
	var lib, hv uint64
	err := c.call(ctx, "version", func(lv *libvirt.Libvirt) error {
		var err error
		if lib, err = lv.ConnectGetLibVersion(); err != nil {
			return err
		}
		hv, err = lv.ConnectGetVersion()
		return err
	})
	if err != nil {
		return VersionInfo{}, err
	}
	return VersionInfo{Libvirt: versionString(lib), Hypervisor: versionString(hv)}, nil
}

// Hostname is the host name libvirtd reports, to confirm the configuration
// reaches the machine it names.
func (c *Conn) Hostname(ctx context.Context) (string, error) {
	var name string
	err := c.call(ctx, "hostname", func(lv *libvirt.Libvirt) error {
		var err error
		name, err = lv.ConnectGetHostname()
		return err
	})
	return name, err
}

// versionString formats libvirt's major*1,000,000 + minor*1,000 + release.
func versionString(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

// parseUUID reads a UUID in its 8-4-4-4-12 form, or as 32 hex digits.
func parseUUID(s string) (libvirt.UUID, bool) {
	var u libvirt.UUID
	h := s
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, false
		}
		h = strings.ReplaceAll(s, "-", "")
	}
	if len(h) != 32 {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}
