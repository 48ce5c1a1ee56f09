package plugins

import (
	"errors"
	"fmt"
	"strings"

	"github.com/collision-detection-platform/distributed-platform/abi"
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

// Refusal causes (RefusedError.Cause), stable strings for metrics and the
// admin API.
const (
	RefusedTooLarge   = "too_large"   // over Limits.MaxModuleBytes
	RefusedNotWasm    = "not_wasm"    // not a WebAssembly binary
	RefusedCompile    = "compile"     // malformed, does not validate or compile, over the memory limit
	RefusedImports    = "imports"     // imports something the sandbox does not offer
	RefusedExports    = "exports"     // a required export is missing or has the wrong signature
	RefusedABIVersion = "abi_version" // another ABI major, or a newer minor
	RefusedManifest   = "manifest"    // the manifest is malformed, or its kind lacks the exports
	RefusedInit       = "init"        // instantiation, _initialize or cdp_init failed or ran past Limits.InitTimeout
)

// RefusedError is Load's error for a module it will not run. It wraps
// ErrRefused and, when the first instance failed, that *FailureError.
type RefusedError struct {
	Cause   string        // one of the Refused* constants
	Message string        // what is wrong, for people
	Failure *FailureError // set when creating the first instance failed
}

// Error implements error: "plugins: module refused: <message>".
func (e *RefusedError) Error() string { return ErrRefused.Error() + ": " + e.Message }

// Unwrap returns ErrRefused and the instance failure, if any.
func (e *RefusedError) Unwrap() []error {
	if e.Failure != nil {
		return []error{ErrRefused, e.Failure}
	}
	return []error{ErrRefused}
}

// RefusalCause returns the Refused* cause of a Load error, or "" when err is
// not a refusal.
func RefusalCause(err error) string {
	var r *RefusedError
	if errors.As(err, &r) {
		return r.Cause
	}
	return ""
}

func refused(cause, format string, args ...any) *RefusedError {
	return &RefusedError{Cause: cause, Message: fmt.Sprintf(format, args...)}
}

// refusedInstance turns the failure of the first instance into a refusal.
func refusedInstance(f *FailureError) *RefusedError {
	msg := f.Plugin + " " + f.Op
	if f.Detail != "" {
		msg += ": " + f.Detail
	} else if f.Cause != nil {
		msg += ": " + f.Cause.Error()
	}
	cause := RefusedInit
	switch {
	case errors.Is(f.Cause, abi.ErrVersion):
		cause = RefusedABIVersion
	case f.Op == "cdp_manifest" && strings.Contains(f.Detail, " export"):
		cause = RefusedExports
	case f.Op == "cdp_manifest":
		cause = RefusedManifest
	}
	return &RefusedError{Cause: cause, Message: msg, Failure: f}
}
