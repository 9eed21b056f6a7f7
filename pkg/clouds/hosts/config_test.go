package hosts

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/nova"
)

func TestParseConfig(t *testing.T) {
	const doc = `
hosts:
  numa-compute-1:
    uri: qemu+tcp://numa-compute-1/system
    address: 127.0.0.1:16510
    timeout: 5s
    cpu_shared_set: "0-1"
    cpu_dedicated_set: 2-3
    reserved_huge_pages:
      - {node: 0, size: 2048, count: 64}
      - {node: 1, size: 1GB, count: 1}
  numa-compute-2:
    uri: qemu+ssh://nova@compute-2:2222/system
    ssh: {key: keys/id_ed25519, known_hosts: /etc/ssh/ssh_known_hosts}
  numa-compute-3:
    uri: qemu+tls://compute-3/system
    readonly: false
    tls: {ca: ca.pem, cert: client.pem, key: client-key.pem}
  local:
    uri: qemu:///system
    vcpu_pin_set: "0-7,^3"
`
	got, err := ParseConfig("/etc/numa/harness.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want := Hosts{
		"numa-compute-1": {Name: "numa-compute-1", URI: "qemu+tcp://numa-compute-1/system", Address: "127.0.0.1:16510",
			Timeout: 5 * time.Second, CPUSharedSet: "0-1", CPUDedicatedSet: "2-3",
			ReservedHugePages: []domain.ReservedHugePages{{Node: 0, SizeKB: 2048, Count: 64}, {Node: 1, SizeKB: 1048576, Count: 1}}},
		"numa-compute-2": {Name: "numa-compute-2", URI: "qemu+ssh://nova@compute-2:2222/system",
			SSH: &SSHConfig{Key: "/etc/numa/keys/id_ed25519", KnownHosts: "/etc/ssh/ssh_known_hosts"}},
		"numa-compute-3": {Name: "numa-compute-3", URI: "qemu+tls://compute-3/system", ReadWrite: true,
			TLS: &TLSConfig{CA: "/etc/numa/ca.pem", Cert: "/etc/numa/client.pem", Key: "/etc/numa/client-key.pem"}},
		"local": {Name: "local", URI: "qemu:///system", VCPUPinSet: "0-7,^3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}

	cfg, err := got["numa-compute-1"].DomainConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CPUSharedSet == nil || !cfg.CPUSharedSet.Equal(cpuset.MustParse("0-1")) ||
		cfg.CPUDedicatedSet == nil || !cfg.CPUDedicatedSet.Equal(cpuset.MustParse("2-3")) || cfg.VCPUPinSet != nil {
		t.Errorf("DomainConfig = %+v", cfg)
	}

	ep, err := parseURI(got["numa-compute-1"].URI, true)
	if err != nil {
		t.Fatal(err)
	}
	if a := got["numa-compute-1"].dialAddress(ep); a != "127.0.0.1:16510" {
		t.Errorf("dial address %q, want the override 127.0.0.1:16510", a)
	}
	ep, _ = parseURI(got["numa-compute-2"].URI, true)
	if ep.user != "nova" || ep.socket != DefaultReadOnlySocket || got["numa-compute-2"].dialAddress(ep) != "compute-2:2222" {
		t.Errorf("ssh endpoint %+v", ep)
	}
	ep, _ = parseURI(got["numa-compute-3"].URI, false)
	if got["numa-compute-3"].dialAddress(ep) != "compute-3:16514" {
		t.Errorf("tls endpoint %+v", ep)
	}
}

// TestParseConfigErrors checks that each mistake is reported with the file,
// line, host and key it concerns, and what was expected.
func TestParseConfigErrors(t *testing.T) {
	cases := []struct {
		name  string
		doc   string
		line  int
		host  string
		field string
		says  string
	}{
		{"unknown key", `
hosts:
  c1:
    uri: qemu:///system
    cpu_shared_sets: "0-1"
`, 5, "c1", "cpu_shared_sets", "unknown key; known keys here are address, cpu_dedicated_set"},
		{"host given twice", `
hosts:
  c1:
    uri: qemu+tcp://c1/system
  c1:
    uri: qemu+tcp://c2/system
`, 5, "", "c1", "given again (first at line 3, column 3)"},
		{"hosts given twice", `
hosts:
  c1: {uri: qemu+tcp://c1/system}
hosts:
  c2: {uri: qemu+tcp://c2/system}
`, 4, "", "hosts", "given again (first at line 2, column 1); YAML keeps one of the two"},
		{"unknown nested key", `
hosts:
  c1:
    uri: qemu+ssh://c1/system
    ssh:
      key: k
      known_host: kh
`, 7, "c1", "ssh.known_host", "unknown key; known keys here are agent, insecure_ignore_host_key, key, known_hosts"},
		{"unknown top-level key", `
host:
  c1: {uri: qemu:///system}
`, 2, "", "host", `the only top-level key is "hosts"`},
		{"bad URI scheme", `
hosts:
  c1:
    uri: http://c1/system
`, 4, "c1", "uri", `driver "http" is not qemu`},
		{"bad URI transport", `
hosts:
  c1:
    uri: qemu+libssh2://c1/system
`, 4, "c1", "uri", `transport "libssh2" is not one of unix, tcp, tls, ssh`},
		{"session URI", `
hosts:
  c1:
    uri: qemu:///session
`, 4, "c1", "uri", `path "/session" is not /system`},
		{"missing URI", `
hosts:
  c1:
    cpu_shared_set: "0"
`, 3, "c1", "uri", "missing; want qemu:///system"},
		{"bad cpu_shared_set", `
hosts:
  c1:
    uri: qemu:///system
    cpu_shared_set: 0-x
`, 5, "c1", "cpu_shared_set", `want a CPU list in Nova's syntax such as "0-3,^2,8", got "0-x"`},
		{"cpu set leaving no CPUs", `
hosts:
  c1:
    uri: qemu:///system
    cpu_dedicated_set: 0,^0
`, 5, "c1", "cpu_dedicated_set", "no CPUs available"},
		{"overlapping CPU sets", `
hosts:
  c1:
    uri: qemu:///system
    cpu_shared_set: 0-2
    cpu_dedicated_set: 2-3
`, 6, "c1", "cpu_dedicated_set", "overlaps cpu_shared_set 0-2"},
		{"vcpu_pin_set with cpu_dedicated_set", `
hosts:
  c1:
    uri: qemu:///system
    vcpu_pin_set: 0-1
    cpu_dedicated_set: 2-3
`, 5, "c1", "vcpu_pin_set", "cannot be set together with cpu_dedicated_set"},
		{"tls without files", `
hosts:
  c1:
    uri: qemu+tls://c1/system
`, 3, "c1", "tls", "needs tls: {ca, cert, key}"},
		{"tls missing key", `
hosts:
  c1:
    uri: qemu+tls://c1/system
    tls: {ca: ca.pem, cert: c.pem}
`, 5, "c1", "tls.key", "missing"},
		{"ssh settings on tcp", `
hosts:
  c1:
    uri: qemu+tcp://c1/system
    ssh: {agent: true}
`, 5, "c1", "ssh", "only applies to qemu+ssh URIs"},
		{"address on unix", `
hosts:
  c1:
    uri: qemu:///system
    address: 10.0.0.1
`, 5, "c1", "address", "only network transports"},
		{"bad timeout", `
hosts:
  c1:
    uri: qemu:///system
    timeout: 30
`, 5, "c1", "timeout", "want a positive duration such as 30s"},
		{"readonly not a bool", `
hosts:
  c1:
    uri: qemu:///system
    readonly: yes
`, 5, "c1", "readonly", `want true or false, got "yes"`},
		{"huge pages without count", `
hosts:
  c1:
    uri: qemu:///system
    reserved_huge_pages:
      - {node: 0, size: 2048}
`, 6, "c1", "reserved_huge_pages[0].count", "missing"},
		{"huge page size", `
hosts:
  c1:
    uri: qemu:///system
    reserved_huge_pages:
      - {node: 0, size: 2 pages, count: 1}
`, 6, "c1", "reserved_huge_pages[0].size", "want a page size in KiB"},
		{"URI parameter", `
hosts:
  c1:
    uri: qemu+tcp://c1/system?no_verify=1
`, 4, "c1", "uri", `parameter "no_verify" is not supported`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig("harness.yaml", []byte(c.doc))
			if err == nil {
				t.Fatal("no error")
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("%v is not a *ConfigError", err)
			}
			if ce.File != "harness.yaml" || ce.Line != c.line || ce.Host != c.host || ce.Field != c.field {
				t.Errorf("got file %q line %d host %q field %q, want harness.yaml line %d host %q field %q (%v)",
					ce.File, ce.Line, ce.Host, ce.Field, c.line, c.host, c.field, err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error %q does not say %q", err, c.says)
			}
			prefix := "harness.yaml:"
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			if c.host != "" && !strings.Contains(err.Error(), "host "+c.host+": "+c.field+": ") {
				t.Errorf("error %q does not name host %s and field %s", err, c.host, c.field)
			}
		})
	}
}

func TestParseConfigCPUSetErrorIsNovaInvalid(t *testing.T) {
	_, err := ParseConfig("h.yaml", []byte("hosts: {c1: {uri: 'qemu:///system', cpu_shared_set: '3-1'}}"))
	var ce *ConfigError
	if !errors.As(err, &ce) || nova.ClassOf(ce.Err) != "Invalid" || !strings.Contains(err.Error(), `element "3-1"`) {
		t.Fatalf("got %v; want a ConfigError wrapping nova.Invalid about element 3-1", err)
	}
}

func TestParseConfigReportsEveryProblem(t *testing.T) {
	_, err := ParseConfig("h.yaml", []byte(`
hosts:
  a: {uri: 'qemu:///system', bogus: 1}
  b: {uri: 'qemu+ftp://b/system'}
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"h.yaml:3: host a: bogus: unknown key", "h.yaml:4: host b: uri:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	_, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "missing.yaml: cannot read the configuration") {
		t.Errorf("got %v", err)
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	err := HostConfig{Name: "c1", URI: "qemu+ssh://c1/system"}.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "ssh" || ce.File != "" || ce.Line != 0 {
		t.Fatalf("got %v", err)
	}
	if got := err.Error(); got != "host c1: ssh: qemu+ssh://c1/system needs ssh: {key: FILE} or ssh: {agent: true}" {
		t.Errorf("got %q", got)
	}
	if err := (HostConfig{Name: "c1", URI: "qemu:///system"}).Validate(); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestParseURISockets(t *testing.T) {
	for _, c := range []struct {
		uri      string
		readOnly bool
		socket   string
	}{
		{"qemu:///system", true, DefaultReadOnlySocket},
		{"qemu:///system", false, DefaultSocket},
		{"qemu+unix:///system?socket=/tmp/s", true, "/tmp/s"},
		{"qemu+ssh://h/system?socket=/run/x", true, "/run/x"},
	} {
		ep, err := parseURI(c.uri, c.readOnly)
		if err != nil || ep.socket != c.socket || ep.driver != "qemu:///system" {
			t.Errorf("parseURI(%q, %v) = %+v, %v; want socket %s", c.uri, c.readOnly, ep, err, c.socket)
		}
	}
}

func TestParseConfigDecodeAndValidationErrorsTogether(t *testing.T) {
	_, err := ParseConfig("h.yaml", []byte(`
hosts:
  c1:
    uri: qemu:///system
    cpu_shared_set: 0-x
    readonly: yes
    reserved_huge_pages:
      - {node: 0, size: 2048}
`))
	got := strings.Split(fmt.Sprint(err), "\n")
	want := []string{
		`h.yaml:6: host c1: readonly: want true or false, got "yes"`,
		`h.yaml:8: host c1: reserved_huge_pages[0].count: missing; Nova needs node, size and count in every entry`,
		`h.yaml:5: host c1: cpu_shared_set: want a CPU list in Nova's syntax such as "0-3,^2,8", got "0-x": ` +
			`Invalid: [compute] cpu_shared_set: invalid CPU list "0-x": element "0-x": want a range of two CPU numbers, like 2-5`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
