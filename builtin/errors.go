package builtin

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the models return wraps one of them, so a caller
// branches with errors.Is (or the Is... predicates below).
var (
	// ErrShortOutput: an output slice (boxes, samples or results) is shorter
	// than the batch needs.
	ErrShortOutput = errors.New("builtin: output slice too short")
	// ErrPairIndex: a pair names a vehicle outside the batch's vehicle table.
	ErrPairIndex = errors.New("builtin: pair index out of range")
	// ErrParams: the batch parameters are unusable (horizon negative, -0 or
	// not finite; min risk not finite).
	ErrParams = errors.New("builtin: invalid params")
)

// ShortOutputError says which output slice is too short and by how much. It
// wraps ErrShortOutput.
type ShortOutputError struct {
	Slice string // "boxes", "samples" or "results"
	Have  int    // its length
	Need  int    // the length the batch needs
}

func (e *ShortOutputError) Error() string {
	return fmt.Sprintf("builtin: %s: have %d elements, need %d", e.Slice, e.Have, e.Need)
}

// Unwrap returns ErrShortOutput.
func (e *ShortOutputError) Unwrap() error { return ErrShortOutput }

// PairIndexError names the first pair whose vehicle index is out of range. It
// wraps ErrPairIndex.
type PairIndexError struct {
	Pair     int    // index of the pair in the batch
	A, B     uint32 // its vehicle indices
	Vehicles int    // length of the vehicle table
}

func (e *PairIndexError) Error() string {
	return fmt.Sprintf("builtin: pair %d = (%d, %d) indexes outside %d vehicles", e.Pair, e.A, e.B, e.Vehicles)
}

// Unwrap returns ErrPairIndex.
func (e *PairIndexError) Unwrap() error { return ErrPairIndex }

// ParamsError names the unusable parameter. It wraps ErrParams.
type ParamsError struct {
	Field string  // "Horizon" or "MinRisk"
	Value float64 // the value received
}

func (e *ParamsError) Error() string {
	return fmt.Sprintf("builtin: invalid params: %s = %v", e.Field, e.Value)
}

// Unwrap returns ErrParams.
func (e *ParamsError) Unwrap() error { return ErrParams }

// IsShortOutput reports whether err is or wraps ErrShortOutput.
func IsShortOutput(err error) bool { return errors.Is(err, ErrShortOutput) }

// IsPairIndex reports whether err is or wraps ErrPairIndex.
func IsPairIndex(err error) bool { return errors.Is(err, ErrPairIndex) }

// IsParams reports whether err is or wraps ErrParams.
func IsParams(err error) bool { return errors.Is(err, ErrParams) }
