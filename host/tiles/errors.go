package tiles

import (
	"errors"
	"fmt"
)

// ErrLayout is the sentinel every layout error wraps.
var ErrLayout = errors.New("tiles: invalid layout")

// ErrLayoutMismatch is returned when a record was routed with another layout
// than the node's: the two cannot be mixed (the reference-point rule needs
// one tile grid).
var ErrLayoutMismatch = errors.New("tiles: layout mismatch")

// LayoutError names the configuration key of a bad layout field.
type LayoutError struct {
	Key    string // e.g. "messaging.kafka.cluster.tile_size"
	Value  any
	Reason string
}

// Error implements error.
func (e *LayoutError) Error() string {
	return fmt.Sprintf("tiles: %s = %v %s", e.Key, e.Value, e.Reason)
}

// Unwrap makes errors.Is(err, ErrLayout) hold.
func (e *LayoutError) Unwrap() error { return ErrLayout }

// IsLayoutError reports whether err is (or wraps) a layout error.
func IsLayoutError(err error) bool { return errors.Is(err, ErrLayout) }

var _ error = (*LayoutError)(nil)
