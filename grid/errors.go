package grid

import (
	"errors"
	"fmt"
)

// ErrInvalidConfig is the sentinel that every configuration error wraps.
var ErrInvalidConfig = errors.New("grid: invalid config")

// ConfigError reports one bad Config field. Key is the configuration key the
// field is loaded from (grid.min_size, ...), so that `cdp config validate`
// can name it; Other names the conflicting key when the value is bad only in
// relation to another one.
type ConfigError struct {
	Key    string  // offending key, e.g. "grid.min_size"
	Value  float64 // value after defaults were applied
	Other  string  // conflicting key, or ""
	Reason string  // what is wrong, e.g. "must be finite and > 0"
}

// Error implements error.
func (e *ConfigError) Error() string {
	if e.Other != "" {
		return fmt.Sprintf("grid: %s = %g %s %s", e.Key, e.Value, e.Reason, e.Other)
	}
	return fmt.Sprintf("grid: %s = %g %s", e.Key, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// IsInvalidConfig reports whether err is (or wraps) a configuration error.
func IsInvalidConfig(err error) bool { return errors.Is(err, ErrInvalidConfig) }

var _ error = (*ConfigError)(nil)
