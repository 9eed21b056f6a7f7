package hosts

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// dialer is the go-libvirt socket.Dialer for one connection. go-libvirt's
// own dialers take no context, cannot name TLS files one by one, and its
// SSH dialer never closes the SSH client; this one dials under the connect
// context, and remembers the connection so that a call that does not
// answer can be stopped by closing it.
type dialer struct {
	ctx      context.Context
	cfg      HostConfig
	ep       endpoint
	readOnly bool

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// Dial implements socket.Dialer.
func (d *dialer) Dial() (net.Conn, error) {
	var (
		c   net.Conn
		err error
	)
	switch d.ep.transport {
	case "unix":
		c, err = (&net.Dialer{}).DialContext(d.ctx, "unix", d.ep.socket)
	case "tcp":
		c, err = (&net.Dialer{}).DialContext(d.ctx, "tcp", d.cfg.dialAddress(d.ep))
	case "tls":
		c, err = d.dialTLS()
	case "ssh":
		c, err = d.dialSSH()
	default:
		err = fmt.Errorf("unsupported transport %q", d.ep.transport)
	}
	if err != nil {
		return nil, err
	}
	if d.readOnly {
		c = &readOnlyOpen{Conn: c}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		c.Close()
		return nil, ErrConnClosed
	}
	d.conn = c
	return c, nil
}

// close closes the connection, now or as soon as the dial returns one.
// Pending go-libvirt calls then fail instead of waiting forever.
func (d *dialer) close() {
	d.mu.Lock()
	c := d.conn
	d.closed = true
	d.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// whileDialing closes c if the connect context ends before stop is called,
// which ends a TLS or SSH handshake that the server never completes.
func whileDialing(ctx context.Context, c net.Conn) (stop func()) {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	cancel := context.AfterFunc(ctx, func() { c.Close() })
	return func() {
		cancel()
		c.SetDeadline(time.Time{})
	}
}

func (d *dialer) dialTLS() (net.Conn, error) {
	t := d.cfg.TLS
	if t == nil {
		return nil, errors.New("no tls settings")
	}
	caPEM, err := os.ReadFile(expandHome(t.CA))
	if err != nil {
		return nil, fmt.Errorf("tls.ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls.ca: no PEM certificate in %s", t.CA)
	}
	cert, err := tls.LoadX509KeyPair(expandHome(t.Cert), expandHome(t.Key))
	if err != nil {
		return nil, fmt.Errorf("tls.cert/tls.key: %w", err)
	}
	td := &tls.Dialer{Config: &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{cert},
		// The certificate names the host Nova knows, whatever address
		// the configuration dials.
		ServerName: d.ep.host,
		MinVersion: tls.VersionTLS12,
	}}
	c, err := td.DialContext(d.ctx, "tcp", d.cfg.dialAddress(d.ep))
	if err != nil {
		return nil, err
	}
	// libvirtd then sends one byte: 1 if it accepted our certificate.
	stop := whileDialing(d.ctx, c)
	defer stop()
	var b [1]byte
	if _, err := c.Read(b[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("waiting for libvirtd to accept the client certificate: %w", err)
	}
	if b[0] != 1 {
		c.Close()
		return nil, errors.New("libvirtd rejected the client certificate (tls_allowed_dn_list, or not signed by its CA)")
	}
	return c, nil
}

func (d *dialer) dialSSH() (net.Conn, error) {
	s := d.cfg.SSH
	if s == nil {
		return nil, errors.New("no ssh settings")
	}
	var signers []ssh.Signer
	if s.Key != "" {
		pem, err := os.ReadFile(expandHome(s.Key))
		if err != nil {
			return nil, fmt.Errorf("ssh.key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			return nil, fmt.Errorf("ssh.key %s: %w", s.Key, err)
		}
		signers = append(signers, signer)
	}
	if s.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, errors.New("ssh.agent is set but SSH_AUTH_SOCK is not")
		}
		ac, err := (&net.Dialer{}).DialContext(d.ctx, "unix", sock)
		if err != nil {
			return nil, fmt.Errorf("ssh agent: %w", err)
		}
		defer ac.Close()
		agentSigners, err := agent.NewClient(ac).Signers()
		if err != nil {
			return nil, fmt.Errorf("ssh agent: %w", err)
		}
		signers = append(signers, agentSigners...)
	}
	hostKey, err := d.hostKeyCallback()
	if err != nil {
		return nil, err
	}
	username := d.ep.user
	if username == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("no user in the URI and no current user: %w", err)
		}
		username = u.Username
	}

	addr := d.cfg.dialAddress(d.ep)
	tcp, err := (&net.Dialer{}).DialContext(d.ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := whileDialing(d.ctx, tcp)
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(tcp, addr, &ssh.ClientConfig{
		User:            username,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signers...)},
		HostKeyCallback: hostKey,
	})
	if err != nil {
		tcp.Close()
		return nil, err
	}
	client := ssh.NewClient(sc, chans, reqs)
	ch, err := client.Dial("unix", d.ep.socket)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("ssh: libvirt socket %s on the host: %w", d.ep.socket, err)
	}
	return &sshConn{Conn: ch, client: client}, nil
}

// hostKeyCallback checks the server's key in known_hosts under the URI's
// host (the name an operator recorded), then, when the configuration dials
// another address, under that address.
func (d *dialer) hostKeyCallback() (ssh.HostKeyCallback, error) {
	s := d.cfg.SSH
	if s.InsecureIgnoreHostKey {
		return ssh.InsecureIgnoreHostKey(), nil
	}
	file := s.KnownHosts
	if file == "" {
		file = "~/.ssh/known_hosts"
	}
	check, err := knownhosts.New(expandHome(file))
	if err != nil {
		return nil, fmt.Errorf("ssh.known_hosts: %w (the host key is verified unless ssh.insecure_ignore_host_key is set)", err)
	}
	uriPort := d.ep.port
	if uriPort == "" {
		uriPort = "22"
	}
	named := net.JoinHostPort(d.ep.host, uriPort)
	dialed := d.cfg.dialAddress(d.ep)
	return func(_ string, remote net.Addr, key ssh.PublicKey) error {
		err := check(named, remote, key)
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) && len(ke.Want) == 0 && dialed != named {
			err = check(dialed, remote, key)
		}
		if errors.As(err, &ke) {
			if len(ke.Want) == 0 {
				return fmt.Errorf("host key %s %s is not in %s: %w", key.Type(), ssh.FingerprintSHA256(key), file, err)
			}
			return fmt.Errorf("host key %s %s does not match the one in %s:%d (possible impostor): %w",
				key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line, err)
		}
		return err
	}, nil
}

// sshConn is the forwarded libvirt socket; closing it also closes the SSH
// connection that carries it.
type sshConn struct {
	net.Conn
	client *ssh.Client
}

// Close closes the forwarded socket and the SSH connection.
func (c *sshConn) Close() error {
	err := c.Conn.Close()
	if cerr := c.client.Close(); err == nil {
		err = cerr
	}
	return err
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// libvirt RPC constants (remote_protocol.x) for the one packet rewritten.
const (
	remoteProgram        = 0x20008086
	procConnectOpen      = 1
	packetCall           = 0
	connectReadOnly      = 1 // VIR_CONNECT_RO
	packetHeaderLen      = 28
	maxInspectedPacket   = 1 << 20
	connectOpenFlagsSize = 4
)

// readOnlyOpen sets VIR_CONNECT_RO in the REMOTE_PROC_CONNECT_OPEN call as
// it is written. go-libvirt always opens with flags 0, and this flag is
// what makes libvirtd refuse every change on a TCP, TLS or SSH connection
// (the read-only socket already does so on its own). The flags are the
// last word of that packet. Packets before it (authentication) pass
// unchanged, and after it the stream is not inspected.
type readOnlyOpen struct {
	net.Conn
	mu      sync.Mutex
	done    bool
	pending []byte
}

// Write passes p on, holding back an incomplete packet until the rest of
// it arrives, as long as the ConnectOpen call has not been seen.
func (c *readOnlyOpen) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return c.Conn.Write(p)
	}
	c.pending = append(c.pending, p...)
	var out []byte
	for !c.done && len(c.pending) >= 4 {
		n := int(binary.BigEndian.Uint32(c.pending))
		if n < packetHeaderLen || n > maxInspectedPacket {
			// Not a packet this code understands: do not interfere.
			c.done = true
			break
		}
		if len(c.pending) < n {
			break
		}
		pkt := c.pending[:n]
		if n >= packetHeaderLen+connectOpenFlagsSize &&
			binary.BigEndian.Uint32(pkt[4:]) == remoteProgram &&
			binary.BigEndian.Uint32(pkt[12:]) == procConnectOpen &&
			binary.BigEndian.Uint32(pkt[16:]) == packetCall {
			flags := pkt[n-connectOpenFlagsSize:]
			binary.BigEndian.PutUint32(flags, binary.BigEndian.Uint32(flags)|connectReadOnly)
			c.done = true
		}
		out = append(out, pkt...)
		c.pending = c.pending[n:]
	}
	if c.done {
		out = append(out, c.pending...)
		c.pending = nil
	}
	if len(out) > 0 {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
