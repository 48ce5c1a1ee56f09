package plugins

import (
	"errors"
	"fmt"
)

// Sentinel errors. Load failures wrap ErrRefused; batch failures are
// *FailureError values that wrap one of the Err* reasons below.
var (
	// ErrRefused: the module cannot be loaded (too large, does not compile,
	// imports something not offered, lacks an export, speaks another ABI, bad
	// manifest, init refused or timed out). The message names the cause.
	ErrRefused = errors.New("plugins: module refused")
	// ErrTimeout: a guest call ran past its time limit and was stopped.
	ErrTimeout = errors.New("plugins: guest call timed out")
	// ErrTrap: the guest trapped (unreachable, out-of-bounds access, stack
	// overflow, out of memory in its runtime, ...).
	ErrTrap = errors.New("plugins: guest trapped")
	// ErrExit: the guest called proc_exit.
	ErrExit = errors.New("plugins: guest exited")
	// ErrGuest: the guest returned a non-zero status code.
	ErrGuest = errors.New("plugins: guest returned an error")
	// ErrMalformed: the guest's output broke the ABI (wrong out_count, a
	// value out of range or not finite, a box not containing its vehicle).
	ErrMalformed = errors.New("plugins: malformed guest output")
	// ErrInstance: a new instance could not be created (instantiation, init).
	ErrInstance = errors.New("plugins: instance creation failed")
	// ErrBreakerOpen: the plugin is out of service after repeated failures
	// until Reset is called.
	ErrBreakerOpen = errors.New("plugins: plugin out of service (breaker open)")
	// ErrNotImplemented: the plugin's kind does not include the operation.
	ErrNotImplemented = errors.New("plugins: operation not implemented by the plugin")
	// ErrClosed: the plugin or runtime was closed.
	ErrClosed = errors.New("plugins: closed")
	// ErrShortOutput: the caller's output slice is shorter than its input.
	ErrShortOutput = errors.New("plugins: output slice shorter than input")
)

// Reason classifies a failure for counting; see Stats.FailuresByReason.
type Reason int

// Failure reasons.
const (
	ReasonTimeout Reason = iota
	ReasonTrap
	ReasonExit
	ReasonGuestError
	ReasonMalformed
	ReasonInstance
	numReasons
)

var reasonNames = [numReasons]string{"timeout", "trap", "exit", "guest_error", "malformed", "instance"}

// String returns the reason's metric label ("timeout", "trap", ...).
func (r Reason) String() string {
	if r >= 0 && r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}

func (r Reason) sentinel() error {
	switch r {
	case ReasonTimeout:
		return ErrTimeout
	case ReasonTrap:
		return ErrTrap
	case ReasonExit:
		return ErrExit
	case ReasonGuestError:
		return ErrGuest
	case ReasonMalformed:
		return ErrMalformed
	}
	return ErrInstance
}

// FailureError is one failed guest call: which plugin, which operation, why.
type FailureError struct {
	Plugin string // model name@version
	Op     string // "score", "predict", "init", ...
	Reason Reason
	Detail string // e.g. "result 17: risk = NaN"
	Cause  error  // the wazero error, if any
}

// Error implements error.
func (e *FailureError) Error() string {
	s := fmt.Sprintf("plugins: %s %s: %s", e.Plugin, e.Op, e.Reason)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the reason's sentinel (ErrTimeout, ErrTrap, ...) and the cause.
func (e *FailureError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Reason.sentinel(), e.Cause}
	}
	return []error{e.Reason.sentinel()}
}

// IsRefused reports whether err says a module could not be loaded.
func IsRefused(err error) bool { return errors.Is(err, ErrRefused) }

// IsFailure reports whether err is a guest failure (timeout, trap, exit,
// guest error, malformed output, instance creation) and returns it.
func IsFailure(err error) (*FailureError, bool) {
	var f *FailureError
	ok := errors.As(err, &f)
	return f, ok
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrRefused}, args...)...)
}

// refusal is Load's error when the first instance could not be created: it
// is ErrRefused and the *FailureError that says why.
type refusal struct{ f *FailureError }

func (r *refusal) Error() string {
	msg := fmt.Sprintf("plugins: module refused: %s %s", r.f.Plugin, r.f.Op)
	if r.f.Detail != "" {
		msg += ": " + r.f.Detail
	}
	if r.f.Cause != nil && r.f.Detail == "" {
		msg += ": " + r.f.Cause.Error()
	}
	return msg
}

func (r *refusal) Unwrap() []error { return []error{ErrRefused, r.f} }
