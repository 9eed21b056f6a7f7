// Package yamlstrict holds what the project's YAML readers share: reading
// a document into a node tree without the silences of the node API of go.yaml.in/yaml/v3.
// Decoding into a struct refuses a mapping key given twice, but a node
// tree keeps both, and a reader walking it takes one and drops the other
// (a second "hosts:" lost every host of the first). Parse and Check refuse
// duplicate keys at any depth, naming the line and column of both.
package yamlstrict

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DuplicateKeyError is a mapping key given twice in one mapping.
type DuplicateKeyError struct {
	Key                    string
	Line, Column           int // the second occurrence
	FirstLine, FirstColumn int
}

// Error says where the key comes again and where it came first.
func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("line %d, column %d: key %q %s", e.Line, e.Column, e.Key, e.Problem())
}

// Problem is the error without its place, for readers whose own error
// types name the file, line and key.
func (e *DuplicateKeyError) Problem() string {
	return fmt.Sprintf("given again (first at line %d, column %d); YAML keeps one of the two, so the other would be silently lost", e.FirstLine, e.FirstColumn)
}

// Parse reads one YAML document into a node tree and refuses duplicate
// mapping keys in it. A syntax error is yaml.v3's; duplicate keys come as
// *DuplicateKeyError values joined in document order.
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if err := Check(&doc); err != nil {
		return nil, err
	}
	return &doc, nil
}

// Check refuses duplicate mapping keys in n and below, all of them at
// once. Aliases are not followed: the anchored node is checked where it is
// defined.
func Check(n *yaml.Node) error {
	var errs []error
	walk(n, &errs)
	return errors.Join(errs...)
}

func walk(n *yaml.Node, errs *[]error) {
	if n == nil || n.Kind == yaml.AliasNode {
		return
	}
	if n.Kind == yaml.MappingNode {
		first := map[string]*yaml.Node{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				continue
			}
			if f, ok := first[k.Value]; ok {
				*errs = append(*errs, &DuplicateKeyError{Key: k.Value, Line: k.Line, Column: k.Column, FirstLine: f.Line, FirstColumn: f.Column})
				continue
			}
			first[k.Value] = k
		}
	}
	for _, c := range n.Content {
		walk(c, errs)
	}
}

// Duplicates lists the *DuplicateKeyError values in an error from Parse or
// Check, so that a reader can render each in its own error type.
func Duplicates(err error) []*DuplicateKeyError {
	var out []*DuplicateKeyError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, Duplicates(e)...)
		}
		return out
	}
	var d *DuplicateKeyError
	if errors.As(err, &d) {
		out = append(out, d)
	}
	return out
}

// typeErrorRE matches one entry of a yaml.v3 *TypeError: its Errors are
// text only, "line 6: cannot unmarshal !!str `four` into int".
var typeErrorRE = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `(.*)`)? into (.+)$")

// TypeProblem rewrites one entry of a yaml.v3 *TypeError as what was
// expected and what was there: line 6, `want an integer, got "four"`, and
// the offending value (its YAML tag and text) for KeyOf. ok is false for
// any other text.
func TypeProblem(entry string) (p Problem, ok bool) {
	m := typeErrorRE.FindStringSubmatch(strings.TrimSpace(entry))
	if m == nil {
		return Problem{}, false
	}
	p.Line, _ = strconv.Atoi(m[1])
	p.Tag, p.Value = "!!"+m[2], m[3]
	got := strconv.Quote(m[3])
	switch m[2] {
	case "map":
		got = "a mapping"
	case "seq":
		got = "a list"
	}
	p.Text = fmt.Sprintf("want %s, got %s", goTypeWords(m[4]), got)
	return p, true
}

// Problem is a value of the wrong type: where, what was there, and what
// was expected (Text).
type Problem struct {
	Line       int
	Tag, Value string // the value's YAML tag ("!!str") and text
	Text       string
}

// goTypeWords names a Go type as a YAML author would say it.
func goTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "int"):
		return "an integer"
	case strings.HasPrefix(t, "uint"):
		return "a whole number, 0 or more"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string (quote numbers: \"2\")"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["):
		return "a mapping"
	}
	return "a " + t
}

// KeyOf is the dotted path, from n, of the key whose value p is about
// ("flavor.vcpus"): on p's line, the value with p's tag (and text, for a
// scalar), else the first key on that line; "" when none is there.
func KeyOf(n *yaml.Node, p Problem) string {
	var first string
	var walk func(n *yaml.Node, prefix string) string
	walk = func(n *yaml.Node, prefix string) string {
		if n == nil {
			return ""
		}
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				if k := walk(c, prefix); k != "" {
					return k
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				path := prefix + k.Value
				if k.Line == p.Line || v.Line == p.Line {
					if v.ShortTag() == p.Tag && (p.Value == "" || v.Kind != yaml.ScalarNode || v.Value == p.Value) {
						return path
					}
					if first == "" {
						first = path
					}
				}
				if sub := walk(v, path+"."); sub != "" {
					return sub
				}
			}
		}
		return ""
	}
	if k := walk(n, ""); k != "" {
		return k
	}
	return first
}
