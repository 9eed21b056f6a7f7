package vectors

import "testing"

func TestLoadPublic(t *testing.T) {
	f, err := Load(PublicFile())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != f.Count {
		t.Fatalf("file says count %d, holds %d vectors", f.Count, len(f.Vectors))
	}
}

func TestParseRejectsBadFiles(t *testing.T) {
	for name, data := range map[string]string{
		"not json":      `{`,
		"wrong schema":  `{"schema":"x","vectors":[]}`,
		"no id":         `{"schema":"nova-numa-vectors/1","vectors":[{"input":{},"expect":{"result":null}}]}`,
		"both outcomes": `{"schema":"nova-numa-vectors/1","vectors":[{"id":"a","input":{},"expect":{"result":1,"error":"X"}}]}`,
	} {
		if _, err := Parse(name, []byte(data)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
