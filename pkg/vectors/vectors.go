// Package vectors reads test vectors in the nova-numa-vectors/1 schema: facts
// recorded by running Nova's own code, each an input to one Nova function and
// the result (or exception class) Nova produced.
package vectors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Schema is the only schema version this package reads.
const Schema = "nova-numa-vectors/1"

// Categories of vectors, by the Nova function family they exercise.
const (
	CategoryConstraints = "constraints"
	CategoryPolicy      = "policy"
	CategoryFitHost     = "fit_host"
	CategoryFitCell     = "fit_cell"
	CategoryUsage       = "usage"
	CategoryCPUTopology = "cpu_topology"
	CategoryLibvirtXML  = "libvirt_xml"
)

// File is one vector file.
type File struct {
	Schema      string   `json:"schema"`
	NovaVersion string   `json:"nova_version"`
	Source      string   `json:"source,omitempty"`
	Count       int      `json:"count"`
	Vectors     []Vector `json:"vectors"`
}

// Origin says which Nova unit test call a vector was recorded from.
type Origin struct {
	File      string `json:"file"`
	Test      string `json:"test"`
	CallIndex int    `json:"call_index"`
}

// Expect is Nova's outcome: a result (possibly JSON null) or an exception
// class name.
type Expect struct {
	// Result is the raw JSON result; "null" when Nova returned None. Empty
	// when Error is set.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is the exception class Nova raised.
	Error string `json:"error,omitempty"`
}

// Vector is one recorded call. Input stays raw because its shape depends on
// Function; the runner decodes it.
type Vector struct {
	ID            string          `json:"id"`
	Category      string          `json:"category"`
	Function      string          `json:"function"`
	Origin        Origin          `json:"origin"`
	NovaVersion   string          `json:"nova_version"`
	Input         json.RawMessage `json:"input"`
	Expect        Expect          `json:"expect"`
	InputComplete *bool           `json:"input_complete,omitempty"`
}

// Function names as vectors spell them.
const (
	FuncGetConstraints         = "nova/virt/hardware.py:numa_get_constraints"
	FuncCPUPolicy              = "nova/virt/hardware.py:get_cpu_policy_constraint"
	FuncRealtimeCPUs           = "nova/virt/hardware.py:get_realtime_cpu_constraint"
	FuncPageSize               = "nova/virt/hardware.py:_get_numa_pagesize_constraint"
	FuncFitHost                = "nova/virt/hardware.py:numa_fit_instance_to_host"
	FuncFitCell                = "nova/virt/hardware.py:_numa_fit_instance_cell"
	FuncUsage                  = "nova/virt/hardware.py:numa_usage_from_instance_numa"
	FuncDesirableCPUTopologies = "nova/virt/hardware.py:_get_desirable_cpu_topologies"
	FuncBestCPUTopology        = "nova/virt/hardware.py:get_best_cpu_topology"
	FuncGuestNUMAConfig        = "nova/virt/libvirt/driver.py:LibvirtDriver._get_guest_numa_config"
	FuncGuestMemoryBacking     = "nova/virt/libvirt/driver.py:LibvirtDriver._get_guest_memory_backing_config"
)

// InvalidError reports a vector file that cannot be used, naming the file
// and, where known, the vector.
type InvalidError struct {
	File     string
	VectorID string
	Reason   string
}

func (e *InvalidError) Error() string {
	if e.VectorID != "" {
		return fmt.Sprintf("%s: vector %s: %s", e.File, e.VectorID, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

// Load reads and checks a vector file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes a vector file's bytes; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, &InvalidError{File: name, Reason: "not a JSON vector file: " + err.Error()}
	}
	if f.Schema != Schema {
		return nil, &InvalidError{File: name, Reason: fmt.Sprintf("schema is %q, want %q", f.Schema, Schema)}
	}
	seen := map[string]bool{}
	for i, v := range f.Vectors {
		if v.ID == "" {
			return nil, &InvalidError{File: name, Reason: fmt.Sprintf("vector #%d has no id", i)}
		}
		if seen[v.ID] {
			return nil, &InvalidError{File: name, VectorID: v.ID, Reason: "duplicate id"}
		}
		seen[v.ID] = true
		if len(v.Input) == 0 {
			return nil, &InvalidError{File: name, VectorID: v.ID, Reason: "no input"}
		}
		if (len(v.Expect.Result) == 0) == (v.Expect.Error == "") {
			return nil, &InvalidError{File: name, VectorID: v.ID, Reason: "expect must hold exactly one of result and error"}
		}
	}
	return &f, nil
}

// ByFunction returns the vectors that exercise the named Nova function.
func (f *File) ByFunction(function string) []Vector {
	var out []Vector
	for _, v := range f.Vectors {
		if v.Function == function {
			out = append(out, v)
		}
	}
	return out
}
