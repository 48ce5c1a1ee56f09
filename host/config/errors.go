package config

import (
	"errors"
	"strings"
)

// Sentinel reasons; every *FieldError wraps exactly one of them, so a caller
// can branch with errors.Is on the error Load or Validate returns.
var (
	// ErrUnknownKey: the key is not a cdp setting (often a typo).
	ErrUnknownKey = errors.New("config: unknown key")
	// ErrWrongType: the value has the wrong type for the key.
	ErrWrongType = errors.New("config: wrong type")
	// ErrOutOfRange: the value is outside the key's allowed range or set.
	ErrOutOfRange = errors.New("config: value out of range")
	// ErrConflict: two or more settings contradict each other.
	ErrConflict = errors.New("config: conflicting settings")
	// ErrUnsupported: the setting is known but this build cannot honour it;
	// cdp refuses to start rather than run without it (a security setting
	// that does nothing must never fail open).
	ErrUnsupported = errors.New("config: setting not supported")
	// ErrSource: a file could not be read or parsed.
	ErrSource = errors.New("config: cannot read source")
)

// FieldError is one problem with one setting.
type FieldError struct {
	// Source is where the offending value came from: a file path, "env
	// CDP_API_PORT", "flag --port", or "defaults".
	Source string
	// Key is the dotted key ("grid.min_size"); empty for a whole-source error.
	Key string
	// Reason is one of the package's sentinels.
	Reason error
	// Msg says what is wrong and, where it helps, what would be right.
	Msg string
}

// Error formats as "config: SOURCE: KEY: MSG".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the reason sentinel.
func (e *FieldError) Unwrap() error { return e.Reason }

// Errors is every problem found in one load or validation, in a stable order
// (by source layer, then key). It is never empty when returned as an error.
type Errors []*FieldError

// Error lists the problems one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// FieldErrors returns the individual problems in err (an Errors, a single
// *FieldError, or anything wrapping them), or nil.
func FieldErrors(err error) []*FieldError {
	var es Errors
	if errors.As(err, &es) {
		return es
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return []*FieldError{fe}
	}
	return nil
}

// IsUnknownKey reports whether err contains an unknown-key problem.
func IsUnknownKey(err error) bool { return errors.Is(err, ErrUnknownKey) }

// Interface guards.
var (
	_ error = (*FieldError)(nil)
	_ error = Errors(nil)
)
