package hosts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tlsSetup is what up.sh --tls made: libvirtd's TLS listener and the
// client's files.
func tlsSetup(t *testing.T) (addr string, files TLSConfig) {
	t.Helper()
	dialLocal(t) // skips without libvirtd
	dir := os.Getenv("NUMA_LIBVIRT_TLS_DIR")
	if dir == "" {
		dir = "/run/numa-libvirt-local/pki"
	}
	addr = os.Getenv("NUMA_LIBVIRT_TLS")
	if addr == "" {
		addr = "127.0.0.1:16514"
	}
	files = TLSConfig{CA: filepath.Join(dir, "cacert.pem"), Cert: filepath.Join(dir, "clientcert.pem"), Key: filepath.Join(dir, "clientkey.pem")}
	for _, f := range []string{files.CA, files.Cert, files.Key} {
		if _, err := os.Stat(f); err != nil {
			unavailable(t, "libvirtd's TLS listener and client certificate (up.sh --tls)", err)
		}
	}
	return addr, files
}

func TestTLS(t *testing.T) {
	addr, files := tlsSetup(t)
	ctx := t.Context()

	t.Run("verified", func(t *testing.T) {
		c, err := Dial(ctx, HostConfig{Name: "numa-compute-tls", URI: "qemu+tls://" + addr + "/system", TLS: &files, Timeout: 10 * time.Second})
		if err != nil {
			unavailable(t, "libvirtd's TLS listener at "+addr+" (up.sh --tls)", err)
		}
		defer c.Close()
		if _, err := c.Capabilities(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.sess.lv.DomainDefineXML("<domain/>"); err == nil || !strings.Contains(err.Error(), "read only") {
			t.Errorf("define over read-only TLS: got %v", err)
		}
	})

	t.Run("address override keeps the URI's name", func(t *testing.T) {
		// The server certificate names localhost and 127.0.0.1.
		c, err := Dial(ctx, HostConfig{Name: "numa-compute-tls", URI: "qemu+tls://localhost/system", Address: addr, TLS: &files, Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		_, err = Dial(ctx, HostConfig{Name: "numa-compute-tls", URI: "qemu+tls://numa-compute-tls.invalid/system", Address: addr, TLS: &files, Timeout: 10 * time.Second})
		var he *HostError
		var hostErr x509.HostnameError
		if !errors.As(err, &he) || he.Op != "connect" || !errors.As(err, &hostErr) {
			t.Errorf("certificate for another name: got %v", err)
		}
	})

	t.Run("unknown CA", func(t *testing.T) {
		other := files
		other.CA = writeSelfSignedCA(t)
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-tls", URI: "qemu+tls://" + addr + "/system", TLS: &other, Timeout: 10 * time.Second})
		var ua x509.UnknownAuthorityError
		if !errors.As(err, &ua) {
			t.Errorf("got %v", err)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		other := files
		other.Key = filepath.Join(t.TempDir(), "nokey.pem")
		_, err := Dial(ctx, HostConfig{Name: "numa-compute-tls", URI: "qemu+tls://" + addr + "/system", TLS: &other, Timeout: 10 * time.Second})
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "tls.cert/tls.key") {
			t.Errorf("got %v", err)
		}
	})
}

func writeSelfSignedCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
