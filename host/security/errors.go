package security

import (
	"errors"
	"fmt"
)

// Authentication failure reasons. Every *AuthError wraps one of them; the
// reason's short code (AuthError.Code) is what the API's answer, the metrics
// and the audit log carry.
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("security: no bearer token")
	// ErrMalformed: the Authorization header or the token cannot be parsed.
	ErrMalformed = errors.New("security: malformed token")
	// ErrAlgorithm: the token's algorithm is not in the allow-list.
	ErrAlgorithm = errors.New("security: algorithm not allowed")
	// ErrUnknownKey: the token names a key id (kid) that is not configured,
	// or names none while several keys could verify it.
	ErrUnknownKey = errors.New("security: unknown signing key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("security: invalid signature")
	// ErrExpired: the token's exp has passed (beyond the clock skew), or it
	// has no exp.
	ErrExpired = errors.New("security: token expired")
	// ErrNotYetValid: the token's nbf or iat is in the future (beyond the
	// clock skew).
	ErrNotYetValid = errors.New("security: token not yet valid")
	// ErrIssuer: the token's iss is not the configured issuer.
	ErrIssuer = errors.New("security: wrong issuer")
	// ErrAudience: the token's aud does not name the configured audience.
	ErrAudience = errors.New("security: wrong audience")
	// ErrNoRole: the token carries no role cdp knows.
	ErrNoRole = errors.New("security: no role")
)

// AuthError is a refused token with its reason.
type AuthError struct {
	// Reason is one of the package's authentication sentinels.
	Reason error
	// Detail says what was wrong in words a client can act on.
	Detail string
}

// Error formats as "security: REASON: DETAIL".
func (e *AuthError) Error() string {
	if e.Detail == "" {
		return e.Reason.Error()
	}
	return fmt.Sprintf("%s: %s", e.Reason, e.Detail)
}

// Unwrap returns the reason sentinel.
func (e *AuthError) Unwrap() error { return e.Reason }

// Code is the reason as a short stable word (no_token, malformed,
// algorithm, unknown_kid, signature, expired, not_yet_valid, issuer,
// audience, no_role), for answers, metrics and the audit log.
func (e *AuthError) Code() string {
	switch e.Reason {
	case ErrNoToken:
		return "no_token"
	case ErrAlgorithm:
		return "algorithm"
	case ErrUnknownKey:
		return "unknown_kid"
	case ErrSignature:
		return "signature"
	case ErrExpired:
		return "expired"
	case ErrNotYetValid:
		return "not_yet_valid"
	case ErrIssuer:
		return "issuer"
	case ErrAudience:
		return "audience"
	case ErrNoRole:
		return "no_role"
	}
	return "malformed"
}

// IsAuthError reports whether err is a refused token, and returns it.
func IsAuthError(err error) (*AuthError, bool) {
	var ae *AuthError
	ok := errors.As(err, &ae)
	return ae, ok
}

var _ error = (*AuthError)(nil)
