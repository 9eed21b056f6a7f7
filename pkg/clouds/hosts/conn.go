package hosts

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
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

// Conn is a connection to one host's libvirt. It is safe for concurrent
// use. Once a call has timed out or libvirtd has hung up, every call fails
// with ErrConnClosed; dial again.
type Conn struct {
	cfg     HostConfig
	ep      endpoint
	timeout time.Duration
	dialer  *dialer
	lv      *libvirt.Libvirt
	slots   chan struct{}

	mu     sync.Mutex
	closed error // why the Conn is unusable; nil while it is usable
}

// Dial connects to the host's libvirt, read-only unless cfg.ReadWrite. The
// connect is bounded by ctx and by the host's timeout.
func Dial(ctx context.Context, cfg HostConfig) (*Conn, error) {
	c := &Conn{cfg: cfg, timeout: cfg.Timeout, slots: make(chan struct{}, maxInFlight)}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if err := cfg.Validate(); err != nil {
		return nil, c.errorf("configuration", err)
	}
	c.ep, _ = parseURI(cfg.URI, !cfg.ReadWrite)

	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.dialer = &dialer{ctx: ctx, cfg: cfg, ep: c.ep, readOnly: !cfg.ReadWrite}
	c.lv = libvirt.NewWithDialer(c.dialer)
	done := make(chan error, 1)
	go func() { done <- c.lv.ConnectToURI(libvirt.ConnectURI(c.ep.driver)) }()
	select {
	case err := <-done:
		if err != nil {
			c.dialer.close()
			return nil, c.errorf("connect", err)
		}
	case <-ctx.Done():
		c.dialer.close()
		return nil, c.errorf("connect", c.gaveUp(parent))
	}
	return c, nil
}

// Config is the configuration the Conn was dialed with.
func (c *Conn) Config() HostConfig { return c.cfg }

// Err is nil while the Conn is usable, and otherwise says why it is not
// (wrapping ErrConnClosed).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		select {
		case <-c.lv.Disconnected():
			c.closed = fmt.Errorf("%w: libvirtd hung up", ErrConnClosed)
		default:
		}
	}
	return c.closed
}

// Close ends the connection. It does not wait longer than a moment for a
// host that does not answer.
func (c *Conn) Close() error {
	c.mu.Lock()
	already := c.closed != nil
	if !already {
		c.closed = fmt.Errorf("%w: closed by the caller", ErrConnClosed)
	}
	c.mu.Unlock()
	if !already {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.lv.Disconnect()
		}()
		select {
		case <-done:
		case <-time.After(closeGrace):
		}
	}
	c.dialer.close()
	return nil
}

// kill makes the Conn unusable for the reason given and closes the socket,
// which ends every pending go-libvirt call.
func (c *Conn) kill(reason error) {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = fmt.Errorf("%w: %v", ErrConnClosed, reason)
	}
	c.mu.Unlock()
	c.dialer.close()
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

// call runs one go-libvirt call under ctx and the host's timeout. go-libvirt
// calls cannot be cancelled; closing the connection is what makes one
// return. So a call still unanswered after the host's timeout closes the
// connection (libvirtd is hung, or the network is). A caller that gives up
// earlier gets its error at once, while the call finishes in the
// background under the same timeout: one impatient caller does not break
// the connection that a Pool shares with others.
func (c *Conn) call(ctx context.Context, op string, f func(lv *libvirt.Libvirt) error) error {
	if err := c.Err(); err != nil {
		return c.errorf(op, err)
	}
	if ctx.Err() != nil {
		return c.errorf(op, fmt.Errorf("gave up before calling: %w", context.Cause(ctx)))
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return c.errorf(op, fmt.Errorf("gave up waiting for a free request slot: %w", context.Cause(ctx)))
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-c.slots }()
		done <- f(c.lv)
	}()
	timer := time.NewTimer(c.timeout)
	hung := func() error {
		why := fmt.Errorf("no answer within %s (the host's timeout): %w", c.timeout, context.DeadlineExceeded)
		c.kill(fmt.Errorf("%s: %v", op, why))
		return fmt.Errorf("%w; connection closed", why)
	}
	select {
	case err := <-done:
		timer.Stop()
		if err == nil {
			return nil
		}
		if errors.Is(err, libvirt.ErrInterrupted) || errors.Is(err, syscall.EINVAL) {
			// go-libvirt's ways of saying the socket went away.
			c.kill(fmt.Errorf("libvirtd hung up during %s", op))
			if cerr := c.Err(); cerr != nil {
				err = fmt.Errorf("%w (%v)", cerr, err)
			}
		}
		return c.errorf(op, err)
	case <-timer.C:
		return c.errorf(op, hung())
	case <-ctx.Done():
		go func() {
			select {
			case <-done:
				timer.Stop()
			case <-timer.C:
				hung()
			}
		}()
		return c.errorf(op, fmt.Errorf("gave up: %w", context.Cause(ctx)))
	}
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
	var online []int
	for i := 0; i < int(n) && i/8 < len(cpumap); i++ {
		if cpumap[i/8]&(1<<(i%8)) != 0 {
			online = append(online, i)
		}
	}
	return cpuset.New(online...), nil
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
	var dom libvirt.Domain
	err := c.call(ctx, "domain lookup", func(lv *libvirt.Libvirt) error {
		var err error
		if uuid, ok := parseUUID(id); ok {
			dom, err = lv.DomainLookupByUUID(uuid)
		} else {
			dom, err = lv.DomainLookupByName(id)
		}
		if libvirt.IsNotFound(err) {
			return fmt.Errorf("%w: %q (libvirt: %w)", ErrDomainNotFound, id, err)
		}
		return err
	})
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
