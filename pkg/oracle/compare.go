package oracle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// EqualJSON reports whether two JSON documents are the same value: object
// key order and whitespace do not matter, but an integer literal never
// equals a fractional or exponent one (2048 vs 2048.0). The distinction is
// kept because the vectors record Python's types: Nova returns page size
// 2048.0 for "2MB" but 2048 for "2048", and an oracle or a Go port that
// blurs that has not reproduced Nova exactly.
func EqualJSON(a, b []byte) (bool, error) {
	va, err := decodeJSON(a)
	if err != nil {
		return false, fmt.Errorf("first document: %w", err)
	}
	vb, err := decodeJSON(b)
	if err != nil {
		return false, fmt.Errorf("second document: %w", err)
	}
	return equalValue(va, vb), nil
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after JSON value")
	}
	return v, nil
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && equalNumber(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equalValue(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

func isIntegerLiteral(n json.Number) bool {
	return !strings.ContainsAny(string(n), ".eE")
}

func equalNumber(a, b json.Number) bool {
	ai, bi := isIntegerLiteral(a), isIntegerLiteral(b)
	if ai != bi {
		return false
	}
	if ai {
		x, okx := new(big.Int).SetString(string(a), 10)
		y, oky := new(big.Int).SetString(string(b), 10)
		return okx && oky && x.Cmp(y) == 0
	}
	x, okx := new(big.Float).SetString(string(a))
	y, oky := new(big.Float).SetString(string(b))
	return okx && oky && x.Cmp(y) == 0
}
