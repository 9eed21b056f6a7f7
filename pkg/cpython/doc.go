// Package cpython reproduces the CPython 3.11 behaviours that Nova's
// results depend on, so that the packages modelling Nova share one copy of
// each instead of three subtly different ones.
//
// Most of it is the set (Objects/setobject.c). Nova iterates Python sets in
// several places where the order decides the outcome: which thread of a core
// a vCPU is pinned to, which exception a malformed NUMA topology raises, the
// order of the libvirt driver's sibling groups. A set's iteration order is
// its hash-table slot order, which depends on the hashes of its members and
// on the whole history of the table (insertion order, resizes, deleted
// slots), so Set replays that history operation by operation, following the
// C code rather than an approximation of its results. Members are Python ints
// and tuples of ints, hashed as a 64-bit CPython hashes them.
//
// The rest is the text handling Nova's parsers inherit from Python: int()
// and the str predicates and strip, with the Unicode tables of the Python
// that runs Nova (Debian 12: 3.11, Unicode 14.0) rather than Go's newer
// ones, plus oslo.utils' bool_from_string, which is nothing but those.
//
// The package depends only on the standard library, so that small leaf
// packages such as cpuset can use it.
package cpython
