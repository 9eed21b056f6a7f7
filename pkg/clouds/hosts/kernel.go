package hosts

import (
	"context"
	"fmt"

	"github.com/digitalocean/go-libvirt"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
)

// ErrNotRunning means the domain exists but is not running, so the kernel
// applies nothing to it yet: a KernelView needs a running domain.
var ErrNotRunning = fmt.Errorf("domain not running")

// KernelView reads what the host's kernel applies to a running domain
// (see domain.KernelView for what each call reads, kernel or definition).
// Both calls are allowed on a read-only connection. id is as for DomainXML.
func (c *Conn) KernelView(ctx context.Context, id string) (*domain.KernelView, error) {
	dom, err := c.lookup(ctx, id)
	if err != nil {
		return nil, err
	}
	var (
		state  uint8
		nvcpus uint16
		ncpus  int32
	)
	err = c.call(ctx, "domain info", func(lv *libvirt.Libvirt) error {
		var err error
		if state, _, _, nvcpus, _, err = lv.DomainGetInfo(dom); err != nil {
			return err
		}
		_, _, ncpus, err = lv.NodeGetCPUMap(1, 1, 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	if libvirt.DomainState(state) != libvirt.DomainRunning && libvirt.DomainState(state) != libvirt.DomainPaused {
		return nil, c.errorf("kernel view", fmt.Errorf("%w: %q is in libvirt state %d", ErrNotRunning, id, state))
	}
	maplen := (int(ncpus) + 7) / 8
	v := &domain.KernelView{}
	err = c.call(ctx, "vcpu affinity", func(lv *libvirt.Libvirt) error {
		info, maps, err := lv.DomainGetVcpus(dom, int32(nvcpus), int32(maplen))
		if err != nil {
			return err
		}
		v.VCPUAffinity = make([]cpuset.CPUSet, len(info))
		for _, vi := range info {
			if int(vi.Number) < len(info) && (int(vi.Number)+1)*maplen <= len(maps) {
				v.VCPUAffinity[vi.Number] = cpuMap(maps[int(vi.Number)*maplen:(int(vi.Number)+1)*maplen], int(ncpus))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = c.call(ctx, "numa parameters", func(lv *libvirt.Libvirt) error {
		// Without TypedParamStringOkay libvirtd leaves out string
		// parameters, numa_nodeset among them.
		params, _, err := lv.DomainGetNumaParameters(dom, 2, uint32(libvirt.DomainAffectLive)|uint32(libvirt.TypedParamStringOkay))
		if err != nil {
			return err
		}
		for _, p := range params {
			if s, ok := p.Value.I.(string); ok && p.Field == "numa_nodeset" && s != "" {
				nodes, err := cpuset.Parse(s)
				if err != nil {
					return fmt.Errorf("numa_nodeset %q: %w", s, err)
				}
				v.MemoryNodes = &nodes
			}
		}
		return nil
	})
	return v, err
}

// cpuMap reads a libvirt CPU bitmap of n CPUs.
func cpuMap(b []byte, n int) cpuset.CPUSet {
	var cpus []int
	for i := 0; i < n && i/8 < len(b); i++ {
		if b[i/8]&(1<<(i%8)) != 0 {
			cpus = append(cpus, i)
		}
	}
	return cpuset.New(cpus...)
}

// lookup finds a domain by UUID or name, as DomainXML does.
func (c *Conn) lookup(ctx context.Context, id string) (libvirt.Domain, error) {
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
	return dom, err
}
