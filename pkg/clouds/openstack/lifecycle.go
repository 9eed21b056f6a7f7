package openstack

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// Operation is a lifecycle operation the harness applies to a server to
// check that its domain still matches afterwards. Each one is a round trip
// that ends with the server ACTIVE again.
type Operation string

// The operations. Nova rewrites the domain XML on each of them: from the
// stored NUMA topology (reboots, start, resume, rebuild) or from a new
// claim (unshelve, resize).
const (
	OpHardReboot     Operation = "hard-reboot"
	OpSoftReboot     Operation = "soft-reboot"
	OpStopStart      Operation = "stop-start"
	OpSuspendResume  Operation = "suspend-resume"
	OpPauseUnpause   Operation = "pause-unpause"
	OpShelveUnshelve Operation = "shelve-unshelve"
	OpRebuild        Operation = "rebuild"
	// OpResize resizes to another flavor and confirms; the flavor is an
	// argument of Apply.
	OpResize Operation = "resize"
	// OpColdMigrate moves the server to another host the scheduler picks
	// (a resize to the same flavor) and confirms.
	OpColdMigrate Operation = "cold-migrate"
	// OpLiveMigrate moves the running server to another host the scheduler
	// picks, copying local disks when the hosts share no storage.
	OpLiveMigrate Operation = "live-migrate"
)

// Operations lists the operations, in the order a lifecycle group runs them.
var Operations = []Operation{OpHardReboot, OpSoftReboot, OpStopStart, OpSuspendResume, OpPauseUnpause, OpRebuild, OpShelveUnshelve, OpResize, OpColdMigrate, OpLiveMigrate}

// Reclaims reports whether Nova fits the guest onto a host again (a new
// claim, possibly a different placement) rather than reusing the stored
// topology.
func (o Operation) Reclaims() bool { return o == OpShelveUnshelve || o == OpResize || o.Migrates() }

// Migrates reports whether the operation must move the server to another
// compute host.
func (o Operation) Migrates() bool { return o == OpColdMigrate || o == OpLiveMigrate }

// MicroversionLiveMigrateAuto lets block_migration be "auto": Nova copies
// local disks only when the hosts share no storage.
const MicroversionLiveMigrateAuto = "2.25"

// liveMigrateAuto is os-migrateLive with the scheduler choosing the host.
type liveMigrateAuto struct{}

func (liveMigrateAuto) ToLiveMigrateMap() (map[string]any, error) {
	return map[string]any{"os-migrateLive": map[string]any{"host": nil, "block_migration": "auto"}}, nil
}

// Apply performs op on server id and waits until the server is ACTIVE again
// (with no task running), each step bounded by timeout. image is the image
// to rebuild with; flavorID the flavor to resize to.
func (c *Cloud) Apply(ctx context.Context, id string, op Operation, image, flavorID string, timeout time.Duration) error {
	sc := c.computeAt(MicroversionServerDefault)
	step := func(name string, call func() error, want ...string) error {
		if err := call(); err != nil {
			return fmt.Errorf("openstack: %s server %s: %w", name, id, err)
		}
		return c.WaitStatus(ctx, id, timeout, want...)
	}
	switch op {
	case OpHardReboot, OpSoftReboot:
		how := servers.HardReboot
		if op == OpSoftReboot {
			how = servers.SoftReboot
		}
		return step(string(op), func() error {
			return servers.Reboot(ctx, sc, id, servers.RebootOpts{Type: how}).ExtractErr()
		}, "ACTIVE")
	case OpStopStart:
		if err := step("stop", func() error { return servers.Stop(ctx, sc, id).ExtractErr() }, "SHUTOFF"); err != nil {
			return err
		}
		return step("start", func() error { return servers.Start(ctx, sc, id).ExtractErr() }, "ACTIVE")
	case OpSuspendResume:
		if err := step("suspend", func() error { return servers.Suspend(ctx, sc, id).ExtractErr() }, "SUSPENDED"); err != nil {
			return err
		}
		return step("resume", func() error { return servers.Resume(ctx, sc, id).ExtractErr() }, "ACTIVE")
	case OpPauseUnpause:
		if err := step("pause", func() error { return servers.Pause(ctx, sc, id).ExtractErr() }, "PAUSED"); err != nil {
			return err
		}
		return step("unpause", func() error { return servers.Unpause(ctx, sc, id).ExtractErr() }, "ACTIVE")
	case OpShelveUnshelve:
		// With Nova's default shelved_offload_time of 0 the server is
		// offloaded at once; a cloud that keeps shelved servers on the
		// host stops at SHELVED.
		if err := step("shelve", func() error { return servers.Shelve(ctx, sc, id).ExtractErr() }, "SHELVED_OFFLOADED", "SHELVED"); err != nil {
			return err
		}
		return step("unshelve", func() error { return servers.Unshelve(ctx, sc, id, servers.UnshelveOpts{}).ExtractErr() }, "ACTIVE")
	case OpRebuild:
		if image == "" {
			return fmt.Errorf("openstack: rebuild server %s: no image given", id)
		}
		return step("rebuild", func() error {
			_, err := servers.Rebuild(ctx, sc, id, servers.RebuildOpts{ImageRef: image}).Extract()
			return err
		}, "ACTIVE")
	case OpResize:
		if flavorID == "" {
			return fmt.Errorf("openstack: resize server %s: no flavor given", id)
		}
		if err := step("resize", func() error {
			return servers.Resize(ctx, sc, id, servers.ResizeOpts{FlavorRef: flavorID}).ExtractErr()
		}, "VERIFY_RESIZE"); err != nil {
			return err
		}
		return step("confirm resize", func() error { return servers.ConfirmResize(ctx, sc, id).ExtractErr() }, "ACTIVE")
	case OpColdMigrate:
		if err := step("cold migrate", func() error { return servers.Migrate(ctx, sc, id).ExtractErr() }, "VERIFY_RESIZE"); err != nil {
			return err
		}
		return step("confirm migration", func() error { return servers.ConfirmResize(ctx, sc, id).ExtractErr() }, "ACTIVE")
	case OpLiveMigrate:
		if err := c.checkMicroversion("live migration with block_migration auto", MicroversionLiveMigrateAuto); err != nil {
			return err
		}
		// A failed live migration rolls back to ACTIVE on the source:
		// the caller checks that the host changed.
		return step("live migrate", func() error {
			return servers.LiveMigrate(ctx, c.computeAt(MicroversionLiveMigrateAuto), id, liveMigrateAuto{}).ExtractErr()
		}, "ACTIVE")
	}
	return fmt.Errorf("openstack: unknown operation %q; known: %v", op, Operations)
}

// WaitStatus waits until the server has one of the wanted statuses and no
// task in progress (an ACTIVE server that is still rebooting is not done).
// ERROR fails fast with the server's fault; so does a 404.
func (c *Cloud) WaitStatus(ctx context.Context, id string, timeout time.Duration, want ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sc := c.computeAt(MicroversionServerDefault)
	expected := fmt.Sprintf("status %v and no task", want)
	observed := "not checked"
	var lastErr error
	for {
		s, err := servers.Get(ctx, sc, id).Extract()
		switch {
		case err != nil:
			if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
				return fmt.Errorf("openstack: server %s: expected %s, observed 404 (deleted): %w", id, expected, err)
			}
			lastErr = err
		case s.Status == "ERROR":
			return &ServerFaultError{ServerID: id, Name: s.Name, Status: s.Status, Expected: fmt.Sprint(want), Code: s.Fault.Code, Message: s.Fault.Message, Details: s.Fault.Details}
		default:
			observed = fmt.Sprintf("status=%s task_state=%q vm_state=%q", s.Status, s.TaskState, s.VmState)
			lastErr = nil
			for _, w := range want {
				if s.Status == w && s.TaskState == "" {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return &TimeoutError{What: "server", ID: id, Timeout: timeout, Expected: expected, Observed: observed, Err: lastErr}
		case <-time.After(pollInterval):
		}
	}
}
