package host

import (
	"errors"
	"fmt"
)

// ErrNotAvailable is matched by a *NotAvailableError.
var ErrNotAvailable = errors.New("host: setting not available in this build")

// NotAvailableError is a configuration key that this build accepts in the
// schema but cannot honour yet. cdp refuses to start with it rather than
// accept a setting that would do nothing.
type NotAvailableError struct {
	Key    string // dotted key, "database.redis.addr"
	Reason string // what is missing and what to do instead
}

// Error implements error.
func (e *NotAvailableError) Error() string {
	return fmt.Sprintf("host: %s: %s", e.Key, e.Reason)
}

// Unwrap returns ErrNotAvailable.
func (e *NotAvailableError) Unwrap() error { return ErrNotAvailable }
