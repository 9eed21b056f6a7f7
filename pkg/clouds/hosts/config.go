package hosts

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
	"github.com/numa-conformance/numa-conformance/pkg/yamlstrict"
)

// Defaults that apply when a HostConfig leaves a setting out.
const (
	// DefaultTimeout bounds each libvirt call. Reading a domain or the
	// capabilities takes milliseconds; a host that does not answer within
	// this is hung or unreachable, and waiting longer would only stall the
	// audit.
	DefaultTimeout = 30 * time.Second
	// DefaultSocket and DefaultReadOnlySocket are libvirtd's sockets for
	// qemu:///system, as libvirt's own client picks them: read-only
	// connections use the read-only socket, which libvirtd serves without
	// any way to change state.
	DefaultSocket         = "/var/run/libvirt/libvirt-sock"
	DefaultReadOnlySocket = "/var/run/libvirt/libvirt-sock-ro"
)

// HostConfig says how to reach one compute host's libvirt and what the
// host's nova.conf holds that the expected XML depends on. It is a plain
// struct: ParseConfig fills it from the harness configuration, and a caller
// may build one by hand. The zero value of every field is a safe default.
type HostConfig struct {
	// Name is the Nova compute host name (the server's
	// OS-EXT-SRV-ATTR:host), the key in the configuration's hosts map. It
	// names the host in every error.
	Name string
	// URI is the libvirt connection URI: qemu:///system,
	// qemu+unix:///system?socket=PATH, qemu+tcp://HOST[:PORT]/system,
	// qemu+tls://HOST[:PORT]/system or qemu+ssh://[USER@]HOST[:PORT]/system
	// (?socket=PATH names the remote socket).
	URI string
	// Address, if set, is dialed instead of the URI's host ("HOST" or
	// "HOST:PORT"), for when Nova's host name does not resolve where the
	// harness runs. TLS still verifies the certificate against the URI's
	// host name, and SSH looks the host key up under the URI's host first.
	Address string
	// ReadWrite opens a connection that may change libvirt state. The
	// harness never needs one; it exists for test set-up. The configuration
	// key is "readonly", which defaults to true.
	ReadWrite bool
	// Timeout bounds each call (and the connect); 0 means DefaultTimeout.
	Timeout time.Duration
	// TLS holds the client certificate for qemu+tls URIs.
	TLS *TLSConfig
	// SSH holds the credentials for qemu+ssh URIs.
	SSH *SSHConfig
	// CPUSharedSet, CPUDedicatedSet and VCPUPinSet are the host's
	// [compute] cpu_shared_set, [compute] cpu_dedicated_set and
	// vcpu_pin_set, in Nova's CPU-list syntax; empty means unset. No API
	// exposes them, yet they decide which host CPUs guests get.
	CPUSharedSet    string
	CPUDedicatedSet string
	VCPUPinSet      string
	// ReservedHugePages is the host's reserved_huge_pages.
	ReservedHugePages []domain.ReservedHugePages
}

// TLSConfig names the PEM files for a qemu+tls connection. libvirtd checks
// the client certificate by default, so all three are needed.
type TLSConfig struct {
	// CA is the certificate authority that signed libvirtd's certificate.
	CA string
	// Cert and Key are the client certificate and its private key.
	Cert string
	Key  string
}

// SSHConfig is how a qemu+ssh connection authenticates. The server's host
// key is always checked against a known_hosts file unless
// InsecureIgnoreHostKey says otherwise: a harness that believes a spoofed
// host would report on the wrong machine.
type SSHConfig struct {
	// Key is a private key file (unencrypted: the harness runs unattended).
	Key string
	// KnownHosts is the known_hosts file; empty means ~/.ssh/known_hosts,
	// as for the ssh command libvirt's own client runs.
	KnownHosts string
	// Agent also offers the keys of the agent at $SSH_AUTH_SOCK.
	Agent bool
	// InsecureIgnoreHostKey accepts any host key.
	InsecureIgnoreHostKey bool
}

// Hosts is the configuration's hosts map, keyed by Nova compute host name.
type Hosts map[string]HostConfig

// ConfigError is one problem in the configuration. Errors from ParseConfig
// join one ConfigError per problem; errors.As finds the first.
type ConfigError struct {
	// File and Line locate the problem; either may be empty (0) for a
	// HostConfig built in code.
	File string
	Line int
	// Host is the hosts map key, empty for a problem outside one host.
	Host string
	// Field is the configuration key at fault, dotted for nested keys
	// ("tls.ca", "reserved_huge_pages[1].size").
	Field string
	// Problem says what is wrong and what was expected.
	Problem string
	// Err is the underlying error, if any (e.g. a *cpuset.ParseError).
	Err error
}

// Error renders FILE:LINE: host HOST: FIELD: PROBLEM, leaving out what is
// unknown, so that an operator can go straight to the line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Host != "" {
		fmt.Fprintf(&b, "host %s: ", e.Host)
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// Unwrap gives errors.Is and errors.As the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads a hosts configuration file; see ParseConfig.
func LoadConfig(path string) (Hosts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ConfigError{File: path, Problem: "cannot read the configuration", Err: err}
	}
	return ParseConfig(path, data)
}

// ParseConfig reads a YAML document whose only top-level key is "hosts",
// strictly: an unknown key anywhere is an error, and so is every value
// that the host's libvirt or nova-compute would refuse. file names the
// document in errors, and relative TLS and SSH file names are taken
// relative to its directory. For example:
//
//	hosts:
//	  numa-compute-1:                   # OS-EXT-SRV-ATTR:host
//	    uri: qemu+tcp://numa-compute-1/system
//	    address: 127.0.0.1:16510        # optional: dial this instead
//	    readonly: true                  # default
//	    timeout: 30s                    # per call; default 30s
//	    cpu_shared_set: "0-1"           # nova.conf [compute]; Nova syntax
//	    cpu_dedicated_set: "2-3"
//	    reserved_huge_pages:
//	      - {node: 0, size: 2048, count: 64}   # size in KiB, or "2MB", "1GB"
//	  numa-compute-2:
//	    uri: qemu+ssh://nova@compute-2/system
//	    ssh: {key: id_ed25519, known_hosts: known_hosts}
//	  numa-compute-3:
//	    uri: qemu+tls://compute-3/system
//	    tls: {ca: ca.pem, cert: client.pem, key: client-key.pem}
//
// A harness configuration with more sections should decode "hosts" into a
// yaml.Node and call DecodeHosts.
func ParseConfig(file string, data []byte) (Hosts, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{File: file, Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	}
	if err := duplicateKeys(file, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &ConfigError{File: file, Problem: `empty document; want a mapping with the key "hosts"`}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, &ConfigError{File: file, Line: top.Line, Problem: `want a mapping with the key "hosts"`}
	}
	var hostsNode *yaml.Node
	var errs []error
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value == "hosts" {
			hostsNode = v
			continue
		}
		errs = append(errs, &ConfigError{File: file, Line: k.Line, Field: k.Value, Problem: `unknown key; the only top-level key is "hosts"`})
	}
	if hostsNode == nil && len(errs) == 0 {
		errs = append(errs, &ConfigError{File: file, Line: top.Line, Problem: `no "hosts" key`})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return DecodeHosts(file, hostsNode)
}

// duplicateKeys renders each key given twice in n as a ConfigError of file.
func duplicateKeys(file string, n *yaml.Node) error {
	var errs []error
	for _, d := range yamlstrict.Duplicates(yamlstrict.Check(n)) {
		errs = append(errs, &ConfigError{File: file, Line: d.Line, Field: d.Key, Problem: d.Problem(), Err: d})
	}
	return errors.Join(errs...)
}

// DecodeHosts decodes the value of a "hosts" key, with the same checks as
// ParseConfig. file names the document in errors and anchors relative file
// names.
func DecodeHosts(file string, n *yaml.Node) (Hosts, error) {
	d := &decoder{file: file}
	out := Hosts{}
	if err := duplicateKeys(file, n); err != nil {
		return nil, err
	}
	switch {
	case n == nil || n.Tag == "!!null":
		return out, nil
	case n.Kind != yaml.MappingNode:
		d.fail(n, "", "hosts", "want a mapping from Nova compute host name to its libvirt settings")
		return nil, d.err()
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "" {
			d.fail(k, "", "hosts", "empty host name; keys are Nova compute host names (OS-EXT-SRV-ATTR:host)")
			continue
		}
		h, ok := d.host(k, v)
		if ok {
			out[k.Value] = h
		}
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// decoder walks the YAML nodes itself rather than decoding into tagged
// structs, so that every error can name the host and the key, and so that
// unknown keys are errors at every level.
type decoder struct {
	file string
	errs []error
}

func (d *decoder) fail(n *yaml.Node, host, field, format string, args ...any) {
	e := &ConfigError{File: d.file, Host: host, Field: field, Problem: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line = n.Line
	}
	d.errs = append(d.errs, e)
}

func (d *decoder) err() error { return errors.Join(d.errs...) }

// mapping visits the keys of a mapping node, in order, reporting keys that
// have no handler.
func (d *decoder) mapping(n *yaml.Node, host, path string, fields map[string]func(k, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, host, path, "want a mapping with the keys %s", strings.Join(slices.Sorted(keys(fields)), ", "))
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		f, ok := fields[k.Value]
		if !ok {
			d.fail(k, host, join(path, k.Value), "unknown key; known keys here are %s", strings.Join(slices.Sorted(keys(fields)), ", "))
			continue
		}
		f(k, v)
	}
}

func keys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) str(v *yaml.Node, host, path string, dst *string) {
	if v.Kind != yaml.ScalarNode {
		d.fail(v, host, path, "want a string")
		return
	}
	if v.Tag != "!!null" {
		*dst = v.Value
	}
}

func (d *decoder) boolean(v *yaml.Node, host, path string, dst *bool) {
	// Tag check first: yaml.v3 would otherwise read YAML 1.1's yes/no/on/off.
	if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(dst) != nil {
		d.fail(v, host, path, "want true or false, got %q", v.Value)
	}
}

func (d *decoder) integer(v *yaml.Node, host, path string, dst *int) bool {
	if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(dst) != nil || *dst < 0 {
		d.fail(v, host, path, "want a whole number >= 0, got %q", v.Value)
		return false
	}
	return true
}

// host decodes one host's settings and validates them, attaching the line
// of the offending key to each validation error.
func (d *decoder) host(key, n *yaml.Node) (HostConfig, bool) {
	name := key.Value
	h := HostConfig{Name: name}
	lines := map[string]int{"": key.Line}
	readOnly := true
	before := len(d.errs)
	file := func(v *yaml.Node, path string, dst *string) {
		d.str(v, name, path, dst)
		if *dst != "" && !filepath.IsAbs(*dst) && !strings.HasPrefix(*dst, "~/") && d.file != "" {
			*dst = filepath.Join(filepath.Dir(d.file), *dst)
		}
	}
	at := func(path string, f func(k, v *yaml.Node)) func(k, v *yaml.Node) {
		return func(k, v *yaml.Node) { lines[path] = k.Line; f(k, v) }
	}
	d.mapping(n, name, "", map[string]func(k, v *yaml.Node){
		"uri":     at("uri", func(_, v *yaml.Node) { d.str(v, name, "uri", &h.URI) }),
		"address": at("address", func(_, v *yaml.Node) { d.str(v, name, "address", &h.Address) }),
		"readonly": at("readonly", func(_, v *yaml.Node) {
			d.boolean(v, name, "readonly", &readOnly)
		}),
		"timeout": at("timeout", func(_, v *yaml.Node) {
			t, err := time.ParseDuration(v.Value)
			if v.Kind != yaml.ScalarNode || err != nil || t <= 0 {
				d.fail(v, name, "timeout", "want a positive duration such as 30s or 1m30s, got %q", v.Value)
				return
			}
			h.Timeout = t
		}),
		"tls": at("tls", func(_, v *yaml.Node) {
			h.TLS = &TLSConfig{}
			d.mapping(v, name, "tls", map[string]func(k, v *yaml.Node){
				"ca":   at("tls.ca", func(_, v *yaml.Node) { file(v, "tls.ca", &h.TLS.CA) }),
				"cert": at("tls.cert", func(_, v *yaml.Node) { file(v, "tls.cert", &h.TLS.Cert) }),
				"key":  at("tls.key", func(_, v *yaml.Node) { file(v, "tls.key", &h.TLS.Key) }),
			})
		}),
		"ssh": at("ssh", func(_, v *yaml.Node) {
			h.SSH = &SSHConfig{}
			d.mapping(v, name, "ssh", map[string]func(k, v *yaml.Node){
				"key":         at("ssh.key", func(_, v *yaml.Node) { file(v, "ssh.key", &h.SSH.Key) }),
				"known_hosts": at("ssh.known_hosts", func(_, v *yaml.Node) { file(v, "ssh.known_hosts", &h.SSH.KnownHosts) }),
				"agent":       at("ssh.agent", func(_, v *yaml.Node) { d.boolean(v, name, "ssh.agent", &h.SSH.Agent) }),
				"insecure_ignore_host_key": at("ssh.insecure_ignore_host_key", func(_, v *yaml.Node) {
					d.boolean(v, name, "ssh.insecure_ignore_host_key", &h.SSH.InsecureIgnoreHostKey)
				}),
			})
		}),
		"cpu_shared_set":    at("cpu_shared_set", func(_, v *yaml.Node) { d.str(v, name, "cpu_shared_set", &h.CPUSharedSet) }),
		"cpu_dedicated_set": at("cpu_dedicated_set", func(_, v *yaml.Node) { d.str(v, name, "cpu_dedicated_set", &h.CPUDedicatedSet) }),
		"vcpu_pin_set":      at("vcpu_pin_set", func(_, v *yaml.Node) { d.str(v, name, "vcpu_pin_set", &h.VCPUPinSet) }),
		"reserved_huge_pages": at("reserved_huge_pages", func(_, v *yaml.Node) {
			h.ReservedHugePages = d.hugePages(v, name, lines)
		}),
	})
	h.ReadWrite = !readOnly
	decodeErrs := slices.Clone(d.errs[before:])
	for _, err := range unjoin(h.Validate()) {
		var ce *ConfigError
		if errors.As(err, &ce) {
			if failedAt(decodeErrs, name, ce.Field) {
				// Already reported as undecodable: its value here is
				// a placeholder.
				continue
			}
			ce.File = d.file
			ce.Line = lines[ce.Field]
			if ce.Line == 0 {
				ce.Line = lines[strings.SplitN(ce.Field, ".", 2)[0]]
			}
			if ce.Line == 0 {
				ce.Line = lines[""]
			}
		}
		d.errs = append(d.errs, err)
	}
	return h, len(d.errs) == before
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// hugePages decodes reserved_huge_pages: a list of {node, size, count},
// as Nova's option is a list of node:N,size:S,count:C dictionaries.
func (d *decoder) hugePages(n *yaml.Node, host string, lines map[string]int) []domain.ReservedHugePages {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, host, "reserved_huge_pages", "want a list of {node: N, size: KiB, count: N}")
		return nil
	}
	var out []domain.ReservedHugePages
	for i, item := range n.Content {
		path := fmt.Sprintf("reserved_huge_pages[%d]", i)
		lines[path] = item.Line
		var r domain.ReservedHugePages
		seen := map[string]bool{}
		d.mapping(item, host, path, map[string]func(k, v *yaml.Node){
			"node":  func(_, v *yaml.Node) { seen["node"] = d.integer(v, host, path+".node", &r.Node) },
			"count": func(_, v *yaml.Node) { seen["count"] = d.integer(v, host, path+".count", &r.Count) },
			"size": func(_, v *yaml.Node) {
				kb, err := pageSizeKB(v.Value)
				if v.Kind != yaml.ScalarNode || err != nil {
					d.fail(v, host, path+".size", "want a page size in KiB (2048) or with a unit (2MB, 1GiB), got %q", v.Value)
					return
				}
				r.SizeKB, seen["size"] = kb, true
			},
		})
		if item.Kind == yaml.MappingNode {
			for _, k := range []string{"node", "size", "count"} {
				if !seen[k] && !failedAt(d.errs, host, path+"."+k) {
					d.fail(item, host, path+"."+k, "missing; Nova needs node, size and count in every entry")
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// failedAt says whether errs already report the host's field, a key it is
// nested in, or a key nested in it.
func failedAt(errs []error, host, field string) bool {
	nested := func(inner, outer string) bool {
		rest, ok := strings.CutPrefix(inner, outer)
		return ok && (rest == "" || rest[0] == '.' || rest[0] == '[')
	}
	for _, e := range errs {
		if ce, ok := e.(*ConfigError); ok && ce.Host == host && (nested(ce.Field, field) || nested(field, ce.Field)) {
			return true
		}
	}
	return false
}

var sizeWithUnit = regexp.MustCompile(`^\s*(\d+)\s*([KMGT])i?B\s*$`)

// pageSizeKB reads a reserved_huge_pages size as Nova does: a plain number
// is KiB; otherwise oslo's string_to_bytes in IEC units, where K, M, G and
// T are powers of 1024 with or without the "i".
func pageSizeKB(s string) (int, error) {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
		return n, nil
	}
	m := sizeWithUnit.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("not a size: %q", s)
	}
	shift := map[string]int{"K": 0, "M": 10, "G": 20, "T": 30}[m[2]]
	return n << shift, nil
}

// Validate checks a HostConfig the way ParseConfig does, for one built in
// code. The errors are *ConfigError values, joined.
func (h HostConfig) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &ConfigError{Host: h.Name, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	if h.Name == "" {
		bad("", "no host name; it is the Nova compute host name (OS-EXT-SRV-ATTR:host)")
	}
	ep, err := parseURI(h.URI, !h.ReadWrite)
	if err != nil {
		errs = append(errs, &ConfigError{Host: h.Name, Field: "uri", Problem: err.Error()})
	}
	if h.Address != "" {
		if err == nil && ep.transport == "unix" {
			bad("address", "only network transports (tcp, tls, ssh) have an address to override; %s uses a local socket", h.URI)
		} else if _, _, aerr := splitAddress(h.Address); aerr != nil {
			bad("address", "%v; want HOST or HOST:PORT", aerr)
		}
	}
	if h.Timeout < 0 {
		bad("timeout", "must be positive, got %s", h.Timeout)
	}
	if err == nil {
		switch {
		case ep.transport == "tls" && h.TLS == nil:
			bad("tls", "%s needs tls: {ca, cert, key}", h.URI)
		case ep.transport != "tls" && h.TLS != nil:
			bad("tls", "only applies to qemu+tls URIs, not %s", h.URI)
		case ep.transport == "ssh" && (h.SSH == nil || (h.SSH.Key == "" && !h.SSH.Agent)):
			bad("ssh", "%s needs ssh: {key: FILE} or ssh: {agent: true}", h.URI)
		case ep.transport != "ssh" && h.SSH != nil:
			bad("ssh", "only applies to qemu+ssh URIs, not %s", h.URI)
		}
	}
	if h.TLS != nil {
		for _, f := range []struct{ name, value string }{{"tls.ca", h.TLS.CA}, {"tls.cert", h.TLS.Cert}, {"tls.key", h.TLS.Key}} {
			if f.value == "" {
				bad(f.name, "missing; libvirtd verifies the client, so ca, cert and key are all needed")
			}
		}
	}
	if h.SSH != nil && h.SSH.InsecureIgnoreHostKey && h.SSH.KnownHosts != "" {
		bad("ssh.insecure_ignore_host_key", "contradicts ssh.known_hosts; set one of them")
	}

	for _, o := range []struct{ field, option, value string }{
		{"cpu_shared_set", "[compute] cpu_shared_set", h.CPUSharedSet},
		{"cpu_dedicated_set", "[compute] cpu_dedicated_set", h.CPUDedicatedSet},
		{"vcpu_pin_set", "vcpu_pin_set", h.VCPUPinSet},
	} {
		if _, err := domain.ParseCPUListOption(o.option, o.value); err != nil {
			errs = append(errs, &ConfigError{Host: h.Name, Field: o.field,
				Problem: fmt.Sprintf("want a CPU list in Nova's syntax such as \"0-3,^2,8\", got %q: %v", o.value, err), Err: err})
		}
	}
	if len(errs) == 0 {
		// nova-compute refuses to start with these combinations, so no
		// running host can have them.
		cfg, _ := h.DomainConfig()
		if cfg.VCPUPinSet != nil && cfg.CPUDedicatedSet != nil {
			bad("vcpu_pin_set", "cannot be set together with cpu_dedicated_set (nova-compute refuses to start)")
		}
		if cfg.VCPUPinSet == nil && cfg.CPUSharedSet != nil && cfg.CPUDedicatedSet != nil &&
			cfg.CPUSharedSet.Intersects(*cfg.CPUDedicatedSet) {
			bad("cpu_dedicated_set", "%s overlaps cpu_shared_set %s; Nova needs them disjoint",
				cfg.CPUDedicatedSet, cfg.CPUSharedSet)
		}
	}
	for i, r := range h.ReservedHugePages {
		if r.Node < 0 || r.SizeKB <= 0 || r.Count < 0 {
			bad(fmt.Sprintf("reserved_huge_pages[%d]", i), "want node >= 0, size > 0 KiB and count >= 0, got %+v", r)
		}
	}
	return errors.Join(errs...)
}

// DomainConfig is the part of the host's nova.conf that domain.Build and
// domain.HostFromCapabilities read. The error is a nova.Invalid for a
// malformed CPU list, as Validate reports it.
func (h HostConfig) DomainConfig() (domain.Config, error) {
	var cfg domain.Config
	var err error
	if cfg.CPUSharedSet, err = domain.ParseCPUListOption("[compute] cpu_shared_set", h.CPUSharedSet); err != nil {
		return domain.Config{}, err
	}
	if cfg.CPUDedicatedSet, err = domain.ParseCPUListOption("[compute] cpu_dedicated_set", h.CPUDedicatedSet); err != nil {
		return domain.Config{}, err
	}
	if cfg.VCPUPinSet, err = domain.ParseCPUListOption("vcpu_pin_set", h.VCPUPinSet); err != nil {
		return domain.Config{}, err
	}
	cfg.ReservedHugePages = slices.Clone(h.ReservedHugePages)
	return cfg, nil
}

// endpoint is a parsed libvirt URI.
type endpoint struct {
	transport string // unix, tcp, tls or ssh
	driver    string // what ConnectOpen asks the daemon for: qemu:///system
	host      string // the URI's host; empty for unix
	port      string // the URI's port; empty for the transport's default
	user      string // ssh only
	socket    string // unix: local socket; ssh: remote socket
}

const uriForms = "qemu:///system, qemu+unix:///system?socket=PATH, qemu+tcp://HOST[:PORT]/system, " +
	"qemu+tls://HOST[:PORT]/system or qemu+ssh://[USER@]HOST[:PORT]/system"

// parseURI checks a libvirt URI against the forms the harness supports.
// readOnly picks the default local socket, as libvirt's client does.
func parseURI(raw string, readOnly bool) (endpoint, error) {
	if raw == "" {
		return endpoint{}, fmt.Errorf("missing; want %s", uriForms)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q is not a URI (%v); want %s", raw, err, uriForms)
	}
	driver, transport, _ := strings.Cut(u.Scheme, "+")
	if driver != "qemu" {
		return endpoint{}, fmt.Errorf("%q: driver %q is not qemu, the only hypervisor Nova's NUMA placement is checked on; want %s", raw, driver, uriForms)
	}
	if transport == "" {
		transport = "unix"
		if u.Host != "" {
			transport = "tls" // libvirt's rule for a remote URI without a transport
		}
	}
	ep := endpoint{transport: transport, driver: "qemu:///system", host: u.Hostname(), port: u.Port()}
	switch transport {
	case "unix":
		if u.Host != "" {
			return endpoint{}, fmt.Errorf("%q: a unix socket URI has no host; want qemu:///system or qemu+unix:///system?socket=PATH", raw)
		}
	case "tcp", "tls", "ssh":
		if ep.host == "" {
			return endpoint{}, fmt.Errorf("%q: no host; want qemu+%s://HOST[:PORT]/system", raw, transport)
		}
		if ep.port != "" {
			if p, err := strconv.Atoi(ep.port); err != nil || p < 1 || p > 65535 {
				return endpoint{}, fmt.Errorf("%q: port %q is not a number in 1-65535", raw, ep.port)
			}
		}
	default:
		return endpoint{}, fmt.Errorf("%q: transport %q is not one of unix, tcp, tls, ssh; want %s", raw, transport, uriForms)
	}
	if u.User != nil {
		if transport != "ssh" {
			return endpoint{}, fmt.Errorf("%q: only qemu+ssh URIs take a user name", raw)
		}
		if _, ok := u.User.Password(); ok {
			return endpoint{}, fmt.Errorf("%q: passwords do not belong in the URI; use ssh.key or ssh.agent", raw)
		}
		ep.user = u.User.Username()
	}
	if u.Path != "/system" {
		return endpoint{}, fmt.Errorf("%q: path %q is not /system; Nova's compute service uses the system daemon", raw, u.Path)
	}
	if u.Fragment != "" || u.Opaque != "" {
		return endpoint{}, fmt.Errorf("%q: unexpected fragment or opaque part; want %s", raw, uriForms)
	}
	for k, vs := range u.Query() {
		if k != "socket" || (transport != "unix" && transport != "ssh") {
			return endpoint{}, fmt.Errorf("%q: parameter %q is not supported (only ?socket=PATH, for unix and ssh; TLS and SSH credentials go in tls: and ssh:)", raw, k)
		}
		if len(vs) != 1 || !strings.HasPrefix(vs[0], "/") {
			return endpoint{}, fmt.Errorf("%q: socket must be one absolute path", raw)
		}
		ep.socket = vs[0]
	}
	if ep.socket == "" {
		ep.socket = DefaultSocket
		if readOnly {
			ep.socket = DefaultReadOnlySocket
		}
	}
	return ep, nil
}

// splitAddress reads an address override: HOST, HOST:PORT, [V6]:PORT or a
// bare IPv6 address. port is empty when not given.
func splitAddress(a string) (host, port string, err error) {
	if h, p, err := net.SplitHostPort(a); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", "", fmt.Errorf("port %q in %q is not a number in 1-65535", p, a)
		}
		if h == "" {
			return "", "", fmt.Errorf("no host in %q", a)
		}
		return h, p, nil
	}
	if ip := net.ParseIP(strings.Trim(a, "[]")); ip != nil {
		return ip.String(), "", nil
	}
	if strings.ContainsAny(a, ":/ []@") {
		return "", "", fmt.Errorf("%q is not a host name or address", a)
	}
	return a, "", nil
}

// dialAddress is the TCP address to dial: the override's parts where given,
// else the URI's, else the transport's default port.
func (h HostConfig) dialAddress(ep endpoint) string {
	host, port := ep.host, ep.port
	if h.Address != "" {
		if ah, ap, err := splitAddress(h.Address); err == nil {
			host = ah
			if ap != "" {
				port = ap
			}
		}
	}
	if port == "" {
		port = map[string]string{"tcp": "16509", "tls": "16514", "ssh": "22"}[ep.transport]
	}
	return net.JoinHostPort(host, port)
}
