package yamlstrict

import "testing"

func TestParseRefusesDuplicateKeys(t *testing.T) {
	_, err := Parse([]byte(`cloud: local
hosts:
  a:
    uri: qemu:///system
    uri: qemu+tcp://a/system
hosts:
  b: {uri: qemu+tcp://b/system}
`))
	dups := Duplicates(err)
	if len(dups) != 2 {
		t.Fatalf("want both duplicates reported, got %v", err)
	}
	if d := dups[0]; d.Key != "hosts" || d.Line != 6 || d.Column != 1 || d.FirstLine != 2 {
		t.Errorf("first: %+v", d)
	}
	if d := dups[1]; d.Key != "uri" || d.Line != 5 || d.Column != 5 || d.FirstLine != 4 || d.FirstColumn != 5 {
		t.Errorf("second: %+v", d)
	}
	if want := `line 6, column 1: key "hosts" given again (first at line 2, column 1)`; err == nil || len(err.Error()) < len(want) || err.Error()[:len(want)] != want {
		t.Errorf("message: %v", err)
	}
}

func TestParseAcceptsMergeKeysAndDistinctKeys(t *testing.T) {
	if _, err := Parse([]byte("base: &b {uri: x}\nhosts:\n  a:\n    <<: *b\n    cpu_shared_set: '0-1'\n  b:\n    <<: *b\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte("a: [1, 2\n")); err == nil {
		t.Fatal("a syntax error was accepted")
	}
}
