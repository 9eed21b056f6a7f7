package hosts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// These tests run against the real libvirtd on this machine, which
// ci/libvirt-local/up.sh --tcp --tls --ssh installs and starts. Without it they
// skip, unless NUMA_REQUIRE_LIBVIRT=1 (set by the Makefile) makes that a
// failure.

const requireEnv = "NUMA_REQUIRE_LIBVIRT"

// tcpAddr is where up.sh --tcp has libvirtd listen.
func tcpAddr() string {
	if a := os.Getenv("NUMA_LIBVIRT_TCP"); a != "" {
		return a
	}
	return "127.0.0.1:16509"
}

// unavailable skips the test, or fails it when the environment demands
// the capability.
func unavailable(t *testing.T, capability string, err error) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s is unavailable (%v), and %s=1 requires it; run ci/libvirt-local/up.sh --tcp --tls --ssh", capability, err, requireEnv)
	}
	t.Skipf("skipping: %s is unavailable (%v); run ci/libvirt-local/up.sh --tcp --tls --ssh, or set %s=1 to make this a failure",
		capability, err, requireEnv)
}

func localConfig(name string) HostConfig {
	return HostConfig{Name: name, URI: "qemu:///system", Timeout: 10 * time.Second}
}

// dialLocal connects read-only over the local socket, the way the harness
// would on a compute host.
func dialLocal(t *testing.T) *Conn {
	t.Helper()
	c, err := Dial(t.Context(), localConfig("local-ro"))
	if err != nil {
		unavailable(t, "libvirtd on "+DefaultReadOnlySocket, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dialSetup connects read-write, for test set-up only.
func dialSetup(t *testing.T) *Conn {
	t.Helper()
	cfg := localConfig("local-rw")
	cfg.ReadWrite = true
	c, err := Dial(t.Context(), cfg)
	if err != nil {
		unavailable(t, "libvirtd on "+DefaultSocket+" (read-write)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialTCP(t *testing.T, readWrite bool) *Conn {
	t.Helper()
	c, err := Dial(t.Context(), HostConfig{Name: "local-tcp", URI: "qemu+tcp://" + tcpAddr() + "/system", ReadWrite: readWrite, Timeout: 10 * time.Second})
	if err != nil {
		unavailable(t, "libvirtd over TCP at "+tcpAddr()+" (up.sh --tcp)", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestLocalHostTopology(t *testing.T) {
	c := dialLocal(t)
	ctx := t.Context()

	v, err := c.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.Libvirt, ".") || !strings.Contains(v.Hypervisor, ".") {
		t.Errorf("version %+v", v)
	}
	if _, err := c.Hostname(ctx); err != nil {
		t.Error(err)
	}

	caps, err := c.Capabilities(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Host.NUMA == nil || caps.Host.NUMA.Cells == nil || len(caps.Host.NUMA.Cells.Cells) == 0 {
		t.Fatalf("capabilities report no NUMA cells: %+v", caps.Host)
	}
	cfg, err := c.Config().DomainConfig()
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.HostTopology(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info.OnlineCPUs.IsEmpty() || !strings.Contains(info.CapsXML, "<capabilities>") {
		t.Fatalf("online CPUs %v, caps XML %d bytes", info.OnlineCPUs, len(info.CapsXML))
	}
	if info.Topology == nil || len(info.Topology.Cells) != len(caps.Host.NUMA.Cells.Cells) {
		t.Fatalf("topology %+v for %d capability cells", info.Topology, len(caps.Host.NUMA.Cells.Cells))
	}
	// With no CPU-set options every online CPU serves both kinds of guest,
	// and the cells' CPUs are the capabilities' CPUs.
	var all cpuset.CPUSet
	for i, cell := range info.Topology.Cells {
		var ids []int
		for _, cpu := range caps.Host.NUMA.Cells.Cells[i].CPUS.CPUs {
			ids = append(ids, cpu.ID)
		}
		want := cpuset.New(ids...).Intersection(info.OnlineCPUs)
		if !cell.CPUSet.Equal(want) || !cell.PCPUSet.Equal(want) || cell.MemoryMiB <= 0 {
			t.Errorf("cell %d: CPUSet %v PCPUSet %v memory %d MiB; want CPUs %v and some memory", cell.ID, cell.CPUSet, cell.PCPUSet, cell.MemoryMiB, want)
		}
		all = all.Union(cell.CPUSet)
	}
	if !all.Equal(info.OnlineCPUs) {
		t.Errorf("cells cover CPUs %v, online CPUs are %v", all, info.OnlineCPUs)
	}
	t.Logf("libvirt %s, QEMU %s, %d NUMA cell(s), online CPUs %v", v.Libvirt, v.Hypervisor, len(info.Topology.Cells), info.OnlineCPUs)

	// A CPU set naming CPUs the host does not have fails as nova-compute
	// would.
	max, _ := info.OnlineCPUs.Max()
	bad := cpuset.New(max + 1)
	cfg.CPUDedicatedSet = &bad
	_, err = c.HostTopology(ctx, cfg)
	var he *HostError
	if !errors.As(err, &he) || he.Op != "host topology" || !strings.Contains(err.Error(), "not online") {
		t.Errorf("offline cpu_dedicated_set: got %v", err)
	}
}

// TestReadOnlyIsEnforced checks that libvirtd itself refuses changes on
// the harness's connections: over the read-only socket, and over TCP where
// only the VIR_CONNECT_RO flag makes the difference.
func TestReadOnlyIsEnforced(t *testing.T) {
	define := func(c *Conn) error {
		// Invalid XML: a read-write connection fails parsing it, a
		// read-only one is refused before that.
		_, err := c.sess.lv.DomainDefineXML("<domain/>")
		return err
	}
	denied := func(err error) bool {
		var le libvirt.Error
		return errors.As(err, &le) && le.Code == uint32(libvirt.ErrOperationDenied)
	}
	t.Run("unix", func(t *testing.T) {
		if err := define(dialLocal(t)); !denied(err) {
			t.Errorf("define on the read-only socket: got %v, want operation denied", err)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		if err := define(dialTCP(t, false)); !denied(err) {
			t.Errorf("define over read-only TCP: got %v, want operation denied", err)
		}
		if err := define(dialTCP(t, true)); err == nil || denied(err) {
			t.Errorf("define over read-write TCP: got %v, want an XML error", err)
		}
	})
}

func TestTCP(t *testing.T) {
	ctx := t.Context()
	c := dialTCP(t, false)
	if _, err := c.Capabilities(ctx); err != nil {
		t.Fatal(err)
	}

	// Nova's host name need not resolve: address says where to dial.
	h := HostConfig{Name: "numa-compute-1", URI: "qemu+tcp://numa-compute-1.invalid/system", Address: tcpAddr(), Timeout: 5 * time.Second}
	c2, err := Dial(ctx, h)
	if err != nil {
		t.Fatalf("dial with address override: %v", err)
	}
	defer c2.Close()
	if _, err := c2.OnlineCPUs(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = c2.DomainXML(ctx, "instance-7fffffff")
	want := "host numa-compute-1 (qemu+tcp://numa-compute-1.invalid/system via " + tcpAddr() + "): domain lookup: domain not found"
	if !errors.Is(err, ErrDomainNotFound) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v\nwant %s...", err, want)
	}
}

func TestUnreachable(t *testing.T) {
	ctx := t.Context()
	t.Run("refused", func(t *testing.T) {
		start := time.Now()
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-9", URI: "qemu+tcp://127.0.0.1:1/system", Timeout: 2 * time.Second})
		var he *HostError
		if !errors.As(err, &he) || he.Host != "numa-compute-9" || he.URI != "qemu+tcp://127.0.0.1:1/system" || he.Op != "connect" {
			t.Fatalf("got %#v", err)
		}
		const want = "host numa-compute-9 (qemu+tcp://127.0.0.1:1/system): connect: dial tcp 127.0.0.1:1: connect: connection refused"
		if err.Error() != want {
			t.Errorf("got  %q\nwant %q", err, want)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("silent peer", func(t *testing.T) {
		// Accepts the connection and never answers, like a hung libvirtd.
		addr := silentListener(t)
		start := time.Now()
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-9", URI: "qemu+tcp://" + addr + "/system", Timeout: 300 * time.Millisecond})
		var he *HostError
		if !errors.As(err, &he) || he.Op != "connect" || !errors.Is(err, context.DeadlineExceeded) ||
			!strings.Contains(err.Error(), "no answer within 300ms") {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v for a 300ms timeout", d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		addr := silentListener(t)
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := Dial(cctx, HostConfig{Name: "numa-compute-9", URI: "qemu+tcp://" + addr + "/system"})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "gave up") {
			t.Errorf("got %v", err)
		}
	})
}

func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// freezableProxy relays TCP to the local read-only libvirt socket and can
// stop relaying, so that a connected libvirt appears to hang mid-call, or
// go away and come back, as a restarted libvirtd does.
type freezableProxy struct {
	addr   string
	mu     sync.Mutex
	frozen bool
	wake   chan struct{}
	l      net.Listener
	open   []net.Conn
	wg     sync.WaitGroup
}

func newFreezableProxy(t *testing.T) *freezableProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezableProxy{addr: l.Addr().String(), wake: make(chan struct{}), l: l}
	go p.serve(l)
	t.Cleanup(func() {
		p.down()
		p.set(false)
		p.wg.Wait()
	})
	return p
}

func (p *freezableProxy) serve(l net.Listener) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("unix", DefaultReadOnlySocket)
		if err != nil {
			in.Close()
			continue
		}
		p.mu.Lock()
		p.open = append(p.open, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.relay(out, in); out.Close() }()
		go func() { defer p.wg.Done(); io.Copy(in, out); in.Close() }()
	}
}

// down stops listening and drops every relayed connection: to a client,
// libvirtd has hung up and refuses new connections.
func (p *freezableProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.l.Close()
	for _, c := range p.open {
		c.Close()
	}
	p.open = nil
}

// restart is down, a pause of d, and listening again on the same address.
func (p *freezableProxy) restart(t *testing.T, d time.Duration) {
	p.down()
	time.Sleep(d)
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go p.serve(l)
}

// relay copies client to libvirtd, holding data back while frozen.
func (p *freezableProxy) relay(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for {
			p.mu.Lock()
			frozen, wake := p.frozen, p.wake
			p.mu.Unlock()
			if !frozen {
				break
			}
			<-wake
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *freezableProxy) set(frozen bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen && !frozen {
		close(p.wake)
		p.wake = make(chan struct{})
	}
	p.frozen = frozen
}

// TestCallTimeout checks that a call that gets no answer ends within the
// host's timeout with an error naming the host and operation, that the
// connection says its session is closed, and that the next call on the same
// Conn dials again and succeeds: one hung call fails only itself.
func TestCallTimeout(t *testing.T) {
	dialLocal(t) // skips without libvirtd
	ctx := t.Context()
	p := newFreezableProxy(t)
	cfg := HostConfig{Name: "numa-compute-1", URI: "qemu+tcp://" + p.addr + "/system", Timeout: 300 * time.Millisecond}
	pool := NewPool(Hosts{cfg.Name: cfg})
	defer pool.Close()

	c, err := pool.Conn(ctx, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Capabilities(ctx); err != nil {
		t.Fatal(err)
	}

	p.set(true)
	start := time.Now()
	_, err = c.Capabilities(ctx)
	took := time.Since(start)
	var he *HostError
	if !errors.As(err, &he) || he.Host != cfg.Name || he.Op != "capabilities" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if he.URI != cfg.URI {
		t.Errorf("HostError.URI = %q; want %q", he.URI, cfg.URI)
	}
	if took > 2*time.Second {
		t.Errorf("a 300ms call timeout took %v", took)
	}
	t.Logf("%v (after %v)", err, took.Round(time.Millisecond))
	if err := c.Err(); !errors.Is(err, ErrConnClosed) || !strings.Contains(err.Error(), "capabilities: no answer within 300ms") {
		t.Errorf("Err() = %v after a timeout; want ErrConnClosed saying why", err)
	}

	p.set(false)
	if _, err := c.OnlineCPUs(ctx); err != nil {
		t.Errorf("the call after a timeout: %v; want a fresh dial and an answer", err)
	}
	if c.Redials() != 1 || c.Err() != nil {
		t.Errorf("Redials() = %d, Err() = %v; want 1 and nil", c.Redials(), c.Err())
	}
	if c2, err := pool.Conn(ctx, cfg.Name); err != nil || c2 != c {
		t.Errorf("pool.Conn = %p, %v; want the same healed connection %p", c2, err, c)
	}
}

// TestRedialAfterRestart checks that a Conn survives its libvirtd going
// away and coming back between two calls (a restart): the next call dials
// again, retrying while connections are refused, and succeeds.
func TestRedialAfterRestart(t *testing.T) {
	dialLocal(t)
	ctx := t.Context()
	p := newFreezableProxy(t)
	c, err := Dial(ctx, HostConfig{Name: "numa-compute-1", URI: "qemu+tcp://" + p.addr + "/system", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Hostname(ctx); err != nil {
		t.Fatal(err)
	}
	p.restart(t, 0)
	if _, err := c.Hostname(ctx); err != nil {
		t.Fatalf("first call after a restart: %v", err)
	}

	// Still down when the call comes: the re-dial waits for it.
	p.down()
	go func() { time.Sleep(time.Second); p.restart(t, 0) }()
	start := time.Now()
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("call while the host restarts: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("the call returned after %v, before the host was back", d)
	}
	if c.Redials() != 2 {
		t.Errorf("Redials() = %d; want 2", c.Redials())
	}

	// Down for longer than the host's timeout: the call fails, naming the
	// host, its URI and the refused dial; the one after succeeds.
	c2, err := Dial(ctx, HostConfig{Name: "numa-compute-2", URI: "qemu+tcp://" + p.addr + "/system", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	p.down()
	_, err = c2.Hostname(ctx)
	var he *HostError
	if !errors.As(err, &he) || he.Host != "numa-compute-2" || !strings.Contains(err.Error(), p.addr) ||
		!strings.Contains(err.Error(), "dial again after") || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("call while the host is down: %v; want a HostError naming host, URI and the refused re-dial", err)
	}
	p.restart(t, 0)
	if _, err := c2.Hostname(ctx); err != nil {
		t.Errorf("call after the host came back: %v", err)
	}
}

// TestCallerGivesUp checks that a caller who cancels gets its error at
// once without breaking the connection for others: the call finishes in
// the background when libvirtd answers within the host's timeout.
func TestCallerGivesUp(t *testing.T) {
	dialLocal(t)
	p := newFreezableProxy(t)
	c, err := Dial(t.Context(), HostConfig{Name: "numa-compute-1", URI: "qemu+tcp://" + p.addr + "/system", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	p.set(true)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Capabilities(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "capabilities: gave up") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the caller waited %v after giving up at 100ms", d)
	}
	p.set(false)
	if _, err := c.OnlineCPUs(t.Context()); err != nil {
		t.Errorf("the connection broke when one caller gave up: %v", err)
	}
	if err := c.Err(); err != nil || c.Redials() != 0 {
		t.Errorf("Err() = %v, Redials() = %d; want nil and 0", err, c.Redials())
	}
}

// TestPoolSharesOneConnection runs many reads per host at once, as an
// audit does, through the pool's single connection.
func TestPoolSharesOneConnection(t *testing.T) {
	dialLocal(t)
	ctx := t.Context()
	pool := NewPool(Hosts{"local": localConfig("local")})
	defer pool.Close()

	const n = 24
	conns := make([]*Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := pool.Conn(ctx, "local")
			if err != nil {
				errs[i] = err
				return
			}
			conns[i] = c
			if i%2 == 0 {
				_, errs[i] = c.Capabilities(ctx)
			} else {
				_, _, err := c.DomainXML(ctx, randomUUID())
				if !errors.Is(err, ErrDomainNotFound) {
					errs[i] = fmt.Errorf("want not found, got %w", err)
				}
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("reader %d: %v", i, errs[i])
		}
		if conns[i] != conns[0] {
			t.Errorf("reader %d got another connection", i)
		}
	}

	_, err := pool.Conn(ctx, "elsewhere")
	if !errors.Is(err, ErrUnknownHost) || !strings.Contains(err.Error(), "host elsewhere") {
		t.Errorf("unknown host: got %v", err)
	}
	pool.Close()
	if conns[0].Err() == nil {
		t.Error("connection still usable after pool.Close")
	}
	if _, err := pool.Conn(ctx, "local"); !errors.Is(err, ErrConnClosed) {
		t.Errorf("after Close: got %v", err)
	}
}

func TestClosedConn(t *testing.T) {
	c := dialLocal(t)
	c.Close()
	_, err := c.Capabilities(t.Context())
	if !errors.Is(err, ErrConnClosed) || !strings.Contains(err.Error(), "host local-ro (qemu:///system): capabilities: connection closed: closed by the caller") {
		t.Errorf("got %v", err)
	}
}

func TestXMLErrorKeepsRaw(t *testing.T) {
	// libvirt's XML always parses; the evidence path is checked directly.
	d := &libvirtxml.Domain{}
	raw := "<domain><name>x</name"
	err := error(&XMLError{What: "domain x", Raw: raw, Err: d.Unmarshal(raw)})
	var xe *XMLError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &xe) || xe.Raw != raw {
		t.Errorf("got %v", err)
	}
}

func randomUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
