package replay

import (
	"slices"
	"testing"
)

func TestDifferences(t *testing.T) {
	o := Outcome{
		Expected: `{"cells":[{"id":0,"pinning":{"0":2,"1":3}},{"id":1}],"pagesize":null}`,
		Got:      `{"cells":[{"id":0,"pinning":{"0":3,"1":3}},{"id":1,"extra":true}],"pagesize":2048}`,
	}
	var got []string
	for _, d := range o.Differences() {
		got = append(got, d.String())
	}
	want := []string{
		`.cells[0].pinning["0"]: expected 2, observed 3`,
		`.cells[1].extra: expected (absent), observed true`,
		`.pagesize: expected null, observed 2048`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Differences:\n%q\nwant\n%q", got, want)
	}
	if d := (Outcome{Expected: `[1,2]`, Got: `[1,2,3]`}).Differences(); len(d) != 1 || d[0].String() != ".: expected [1,2], observed [1,2,3]" {
		t.Errorf("lists of different lengths: %v", d)
	}
	if d := (Outcome{Expected: "error: ComputeHostNotFound", Got: `null`}).Differences(); d != nil {
		t.Errorf("an error rendering has no field differences: %v", d)
	}
}
