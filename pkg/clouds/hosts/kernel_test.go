package hosts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
	"github.com/numa-conformance/numa-conformance/pkg/expect/domain"
)

// runningDomainXML is a small transient QEMU (TCG) guest: no disk, it sits
// in SeaBIOS. vCPU 0 may run on host CPUs 0-1, vCPU 1 on CPU 1 only; its
// memory is bound strictly to host node 0.
const runningDomainXML = `<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu placement='static'>2</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='0-1'/><vcpupin vcpu='1' cpuset='1'/></cputune>
  <numatune><memory mode='strict' nodeset='0'/></numatune>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices>
</domain>`

// TestKernelView runs a real guest on the local libvirtd, reads the
// kernel's view over a read-only connection (it matches the XML), then
// moves vCPU 0's thread to CPU 1 behind libvirt's back (sched_setaffinity,
// as taskset does): the XML still says 0-1, the kernel view says 1, and
// KernelDiff names the vCPU, the layer and both values.
func TestKernelView(t *testing.T) {
	ro := dialLocal(t)
	setup := dialSetup(t)
	ctx := t.Context()
	online, err := ro.OnlineCPUs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !online.Contains(1) {
		t.Skipf("needs host CPUs 0 and 1; online: %s", online)
	}
	name := ScratchPrefix + "kernel-" + newUUID()[:8]
	dom, err := setup.sess.lv.DomainCreateXML(fmt.Sprintf(runningDomainXML, name), 0)
	if err != nil {
		t.Fatalf("starting a TCG guest on the local libvirtd: %v", err)
	}
	t.Cleanup(func() { _ = setup.sess.lv.DomainDestroy(dom) })

	live, _, err := ro.DomainXML(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	view, err := ro.KernelView(ctx, name)
	if err != nil {
		t.Fatalf("KernelView on a read-only connection: %v", err)
	}
	if len(view.VCPUAffinity) != 2 || view.MemoryNodes == nil {
		t.Fatalf("kernel view: %+v; want 2 vCPUs and the memory nodes", view)
	}
	if diffs := domain.KernelDiff(live, online, *view); len(diffs) != 0 {
		t.Fatalf("a fresh guest's kernel view differs from its XML: %v", diffs)
	}

	tid := vcpuThread(t, name, 0)
	var one unix.CPUSet
	one.Set(1)
	if err := unix.SchedSetaffinity(tid, &one); err != nil {
		t.Fatalf("moving vCPU 0 (thread %d) to CPU 1: %v", tid, err)
	}
	view, err = ro.KernelView(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	live, _, _ = ro.DomainXML(ctx, name)
	diffs := domain.KernelDiff(live, online, *view)
	want := domain.Difference{Path: "kernel/vcpu[0]/affinity", Expected: "0-1 (cputune/vcpupin[vcpu=0])", Observed: "1"}
	if len(diffs) != 1 || diffs[0] != want {
		t.Errorf("after moving vCPU 0's thread: %v; want %v", diffs, want)
	}
	if !view.VCPUAffinity[1].Equal(cpuset.New(1)) {
		t.Errorf("vCPU 1: %s; want 1", view.VCPUAffinity[1])
	}

	if err := setup.sess.lv.DomainDestroy(dom); err != nil {
		t.Fatal(err)
	}
	if err := setup.sess.lv.DomainDestroy(dom); err == nil {
		t.Log("destroyed twice?")
	}
	if _, err := ro.KernelView(ctx, name); !errors.Is(err, ErrDomainNotFound) {
		t.Errorf("a transient guest that is gone: %v; want ErrDomainNotFound", err)
	}
}

// vcpuThread finds the thread of vCPU n of a running guest: QEMU names it
// "CPU n/TCG" (or "CPU n/KVM").
func vcpuThread(t *testing.T, name string, n int) int {
	t.Helper()
	pidText, err := os.ReadFile(filepath.Join("/run/libvirt/qemu", name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(pidText))
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tasks, _ := os.ReadDir(filepath.Join("/proc", pid, "task"))
		for _, task := range tasks {
			comm, _ := os.ReadFile(filepath.Join("/proc", pid, "task", task.Name(), "comm"))
			if strings.HasPrefix(strings.TrimSpace(string(comm)), fmt.Sprintf("CPU %d/", n)) {
				tid, _ := strconv.Atoi(task.Name())
				return tid
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no thread named \"CPU %d/...\" in QEMU %s", n, pid)
	return 0
}
