package postgres

import (
	"errors"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

var (
	// ErrDSN is a connection string pgx cannot parse.
	ErrDSN = errors.New("postgres: invalid dsn")
	// ErrUnavailable is a server that does not answer.
	ErrUnavailable = errors.New("postgres: unavailable")
)

// CursorError is a paging cursor this store did not issue.
type CursorError struct{ Cursor string }

// Error implements error.
func (e *CursorError) Error() string { return fmt.Sprintf("postgres: invalid cursor %q", e.Cursor) }

// Unwrap returns risk.ErrCursor.
func (e *CursorError) Unwrap() error { return risk.ErrCursor }
