package hosts

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const sshdPath = "/usr/sbin/sshd"

// sshServer is an sshd of our own on a loopback port, whose only purpose is
// forwarding to the local libvirt sockets, as a compute host's sshd does
// for qemu+ssh.
type sshServer struct {
	addr    string
	hostKey ssh.PublicKey
	keyFile string // the client's private key
	dir     string
}

func writeKey(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func startSSHD(t *testing.T) *sshServer {
	t.Helper()
	dialLocal(t) // skips without libvirtd
	if _, err := os.Stat(sshdPath); err != nil {
		unavailable(t, "OpenSSH's sshd (up.sh --ssh installs it)", err)
	}
	if u, err := user.Current(); err != nil || u.Uid != "0" {
		// sshd only switches to the logged-in user as root.
		unavailable(t, "root, to run sshd", fmt.Errorf("running as %v", u))
	}
	dir := t.TempDir()
	s := &sshServer{dir: dir, keyFile: filepath.Join(dir, "id_ed25519")}
	s.hostKey = writeKey(t, filepath.Join(dir, "host_ed25519"))
	client := writeKey(t, s.keyFile)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(client), 0o600); err != nil {
		t.Fatal(err)
	}
	// sshd wants its privilege separation directory, which only its
	// service unit would create.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"ListenAddress " + s.addr,
		"HostKey " + filepath.Join(dir, "host_ed25519"),
		"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
		"PidFile none",
		"StrictModes no",
		"UsePAM no",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"AllowStreamLocalForwarding yes",
		"LogLevel ERROR",
	}, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf)
	var log strings.Builder
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-exited:
			t.Fatalf("sshd exited: %v: %s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %s", s.addr, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// knownHosts writes a known_hosts file with key under each name.
func (s *sshServer) knownHosts(t *testing.T, key ssh.PublicKey, names ...string) string {
	t.Helper()
	var lines []string
	for _, n := range names {
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(n)}, key))
	}
	f, err := os.CreateTemp(s.dir, "known_hosts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

func TestSSH(t *testing.T) {
	s := startSSHD(t)
	ctx := t.Context()
	uri := "qemu+ssh://root@" + s.addr + "/system"

	t.Run("verified host key", func(t *testing.T) {
		c, err := Dial(ctx, HostConfig{Name: "numa-compute-ssh", URI: uri, Timeout: 10 * time.Second,
			SSH: &SSHConfig{Key: s.keyFile, KnownHosts: s.knownHosts(t, s.hostKey, s.addr)}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Capabilities(ctx); err != nil {
			t.Fatal(err)
		}
		// The default remote socket of a read-only connection is the
		// read-only one.
		if _, err := c.sess.lv.DomainDefineXML("<domain/>"); err == nil || !strings.Contains(err.Error(), "read only") {
			t.Errorf("define over read-only ssh: got %v", err)
		}
	})

	t.Run("address override", func(t *testing.T) {
		// known_hosts has the Nova host name, which does not resolve.
		c, err := Dial(ctx, HostConfig{Name: "numa-compute-ssh", URI: "qemu+ssh://root@numa-compute-ssh.invalid/system",
			Address: s.addr, Timeout: 10 * time.Second,
			SSH: &SSHConfig{Key: s.keyFile, KnownHosts: s.knownHosts(t, s.hostKey, "numa-compute-ssh.invalid")}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.OnlineCPUs(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong host key", func(t *testing.T) {
		other := writeKey(t, filepath.Join(t.TempDir(), "other"))
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-ssh", URI: uri, Timeout: 10 * time.Second,
			SSH: &SSHConfig{Key: s.keyFile, KnownHosts: s.knownHosts(t, other, s.addr)}})
		var he *HostError
		var ke *knownhosts.KeyError
		if !errors.As(err, &he) || he.Op != "connect" || !errors.As(err, &ke) || len(ke.Want) != 1 ||
			!strings.Contains(err.Error(), "does not match") || !strings.Contains(err.Error(), "host numa-compute-ssh ("+uri+")") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("unknown host", func(t *testing.T) {
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-ssh", URI: uri, Timeout: 10 * time.Second,
			SSH: &SSHConfig{Key: s.keyFile, KnownHosts: s.knownHosts(t, s.hostKey, "somewhere-else")}})
		if err == nil || !strings.Contains(err.Error(), "is not in") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("missing known_hosts", func(t *testing.T) {
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-ssh", URI: uri, Timeout: 10 * time.Second,
			SSH: &SSHConfig{Key: s.keyFile, KnownHosts: filepath.Join(t.TempDir(), "none")}})
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "ssh.known_hosts") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("key not authorized", func(t *testing.T) {
		stranger := filepath.Join(t.TempDir(), "stranger")
		writeKey(t, stranger)
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-ssh", URI: uri, Timeout: 10 * time.Second,
			SSH: &SSHConfig{Key: stranger, KnownHosts: s.knownHosts(t, s.hostKey, s.addr)}})
		if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("got %v", err)
		}
	})
}
