package harness

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/clouds/openstack"
	"github.com/numa-conformance/numa-conformance/pkg/expect"
	"github.com/numa-conformance/numa-conformance/pkg/fixtures"
)

// A migration on a configuration with one compute host cannot prove
// anything: Lifecycle says so with a typed error (the suites skip on it)
// before it touches the cloud, which testEnv does not have.
func TestLifecycleMigrationNeedsTwoHosts(t *testing.T) {
	env := testEnv(t)
	res := &Result{Fixture: fixtures.Fixture{Name: "migration-numa-vm-2"}, Flavor: &openstack.Flavor{Name: "f"},
		Server: &openstack.Server{ID: "s"}, Host: "h", Expected: &expect.Expected{}}
	for _, op := range []openstack.Operation{openstack.OpColdMigrate, openstack.OpLiveMigrate} {
		_, err := env.Lifecycle(context.Background(), nil, res, nil, op, nil)
		var needs *NeedsHostsError
		if !errors.As(err, &needs) {
			t.Fatalf("%s with one host: expected a NeedsHostsError, observed %v", op, err)
		}
		if needs.Operation != op || !slices.Equal(needs.Hosts, []string{"h"}) {
			t.Errorf("%s: expected the operation and host h named, observed %+v (%v)", op, needs, err)
		}
	}
}
