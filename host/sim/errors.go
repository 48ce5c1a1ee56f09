package sim

import (
	"errors"
	"fmt"
)

// ErrConfig is matched (errors.Is) by every error of New: a Config field is
// out of range. The error is a *ConfigError naming the field.
var ErrConfig = errors.New("sim: invalid configuration")

// ConfigError names the Config field at fault and why.
type ConfigError struct {
	Field string // Config field name, e.g. "Rate"
	Value any    // the value given
	Msg   string // what is wanted
}

// Error implements error: "sim: Rate = -1: must be > 0 reports per second".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("sim: %s = %v: %s", e.Field, e.Value, e.Msg)
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// IsConfigError reports whether err is, or wraps, a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

var _ error = (*ConfigError)(nil)
