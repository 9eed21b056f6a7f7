// Package nova holds what the reference fitter needs to know about Nova
// itself rather than about topologies: the exception classes Nova raises for
// NUMA requests, as Go error types, and the release profiles that say which
// Nova behaviour a given version has.
package nova

//go:generate go run ./internal/genexc

import (
	"errors"
	"fmt"
	"strings"
)

// Exception is an error that corresponds to one Nova exception class (or a
// Python builtin such as ValueError that Nova lets escape). Every concrete
// type in this package implements it, so callers can either errors.As on the
// exact type (*nova.ImageNUMATopologyForbidden) or on Exception to read the
// class name.
type Exception interface {
	error
	// Class is Nova's exception class name, e.g. "ImageNUMATopologyAsymmetric".
	Class() string
}

func format(class, reason string) string {
	if reason == "" {
		return class
	}
	return class + ": " + reason
}

// ClassOf returns the Nova exception class of err, or "" when err carries
// none.
func ClassOf(err error) string {
	var e Exception
	if errors.As(err, &e) {
		return e.Class()
	}
	return ""
}

// IsA reports whether err is an exception of the given class or of a class
// derived from it in Nova's hierarchy, the way Python's isinstance would:
// IsA(&ImageNUMATopologyForbidden{}, "Forbidden") is true. The API turns
// Invalid and Forbidden from numa_get_constraints into HTTP 400.
func IsA(err error, class string) bool {
	for c := ClassOf(err); c != ""; c = parentClass[c] {
		if c == class {
			return true
		}
	}
	return false
}

// New builds the exception of the named class; it fails for a class this
// package does not know.
func New(class, reason string) (Exception, error) {
	f, ok := newByClass[class]
	if !ok {
		return nil, fmt.Errorf("nova: unknown exception class %q", class)
	}
	return f(reason), nil
}

// Errorf builds an Exception of type E with a formatted reason. It keeps
// call sites short: nova.Errorf[*nova.InvalidRequest]("PCPU %d != %d", a, b).
func Errorf[E Exception](reason string, args ...any) E {
	var zero E
	e, _ := New(zero.Class(), fmt.Sprintf(reason, args...))
	return e.(E)
}

// Message returns an exception's message as Nova renders it to API
// clients (the text of a 400 body), without the class name that Error
// puts in front; for other errors it is err.Error().
func Message(err error) string {
	var e Exception
	if errors.As(err, &e) {
		return strings.TrimPrefix(e.Error(), e.Class()+": ")
	}
	return err.Error()
}
