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
