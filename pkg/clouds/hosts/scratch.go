package hosts

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"
)

// ScratchPrefix starts the name of every domain RoundTrip defines, so a
// leftover (from a killed process) is recognisable.
const ScratchPrefix = "numa-conformance-scratch-"

// RoundTrip defines a copy of d on this connection's libvirtd, inactive,
// reads it back the way the harness reads a guest, and undefines it
// before returning. It is how the suites prove, with a real libvirtd and
// without touching any compute host, that a domain with one property
// altered is caught: libvirt keeps the NUMA parts of an inactive domain as
// written. The copy gets a new name and UUID, and loses what ties it to
// its host (devices, security labels, the SMBIOS serial). The connection
// must be read-write (HostConfig.ReadWrite): it is meant for a scratch
// libvirtd, never a compute host.
func (c *Conn) RoundTrip(ctx context.Context, d *libvirtxml.Domain) (*libvirtxml.Domain, error) {
	if !c.cfg.ReadWrite {
		return nil, c.errorf("define scratch domain", errors.New("the connection is read-only; a scratch libvirtd needs readonly: false"))
	}
	cp, err := scratchCopy(d)
	if err != nil {
		return nil, c.errorf("define scratch domain", err)
	}
	xml, err := cp.Marshal()
	if err != nil {
		return nil, c.errorf("define scratch domain", err)
	}
	var dom libvirt.Domain
	if err := c.call(ctx, "define scratch domain", func(lv *libvirt.Libvirt) error {
		var err error
		dom, err = lv.DomainDefineXML(xml)
		return err
	}); err != nil {
		return nil, err
	}
	defer func() {
		// Undefine even when ctx is done: a scratch domain must not stay.
		_ = c.call(context.WithoutCancel(ctx), "undefine scratch domain", func(lv *libvirt.Libvirt) error {
			return lv.DomainUndefineFlags(dom, 0)
		})
	}()
	back, _, err := c.DomainXML(ctx, cp.UUID)
	return back, err
}

// scratchCopy is d under a fresh identity, without devices.
func scratchCopy(d *libvirtxml.Domain) (*libvirtxml.Domain, error) {
	xml, err := d.Marshal()
	if err != nil {
		return nil, err
	}
	cp := &libvirtxml.Domain{}
	if err := cp.Unmarshal(xml); err != nil {
		return nil, err
	}
	uuid := newUUID()
	cp.ID, cp.UUID, cp.Name = nil, uuid, ScratchPrefix+uuid[:8]
	for _, si := range cp.SysInfo {
		if si.SMBIOS != nil && si.SMBIOS.System != nil {
			for i, e := range si.SMBIOS.System.Entry {
				if e.Name == "uuid" || e.Name == "serial" {
					si.SMBIOS.System.Entry[i].Value = uuid
				}
			}
		}
	}
	cp.SecLabel = nil
	emulator := "/usr/bin/qemu-system-x86_64"
	if cp.Devices != nil && cp.Devices.Emulator != "" {
		emulator = cp.Devices.Emulator
	}
	cp.Devices = &libvirtxml.DomainDeviceList{Emulator: emulator}
	return cp, nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// PinVCPU re-pins one vCPU of a running domain, live, to cpus. The
// harness never calls it: it exists so that tests on the embedded test
// cloud can alter a real guest through libvirt and show that the checks
// report it. The connection must be read-write.
func (c *Conn) PinVCPU(ctx context.Context, uuid string, vcpu uint32, cpus []int) error {
	if !c.cfg.ReadWrite {
		return c.errorf("pin vcpu", errors.New("the connection is read-only"))
	}
	u, ok := parseUUID(uuid)
	if !ok {
		return c.errorf("pin vcpu", fmt.Errorf("%q is not a domain UUID", uuid))
	}
	max := 0
	for _, cpu := range cpus {
		if cpu > max {
			max = cpu
		}
	}
	cpumap := make([]byte, max/8+1)
	for _, cpu := range cpus {
		cpumap[cpu/8] |= 1 << (cpu % 8)
	}
	return c.call(ctx, "pin vcpu", func(lv *libvirt.Libvirt) error {
		dom, err := lv.DomainLookupByUUID(u)
		if err != nil {
			return err
		}
		return lv.DomainPinVcpuFlags(dom, vcpu, cpumap, uint32(libvirt.DomainAffectLive))
	})
}
