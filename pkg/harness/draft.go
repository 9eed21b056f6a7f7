package harness

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/hosts"
	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
)

// HostFacts is what a cloud's APIs and a host's libvirt say about one
// compute host, for a configuration draft.
type HostFacts struct {
	// Name is the nova-compute service's host, the harness's key for it.
	Name string
	// Service is the os-services state ("enabled, up").
	Service string
	// VCPU and PCPU are placement's inventory totals; -1 when unknown.
	VCPU, PCPU int
	// OnlineCPUs and Cells are from the host's libvirt; OnlineCPUs is -1
	// when libvirt was not reached (Unreachable says why).
	OnlineCPUs, Cells int
	Unreachable       error
}

// DraftInput is what DraftConfig writes a configuration from.
type DraftInput struct {
	// Cloud is the clouds.yaml entry; "" for openrc variables.
	Cloud string
	// URITemplate is each host's libvirt URI with {host} for its name.
	URITemplate string
	Hosts       []HostFacts
}

// DraftConfig writes a harness configuration for a cloud from what its
// APIs say. What no API shows (a host's cpu_shared_set and
// cpu_dedicated_set) is left for the operator, with a comment saying what
// placement implies, unless placement shows the host has no CPU sets (all
// online CPUs are VCPU, none PCPU), when the keys are not needed.
func DraftConfig(in DraftInput) ([]byte, error) {
	// Disabled hosts are left out: the scheduler never uses them, and the
	// pre-flight refuses a configured host it cannot schedule to.
	var use []HostFacts
	var left []string
	for _, h := range in.Hosts {
		if strings.HasPrefix(h.Service, "disabled") {
			left = append(left, h.Name)
			continue
		}
		use = append(use, h)
	}
	if !strings.Contains(in.URITemplate, "{host}") && len(use) > 1 {
		return nil, fmt.Errorf("harness: %d hosts need a URI template with {host}, got %q", len(use), in.URITemplate)
	}
	scalar := func(v, comment string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: v, LineComment: comment}
	}
	key := func(k, head string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: k, HeadComment: head}
	}
	hosts := &yaml.Node{Kind: yaml.MappingNode}
	for _, h := range use {
		body := &yaml.Node{Kind: yaml.MappingNode}
		body.Content = append(body.Content, key("uri", ""), scalar(strings.ReplaceAll(in.URITemplate, "{host}", h.Name), ""))
		note := hostNote(h)
		for _, kv := range cpuSetKeys(h) {
			body.Content = append(body.Content, key(kv[0], ""), scalar(kv[1], "FILL IN from this host's nova.conf [compute]"))
		}
		hosts.Content = append(hosts.Content, key(h.Name, note), body)
	}
	head := "Written by numa-conformance init from what the cloud says.\nCheck it with: numa-conformance validate --config FILE"
	if len(left) > 0 {
		head += "\nLeft out, their nova-compute disabled: " + strings.Join(left, ", ")
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, HeadComment: head}
	if in.Cloud != "" {
		doc.Content = append(doc.Content, key("cloud", ""), scalar(in.Cloud, ""))
	}
	doc.Content = append(doc.Content, key("hosts", "One entry per nova-compute host; the harness reads each one's libvirt, read-only."), hosts)
	return yaml.Marshal(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{doc}})
}

// hostNote is the comment above a host: its service, inventory and libvirt.
func hostNote(h HostFacts) string {
	lib := fmt.Sprintf("libvirt: %d online CPUs, %d NUMA cells", h.OnlineCPUs, h.Cells)
	if h.Unreachable != nil {
		lib = "libvirt not reached from here: " + h.Unreachable.Error()
	}
	return fmt.Sprintf("%s; placement: VCPU %s, PCPU %s; %s", h.Service, count(h.VCPU), count(h.PCPU), lib)
}

func count(n int) string {
	if n < 0 {
		return "unknown"
	}
	return fmt.Sprint(n)
}

// cpuSetKeys are the CPU-set keys the operator must fill in for h, each
// with a placeholder saying how many CPUs placement implies: none when
// every online CPU is VCPU and none PCPU (no CPU sets, the default);
// cpu_dedicated_set when there is PCPU; cpu_shared_set when the VCPU total
// is not every online CPU (or libvirt was not reached) and not zero.
func cpuSetKeys(h HostFacts) [][2]string {
	var out [][2]string
	if h.PCPU > 0 {
		out = append(out, [2]string{"cpu_dedicated_set", fmt.Sprintf("? (%d CPUs)", h.PCPU)})
	}
	if h.VCPU != 0 && (h.OnlineCPUs < 0 || h.VCPU != h.OnlineCPUs || h.PCPU > 0) {
		out = append(out, [2]string{"cpu_shared_set", fmt.Sprintf("? (%s CPUs)", count(h.VCPU))})
	}
	return out
}

// GatherHostFacts asks the cloud and each host's libvirt what a draft
// configuration needs. A host whose libvirt cannot be reached is noted,
// not an error: the operator may run init where the hosts are not reachable.
func GatherHostFacts(ctx context.Context, c *openstack.Cloud, tmpl string) ([]HostFacts, error) {
	svcs, err := c.ComputeServices(ctx)
	if err != nil {
		return nil, err
	}
	if len(svcs) == 0 {
		return nil, errors.New("the cloud lists no nova-compute service")
	}
	var out []HostFacts
	for _, s := range svcs {
		f := HostFacts{Name: s.Host, Service: s.Status + ", " + s.State, VCPU: -1, PCPU: -1, OnlineCPUs: -1}
		if inv, err := c.ComputeInventory(ctx, s.Host); err == nil {
			f.VCPU, f.PCPU = inv.Resources["VCPU"].Total, inv.Resources["PCPU"].Total
		}
		conn, err := hosts.Dial(ctx, hosts.HostConfig{Name: s.Host, URI: strings.ReplaceAll(tmpl, "{host}", s.Host), Timeout: 15 * time.Second})
		if err != nil {
			f.Unreachable = err
			out = append(out, f)
			continue
		}
		online, err := conn.OnlineCPUs(ctx)
		caps, cerr := conn.Capabilities(ctx)
		conn.Close()
		if err = errors.Join(err, cerr); err != nil {
			f.Unreachable = err
		} else {
			f.OnlineCPUs = online.Len()
			if caps.Host.NUMA != nil && caps.Host.NUMA.Cells != nil {
				f.Cells = len(caps.Host.NUMA.Cells.Cells)
			}
		}
		out = append(out, f)
	}
	return out, nil
}
