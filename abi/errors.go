package abi

import (
	"errors"
	"fmt"
)

// Sentinel errors of the wire format. A *HeaderError wraps one of them.
var (
	// ErrMagic: the batch does not start with Magic.
	ErrMagic = errors.New("abi: bad batch magic")
	// ErrVersion: the batch or the plugin speaks another major version, or a
	// newer minor version than this host.
	ErrVersion = errors.New("abi: unsupported ABI version")
	// ErrLayout: a stride, an offset or a count in the header is impossible
	// (a stride shorter than its record, a table outside the batch, overlapping
	// or misaligned tables).
	ErrLayout = errors.New("abi: bad batch layout")
	// ErrShort: a buffer is shorter than the header says the batch is.
	ErrShort = errors.New("abi: buffer too short")
	// ErrTooLarge: a batch does not fit the 32-bit offsets of ABI v1.
	ErrTooLarge = errors.New("abi: batch too large")
)

// HeaderError reports the header field that made a batch unusable.
type HeaderError struct {
	Field string // header field name as in SPEC.md, e.g. "vehicle_stride"
	Value uint64 // its value
	Err   error  // ErrMagic, ErrVersion, ErrLayout, ErrShort or ErrTooLarge
}

// Error implements error.
func (e *HeaderError) Error() string {
	return fmt.Sprintf("%v: %s = %d", e.Err, e.Field, e.Value)
}

// Unwrap returns the sentinel.
func (e *HeaderError) Unwrap() error { return e.Err }

// IsVersion reports whether err is (or wraps) ErrVersion.
func IsVersion(err error) bool { return errors.Is(err, ErrVersion) }

// IsLayout reports whether err is (or wraps) ErrLayout, ErrMagic or ErrShort:
// the batch bytes are not a well-formed batch.
func IsLayout(err error) bool {
	return errors.Is(err, ErrLayout) || errors.Is(err, ErrMagic) || errors.Is(err, ErrShort)
}
