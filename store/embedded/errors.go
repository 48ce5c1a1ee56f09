package embedded

import (
	"errors"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

var (
	// ErrConfig is a Config that cannot work.
	ErrConfig = errors.New("embedded: invalid config")
	// ErrOpen is a file that cannot be opened as the store.
	ErrOpen = errors.New("embedded: cannot open store")
	// ErrVersion is matched by a *VersionError.
	ErrVersion = errors.New("embedded: unsupported file format")
)

// VersionError is a file written with another FormatVersion.
type VersionError struct {
	Path string
	Got  []byte
}

// Error implements error.
func (e *VersionError) Error() string {
	return fmt.Sprintf("embedded: %s has format %x, this build reads %d", e.Path, e.Got, FormatVersion)
}

// Unwrap returns ErrVersion.
func (e *VersionError) Unwrap() error { return ErrVersion }

// CursorError is a paging cursor this store did not issue.
type CursorError struct{ Cursor string }

// Error implements error.
func (e *CursorError) Error() string { return fmt.Sprintf("embedded: invalid cursor %q", e.Cursor) }

// Unwrap returns risk.ErrCursor.
func (e *CursorError) Unwrap() error { return risk.ErrCursor }
