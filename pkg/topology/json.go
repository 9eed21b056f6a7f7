package topology

import (
	"encoding/json"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

// The nova-numa-vectors/1 schema writes null for a field Nova leaves unset
// (None). Nova's enum fields reject "" and its optional fields behave
// differently when unset, so the zero values below encode as null rather
// than as "" or 0: what Go writes is what Nova's objects would hold.

func nullOr(empty bool, v any) ([]byte, error) {
	if empty {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// MarshalJSON writes an unset policy as null.
func (p CPUPolicy) MarshalJSON() ([]byte, error) { return nullOr(p == "", string(p)) }

// MarshalJSON writes an unset policy as null.
func (p ThreadPolicy) MarshalJSON() ([]byte, error) { return nullOr(p == "", string(p)) }

// MarshalJSON writes an unset policy as null.
func (p EmulatorThreadsPolicy) MarshalJSON() ([]byte, error) { return nullOr(p == "", string(p)) }

// MarshalJSON writes no page size as null and no reserved CPUs as null,
// which is how Nova's InstanceNUMACell holds them before fitting.
func (c InstanceCell) MarshalJSON() ([]byte, error) {
	type plain InstanceCell // no methods: avoids recursion
	out := struct {
		plain
		PageSizeKB     *int           `json:"pagesize"`
		CPUSetReserved *cpuset.CPUSet `json:"cpuset_reserved"`
	}{plain: plain(c)}
	if c.PageSizeKB != 0 {
		out.PageSizeKB = &c.PageSizeKB
	}
	if !c.CPUSetReserved.IsEmpty() {
		out.CPUSetReserved = &c.CPUSetReserved
	}
	return json.Marshal(out)
}
