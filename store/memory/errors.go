package memory

import (
	"errors"
	"fmt"
)

// ErrCapacity is matched by a *CapacityError.
var ErrCapacity = errors.New("memory: invalid capacity")

// CapacityError is a negative Config.Capacity.
type CapacityError struct {
	Capacity int
}

// Error implements error.
func (e *CapacityError) Error() string {
	return fmt.Sprintf("memory: capacity must be >= 0 (0 takes the default %d), got %d", DefaultCapacity, e.Capacity)
}

// Unwrap returns ErrCapacity.
func (e *CapacityError) Unwrap() error { return ErrCapacity }
