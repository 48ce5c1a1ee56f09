package models

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Sentinel errors. The admin API maps them onto HTTP statuses: ErrNotFound
// 404, ErrAmbiguous and ErrBadRequest 400, ErrConflict 409, ErrRefused 422
// (413 when the refusal is RefusedTooLarge), ErrClosed 503.
var (
	// ErrNotFound: no plugin has that id (or id prefix).
	ErrNotFound = errors.New("models: no such plugin")
	// ErrAmbiguous: an id prefix matches more than one plugin.
	ErrAmbiguous = errors.New("models: plugin id prefix is ambiguous")
	// ErrBadRequest: the request itself is wrong (unknown kind, config not
	// JSON, share out of range, id prefix too short).
	ErrBadRequest = errors.New("models: bad request")
	// ErrConflict: the operation does not fit the plugin's state (delete the
	// active plugin, shadow a predictor, activate a broken plugin, upload a
	// known module with another configuration, roll back with no history).
	ErrConflict = errors.New("models: conflict")
	// ErrRefused: an uploaded module was refused; the error is a
	// *RefusedError that says why.
	ErrRefused = errors.New("models: module refused")
	// ErrClosed: the manager was closed.
	ErrClosed = errors.New("models: manager closed")
	// ErrStorage: the module or the registry could not be written (disk
	// full, quota, read-only file system); the error is a *StorageError,
	// whose message names no local path. The admin API answers 507 when
	// space ran out, 500 otherwise.
	ErrStorage = errors.New("models: cannot store")
)

// StorageError is a failed write of the registry's files. Its Error() says
// what failed and the system's reason ("no space left on device") but no
// path: it reaches API clients. Unwrap gives the full error (with the path)
// for the server's log.
type StorageError struct {
	// What names what was being written ("module", "registry").
	What string
	// Err is the underlying error, with its path.
	Err error
}

// Error formats as "models: cannot store the module: no space left on device".
func (e *StorageError) Error() string {
	reason := e.Err.Error()
	var errno syscall.Errno
	if errors.As(e.Err, &errno) {
		reason = errno.Error()
	}
	return "models: cannot store the " + e.What + ": " + reason
}

// Unwrap returns ErrStorage and the underlying error.
func (e *StorageError) Unwrap() []error { return []error{ErrStorage, e.Err} }

// NoSpace reports whether the write failed for lack of space or quota.
func (e *StorageError) NoSpace() bool {
	return errors.Is(e.Err, syscall.ENOSPC) || errors.Is(e.Err, syscall.EDQUOT)
}

// IsStorage reports whether err is a failed write, and returns it.
func IsStorage(err error) (*StorageError, bool) {
	var se *StorageError
	ok := errors.As(err, &se)
	return se, ok
}

// storageFailure recognises a write failure of the disk (space, quota,
// read-only) inside err, which may come from the Wasm runtime's compilation
// cache, and wraps it as a *StorageError.
func storageFailure(what string, err error) (*StorageError, bool) {
	for _, e := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EIO} {
		if errors.Is(err, e) {
			return &StorageError{What: what, Err: err}, true
		}
	}
	return nil, false
}

// Refusal causes of RefusedError.Cause.
const (
	RefusedTooLarge    = "too_large"     // over plugins.limits.max_module_bytes
	RefusedNotWasm     = "not_wasm"      // does not start with the Wasm magic
	RefusedCompile     = "compile"       // does not compile (truncated, corrupt, over the memory limit)
	RefusedABIVersion  = "abi_version"   // speaks another ABI major or a newer minor
	RefusedExports     = "exports"       // a required export is missing or has the wrong signature
	RefusedImports     = "imports"       // imports something the sandbox does not offer
	RefusedManifest    = "manifest"      // the manifest is malformed or does not match the request
	RefusedInit        = "init"          // _initialize or cdp_init failed or ran past plugins.limits.init_timeout
	RefusedConformance = "conformance"   // failed a conformance vector
	RefusedKind        = "kind_mismatch" // the declared kind is not the manifest's
	RefusedSignature   = "signature"     // unsigned (with plugins.require_signature), an untrusted key, or a signature of other bytes
)

// VectorFailure names one failed conformance vector.
type VectorFailure struct {
	Vector string `json:"vector"`
	Op     string `json:"op"`
	// Detail names the first differing field with both values, a range
	// violation or the guest failure.
	Detail string `json:"detail"`
}

// RefusedError says why an upload was refused.
type RefusedError struct {
	// Cause is one of the Refused* constants.
	Cause string `json:"cause"`
	// Message is the whole reason, e.g. "missing export cdp_alloc".
	Message string `json:"message"`
	// Vectors lists the failed conformance vectors (Cause "conformance").
	Vectors []VectorFailure `json:"vectors,omitempty"`
}

// Error implements error.
func (e *RefusedError) Error() string { return "models: module refused: " + e.Message }

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// IsRefused reports whether err is a refused upload and returns it.
func IsRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

func refusedf(cause, format string, args ...any) *RefusedError {
	return &RefusedError{Cause: cause, Message: fmt.Sprintf(format, args...)}
}

// classifyLoadError turns a plugins load error message into a refusal cause.
func classifyLoadError(msg string) string {
	switch {
	case strings.HasPrefix(msg, "compile") || strings.Contains(msg, "malformed module"):
		return RefusedCompile
	case strings.Contains(msg, "over the limit"):
		return RefusedTooLarge
	case strings.Contains(msg, "speaks ABI") || strings.Contains(msg, "needs ABI"):
		return RefusedABIVersion
	case strings.Contains(msg, "missing export") || strings.Contains(msg, "export ") && strings.Contains(msg, "signature") ||
		strings.Contains(msg, "no cdp_score export") || strings.Contains(msg, "no cdp_predict export") ||
		strings.Contains(msg, "memory") && strings.Contains(msg, "export") || strings.Contains(msg, "reactor"):
		return RefusedExports
	case strings.Contains(msg, "imports"):
		return RefusedImports
	case strings.Contains(msg, "manifest"):
		return RefusedManifest
	case strings.Contains(msg, "compile"):
		return RefusedCompile
	}
	return RefusedInit
}

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadRequest}, args...)...)
}

func conflict(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
}
