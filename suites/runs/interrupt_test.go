// Package runs checks whole runs of the NUMA suite from outside, as a
// user starts them: that --focus and --label-filter select the same specs
// (a dry run, no cloud needed), and that an interrupted run leaves nothing
// behind (the compiled suite against a real cloud, signalled at chosen
// moments, then the cloud asked for anything with the run's ID).
package runs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
)

// cloudOrSkip connects to OS_CLOUD, skipping without a cloud unless
// NUMA_REQUIRE_CLOUD=1 makes that a failure.
func cloudOrSkip(t *testing.T) *openstack.Cloud {
	t.Helper()
	if os.Getenv("OS_CLOUD") == "" || os.Getenv("NUMA_HARNESS_CONFIG") == "" {
		if os.Getenv("NUMA_REQUIRE_CLOUD") == "1" {
			t.Fatal("NUMA_REQUIRE_CLOUD=1 but OS_CLOUD or NUMA_HARNESS_CONFIG is unset")
		}
		t.Skip("needs a cloud: set OS_CLOUD and NUMA_HARNESS_CONFIG")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := openstack.Connect(ctx, os.Getenv("OS_CLOUD"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// buildSuite compiles the NUMA suite once per test binary.
func buildSuite(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "numa.test")
	cmd := exec.Command("go", "test", "-c", "-o", bin, "../numa")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the suite: %v\n%s", err, out)
	}
	return bin
}

// TestInterruptLeavesNothing signals the suite while a server boots
// (SIGINT) and after it is ACTIVE, while the checks run (SIGTERM), and
// asserts the run's flavors, images and servers are all gone afterwards.
func TestInterruptLeavesNothing(t *testing.T) {
	cloud := cloudOrSkip(t)
	bin := buildSuite(t)
	for _, tc := range []struct {
		name   string
		signal syscall.Signal
		// when: "server" signals once the run has a server (booting);
		// "active" once it is ACTIVE.
		when string
	}{
		{"SIGINT while booting", syscall.SIGINT, "server"},
		{"SIGTERM once ACTIVE (checks or cleanup running)", syscall.SIGTERM, "active"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runID := openstack.NewRunID()
			var out syncBuffer
			cmd := exec.Command(bin, "-ginkgo.focus", "auto-split", "-ginkgo.label-filter", "seed", "-ginkgo.v")
			cmd.Dir = "../numa"
			cmd.Env = append(os.Environ(), "NUMA_RUN_ID="+runID, "NUMA_REPORT_DIR="+t.TempDir())
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
			defer cancel()
			if err := waitFor(ctx, cloud, runID, tc.when, done, &out); err != nil {
				t.Fatalf("%v\nsuite output:\n%s", err, out.String())
			}
			if err := cmd.Process.Signal(tc.signal); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				// An interrupted Ginkgo run exits non-zero; 0 would mean the
				// signal came after the run had ended, proving nothing.
				if err == nil {
					t.Fatalf("the suite exited 0 after %s at %q: the signal missed the run\n%s", tc.signal, tc.when, out.String())
				}
			case <-ctx.Done():
				_ = cmd.Process.Kill()
				t.Fatalf("the suite did not exit within the timeout after %s\n%s", tc.signal, out.String())
			}
			left, err := cloud.FindLeftovers(context.Background(), runID)
			if err != nil {
				t.Fatal(err)
			}
			if !left.Empty() {
				_ = cloud.DeleteLeftovers(context.Background(), runID, 5*time.Minute)
				t.Fatalf("after %s %s, run %s left behind: %s\nsuite output:\n%s", tc.signal, tc.name, runID, left, out.String())
			}
			t.Logf("run %s: %s at %q, nothing left behind", runID, tc.signal, tc.when)
		})
	}
}

// activeMark is what the suite prints (verbose) once it has read the live
// domain of its ACTIVE server: the checks start, and the cleanup still has
// to delete the server, which takes seconds.
const activeMark = "live domain XML"

// waitFor returns once the run has a server ("server": polling the cloud)
// or once the suite says it read the live domain of its ACTIVE server
// ("active": its own output, since a fast boot and fast checks can come and
// go between two polls of the cloud).
func waitFor(ctx context.Context, cloud *openstack.Cloud, runID, when string, exited <-chan error, out *syncBuffer) error {
	interval := 2 * time.Second // a cloud API call per poll
	if when == "active" {
		interval = 200 * time.Millisecond // a look at the output so far
	}
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("the suite exited (%v) before its server reached %q", err, when)
		case <-ctx.Done():
			return fmt.Errorf("run %s: no server reached %q in time", runID, when)
		case <-time.After(interval):
		}
		if when == "active" {
			if out.Contains(activeMark) {
				return nil
			}
			continue
		}
		left, err := cloud.FindLeftovers(ctx, runID)
		if err != nil {
			return err
		}
		if len(left.Servers) > 0 {
			return nil
		}
	}
}

// syncBuffer is the suite's output, written by exec's copying goroutine
// and read by waitFor meanwhile.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Contains reports whether the output so far contains s.
func (b *syncBuffer) Contains(s string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Contains(b.buf.Bytes(), []byte(s))
}

// String is the output so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
