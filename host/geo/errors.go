package geo

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnknownKind: the frame type is neither "enu" nor "ecef".
	ErrUnknownKind = errors.New("geo: unknown frame type (want enu or ecef)")
	// ErrOriginRange: an origin coordinate is out of range or not finite.
	ErrOriginRange = errors.New("geo: frame origin out of range")
)

// ConfigError is a frame configuration error naming its key (relative to
// system.frame).
type ConfigError struct {
	Key   string // e.g. "origin.lat"
	Value string // the offending value as given
	Err   error  // ErrUnknownKind or ErrOriginRange
}

// Error implements error.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("geo: system.frame.%s = %q: %s", e.Key, e.Value, strings.TrimPrefix(e.Err.Error(), "geo: "))
}

// Unwrap returns the sentinel.
func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfigError reports whether err is, or wraps, a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

var _ error = (*ConfigError)(nil)
