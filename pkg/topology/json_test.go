package topology

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/numa-conformance/numa-conformance/pkg/cpuset"
)

func TestUnsetFieldsEncodeAsNull(t *testing.T) {
	b, err := json.Marshal(InstanceTopology{Cells: []InstanceCell{{ID: 0, CPUSet: cpuset.New(0, 1), MemoryMiB: 512}}})
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"pagesize":null`, `"cpuset_reserved":null`, `"cpu_policy":null`, `"cpu_thread_policy":null`, `"emulator_threads_policy":null`, `"cpuset":[0,1]`, `"cpu_pinning":null`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %s", s, want)
		}
	}
	if strings.Count(s, `"pagesize"`) != 1 {
		t.Errorf("pagesize written twice: %s", s)
	}
}

func TestInstanceCellRoundTrip(t *testing.T) {
	in := InstanceCell{ID: 3, PCPUSet: cpuset.New(0, 1), MemoryMiB: 1024, PageSizeKB: 2048,
		CPUPolicy: CPUPolicyDedicated, CPUThreadPolicy: ThreadPolicyIsolate,
		CPUPinning: map[int]int{0: 4, 1: 6}, CPUSetReserved: cpuset.New(5)}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out InstanceCell
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(out)
	if string(b) != string(b2) {
		t.Errorf("round trip changed the cell:\n%s\n%s", b, b2)
	}
}
