package replay

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// FieldDifference is one place where Nova's JSON result and the fitter's
// disagree. Path is written as in jq: .cells[1].pinning["0"].
type FieldDifference struct {
	Path               string
	Expected, Observed string // JSON renderings; "(absent)" when missing
}

// String renders "PATH: expected X, observed Y".
func (d FieldDifference) String() string {
	return fmt.Sprintf("%s: expected %s, observed %s", d.Path, d.Expected, d.Observed)
}

// Differences lists, field by field, where Got differs from Expected when
// both are JSON results of one kind (two objects, two lists). It returns nil
// otherwise (an error rendering "error: Class", an XML comparison, null
// against a value): then the renderings and the detail say it all.
func (o Outcome) Differences() []FieldDifference {
	var exp, got any
	if json.Unmarshal([]byte(o.Expected), &exp) != nil || json.Unmarshal([]byte(o.Got), &got) != nil {
		return nil
	}
	if kind(exp) != kind(got) {
		return nil // a result against an XML rendering, or null against a value: nothing to walk
	}
	var out []FieldDifference
	walkDiff("", exp, got, &out)
	return out
}

// kind is the JSON kind of a decoded value.
func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return "scalar"
}

const absent = "(absent)"

// walkDiff appends the differences between a and b under path.
func walkDiff(path string, a, b any, out *[]FieldDifference) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := slices.Sorted(maps.Keys(av))
			for k := range bv {
				if _, ok := av[k]; !ok {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				x, inA := av[k]
				y, inB := bv[k]
				p := path + key(k)
				switch {
				case !inA:
					*out = append(*out, FieldDifference{Path: p, Expected: absent, Observed: render1(y)})
				case !inB:
					*out = append(*out, FieldDifference{Path: p, Expected: render1(x), Observed: absent})
				default:
					walkDiff(p, x, y, out)
				}
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				walkDiff(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out)
			}
			return
		}
	}
	if ra, rb := render1(a), render1(b); ra != rb {
		if path == "" {
			path = "."
		}
		*out = append(*out, FieldDifference{Path: path, Expected: ra, Observed: rb})
	}
}

// key renders a map key as a jq path step.
func key(k string) string {
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	if k == "" {
		return `[""]`
	}
	return "." + k
}

func render1(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
