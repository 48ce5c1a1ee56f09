package cli

import (
	"errors"
	"strings"
)

// ErrNoRunner is returned by serve and replay of a command tree built
// without Options.Runner: a wiring error of the program that embeds the
// package (the cdp binary always passes host.Runner).
var ErrNoRunner = errors.New("cli: Options.Runner is nil: serve and replay need the engine runner (host.Runner)")

// ErrInterrupted: a command stopped early on SIGINT/SIGTERM after
// reporting what it had done; it exits with ExitInterrupted.
var ErrInterrupted = errors.New("interrupted")

// Exit codes of the cdp binary.
const (
	// ExitOK: success.
	ExitOK = 0
	// ExitError: the command failed (including an invalid configuration).
	ExitError = 1
	// ExitUsage: the command line itself is wrong (unknown command or flag,
	// wrong number of arguments, bad flag value).
	ExitUsage = 2
	// ExitInterrupted: stopped by SIGINT (Ctrl-C) or SIGTERM before the
	// end, as a shell reports a command killed by SIGINT (128 + 2).
	ExitInterrupted = 130
)

// UsageError is a mistake in the command line; it exits with ExitUsage and
// points at --help.
type UsageError struct {
	// Cmd is the command path, e.g. "cdp replay".
	Cmd string
	// Err is the problem.
	Err error
}

// Error returns the problem.
func (e *UsageError) Error() string { return e.Err.Error() }

// Unwrap returns Err.
func (e *UsageError) Unwrap() error { return e.Err }

// reportedError has been printed by the command already; Execute only sets
// the exit code.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// ExitCode maps an error from the command tree to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ue *UsageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return ExitUsage
	}
	if errors.Is(err, ErrInterrupted) {
		return ExitInterrupted
	}
	return ExitError
}

// isCobraUsage recognises the usage errors cobra builds itself (it has no
// typed error for them).
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command ") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "flag needs an argument") ||
		strings.HasPrefix(s, "if any flags in the group") || strings.HasPrefix(s, "required flag")
}

// Interface guards.
var (
	_ error = (*UsageError)(nil)
	_ error = reportedError{}
)
