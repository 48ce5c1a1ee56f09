package security

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Role is what a token may do. A token's roles come from its roles claim;
// names cdp does not know are ignored.
type Role uint8

// The roles. RoleAdmin may do everything the others may.
const (
	// RoleIngest may post vehicle locations.
	RoleIngest Role = 1 << iota
	// RoleRead may query vehicles, risks, history, the live stream, the
	// status and (unless it is public) the metrics.
	RoleRead
	// RoleAdmin may manage plugins, export and import state, read the audit
	// log, and everything RoleIngest and RoleRead may.
	RoleAdmin
)

// RoleNames maps the claim values to roles.
var RoleNames = map[string]Role{"ingest": RoleIngest, "read": RoleRead, "admin": RoleAdmin}

// String is the role's claim value.
func (r Role) String() string {
	var parts []string
	for _, n := range []string{"ingest", "read", "admin"} {
		if r&RoleNames[n] != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// Principal is an authenticated caller.
type Principal struct {
	// Subject is the token's sub claim.
	Subject string
	// Roles is the set of roles the token carries.
	Roles Role
	// ExpiresAt is the token's exp.
	ExpiresAt time.Time
}

// Can reports whether p may act in role r: it holds r, or admin.
func (p Principal) Can(r Role) bool { return p.Roles&(r|RoleAdmin) != 0 }

// JWTConfig configures an Authenticator (security.jwt).
type JWTConfig struct {
	// SecretFile holds the HMAC secret for HS256/384/512 (at least 32
	// bytes; a trailing newline is dropped).
	SecretFile string
	// PublicKeyFiles are PEM public keys (or certificates) for RS*, PS*, ES*
	// and EdDSA tokens; a key's kid is its file name without the extension.
	PublicKeyFiles []string
	// JWKSFile is a JSON Web Key Set of public keys, each with its kid.
	JWKSFile string
	// Algorithms is the allow-list of "alg" values; "none" is never allowed
	// and every listed algorithm needs a key of its kind. Required.
	Algorithms []string
	// Issuer, when set, must equal the token's iss.
	Issuer string
	// Audience, when set, must be one of the token's aud values.
	Audience string
	// ClockSkew is the leeway applied to exp, nbf and iat. Default 0.
	ClockSkew time.Duration
	// RolesClaim is the claim holding the roles, an array of strings or one
	// space- or comma-separated string; a dotted path reaches into objects
	// ("realm_access.roles"). Default "roles".
	RolesClaim string
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Authenticator verifies bearer tokens. It is safe for concurrent use.
type Authenticator struct {
	cfg    JWTConfig
	algs   map[string]keyKind
	keys   []verifyKey
	secret []byte
	parser *jwt.Parser
	claim  []string

	// Verified tokens by SHA-256 of their text, so that a client sending the
	// same token with every request pays for one signature check (RSA and
	// Ed25519 verification cost tens of microseconds), not one per request.
	// Bounded by maxCached; only the time window is checked on a hit.
	mu    sync.Mutex
	cache map[[32]byte]cachedToken
}

// cachedToken is a verified token's caller and validity window (skew
// applied).
type cachedToken struct {
	p        Principal
	from, to time.Time
}

// maxCached bounds the verified-token cache (about 150 bytes an entry).
const maxCached = 4096

// keyKind is the family of key an algorithm verifies with.
type keyKind uint8

const (
	kindHMAC keyKind = iota + 1
	kindRSA
	kindP256
	kindP384
	kindP521
	kindEd25519
)

func (k keyKind) String() string {
	return [...]string{"", "HMAC secret", "RSA", "ECDSA P-256", "ECDSA P-384", "ECDSA P-521", "Ed25519"}[k]
}

// algKinds are the algorithms cdp accepts, with the kind of key each needs.
var algKinds = map[string]keyKind{
	"HS256": kindHMAC, "HS384": kindHMAC, "HS512": kindHMAC,
	"RS256": kindRSA, "RS384": kindRSA, "RS512": kindRSA,
	"PS256": kindRSA, "PS384": kindRSA, "PS512": kindRSA,
	"ES256": kindP256, "ES384": kindP384, "ES512": kindP521,
	"EdDSA": kindEd25519,
}

// verifyKey is one configured public key.
type verifyKey struct {
	kid    string
	kind   keyKind
	alg    string // the JWK's "alg", when it names one: the key verifies only that
	key    any
	source string
}

// minSecret is the shortest HMAC secret accepted: RFC 7518 §3.2 asks for a
// key at least as long as the hash output.
const minSecret = 32

// NewAuthenticator loads the keys and checks that every allowed algorithm
// has a key and every key an algorithm, so that no setting is silently
// unused.
func NewAuthenticator(c JWTConfig) (*Authenticator, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RolesClaim == "" {
		c.RolesClaim = "roles"
	}
	a := &Authenticator{cfg: c, algs: map[string]keyKind{}, claim: strings.Split(c.RolesClaim, "."), cache: map[[32]byte]cachedToken{}}
	if c.SecretFile != "" {
		s, err := readSecret(c.SecretFile)
		if err != nil {
			return nil, err
		}
		if len(s) < minSecret {
			return nil, fmt.Errorf("security: security.jwt.secret_file %q: the secret has %d bytes, want at least %d", c.SecretFile, len(s), minSecret)
		}
		a.secret = s
	}
	for _, f := range c.PublicKeyFiles {
		k, err := loadPEMKey(f)
		if err != nil {
			return nil, err
		}
		a.keys = append(a.keys, k)
	}
	if c.JWKSFile != "" {
		ks, err := loadJWKS(c.JWKSFile)
		if err != nil {
			return nil, err
		}
		a.keys = append(a.keys, ks...)
	}
	if len(c.Algorithms) == 0 {
		return nil, errors.New("security: security.jwt.algorithms: list the algorithms tokens may use (for example [RS256] or [HS256])")
	}
	have := map[keyKind]bool{}
	if a.secret != nil {
		have[kindHMAC] = true
	}
	for _, k := range a.keys {
		have[k.kind] = true
	}
	for _, alg := range c.Algorithms {
		kind, ok := algKinds[alg]
		if !ok {
			return nil, fmt.Errorf("security: security.jwt.algorithms: %q is not allowed: use HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 or EdDSA", alg)
		}
		if !have[kind] {
			return nil, fmt.Errorf("security: security.jwt.algorithms: %s needs an %s key and none is configured", alg, kind)
		}
		a.algs[alg] = kind
	}
	used := map[keyKind]bool{}
	for _, kind := range a.algs {
		used[kind] = true
	}
	if a.secret != nil && !used[kindHMAC] {
		return nil, errors.New("security: security.jwt.secret_file is set but security.jwt.algorithms allows no HS256/384/512")
	}
	for _, k := range a.keys {
		if !used[k.kind] {
			return nil, fmt.Errorf("security: %s: %s key %q is configured but security.jwt.algorithms allows no algorithm for it", k.source, k.kind, k.kid)
		}
	}
	opts := []jwt.ParserOption{
		jwt.WithLeeway(c.ClockSkew),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(c.Now),
	}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if c.Audience != "" {
		opts = append(opts, jwt.WithAudience(c.Audience))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// maxTokenBytes bounds what is parsed: a token is a few hundred bytes to a
// few KB; anything far larger is an attack on the parser.
const maxTokenBytes = 16 << 10

// Authenticate verifies the value of an Authorization header ("Bearer
// TOKEN") and returns the caller, or an *AuthError saying why not.
func (a *Authenticator) Authenticate(header string) (Principal, error) {
	if header == "" {
		return Principal{}, &AuthError{Reason: ErrNoToken, Detail: "send Authorization: Bearer <token>"}
	}
	scheme, tok, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, &AuthError{Reason: ErrMalformed, Detail: "the Authorization header must be \"Bearer <token>\""}
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > maxTokenBytes {
		return Principal{}, &AuthError{Reason: ErrMalformed, Detail: fmt.Sprintf("token of %d bytes, above %d", len(tok), maxTokenBytes)}
	}
	key := sha256.Sum256([]byte(tok))
	now := a.cfg.Now()
	a.mu.Lock()
	ct, hit := a.cache[key]
	a.mu.Unlock()
	if hit && !now.Before(ct.from) && now.Before(ct.to) {
		return ct.p, nil
	}
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(tok, claims, a.keyFor)
	if err != nil {
		if hit {
			a.mu.Lock()
			delete(a.cache, key)
			a.mu.Unlock()
		}
		return Principal{}, authError(err)
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return Principal{}, &AuthError{Reason: ErrMalformed, Detail: "the token has no sub claim"}
	}
	roles := a.roles(claims)
	p := Principal{Subject: sub, Roles: roles}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		p.ExpiresAt = exp.Time
	}
	if roles == 0 {
		return p, &AuthError{Reason: ErrNoRole, Detail: fmt.Sprintf("claim %q holds none of ingest, read, admin", a.cfg.RolesClaim)}
	}
	// The window the parser just checked: [max(nbf, iat), exp) with skew.
	ct = cachedToken{p: p, from: time.Time{}, to: p.ExpiresAt.Add(a.cfg.ClockSkew)}
	for _, get := range []func() (*jwt.NumericDate, error){claims.GetNotBefore, claims.GetIssuedAt} {
		if d, err := get(); err == nil && d != nil && d.Add(-a.cfg.ClockSkew).After(ct.from) {
			ct.from = d.Add(-a.cfg.ClockSkew)
		}
	}
	a.mu.Lock()
	if len(a.cache) >= maxCached {
		for k := range a.cache { // evict an arbitrary entry
			delete(a.cache, k)
			break
		}
	}
	a.cache[key] = ct
	a.mu.Unlock()
	return p, nil
}

// keyFor is the jwt.Keyfunc: it enforces the allow-list itself (so that an
// alg=none or HS256 token never reaches a verifier with a public key) and
// picks the key by kid.
func (a *Authenticator) keyFor(t *jwt.Token) (any, error) {
	alg, _ := t.Header["alg"].(string)
	kind, ok := a.algs[alg]
	if !ok || t.Method == nil || t.Method.Alg() != alg {
		return nil, &AuthError{Reason: ErrAlgorithm, Detail: fmt.Sprintf("alg %q is not in security.jwt.algorithms", alg)}
	}
	if kind == kindHMAC {
		return a.secret, nil
	}
	kid, hasKid := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range a.keys {
		if k.kind != kind || (k.alg != "" && k.alg != alg) {
			continue
		}
		if hasKid && k.kid != kid {
			continue
		}
		set.Keys = append(set.Keys, k.key)
	}
	switch {
	case len(set.Keys) == 0 && hasKid:
		return nil, &AuthError{Reason: ErrUnknownKey, Detail: fmt.Sprintf("no %s key with kid %q", kind, kid)}
	case len(set.Keys) == 0:
		return nil, &AuthError{Reason: ErrUnknownKey, Detail: fmt.Sprintf("no %s key for alg %s", kind, alg)}
	case len(set.Keys) == 1:
		return set.Keys[0], nil
	}
	return set, nil
}

// roles reads the roles claim: an array of strings, or one string of names
// separated by spaces or commas.
func (a *Authenticator) roles(claims jwt.MapClaims) Role {
	var v any = map[string]any(claims)
	for _, part := range a.claim {
		m, ok := v.(map[string]any)
		if !ok {
			return 0
		}
		v = m[part]
	}
	var r Role
	add := func(s string) { r |= RoleNames[strings.ToLower(strings.TrimSpace(s))] }
	switch x := v.(type) {
	case string:
		for _, f := range strings.FieldsFunc(x, func(c rune) bool { return c == ' ' || c == ',' }) {
			add(f)
		}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	}
	return r
}

// authError maps the parser's errors onto the package's reasons.
func authError(err error) *AuthError {
	if ae, ok := IsAuthError(err); ok {
		return ae
	}
	detail := err.Error()
	if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
		switch {
		case strings.Contains(detail, "aud claim"):
			return &AuthError{Reason: ErrAudience, Detail: detail}
		case strings.Contains(detail, "iss claim"):
			return &AuthError{Reason: ErrIssuer, Detail: detail}
		}
	}
	for _, m := range []struct {
		jwtErr error
		reason error
	}{
		{jwt.ErrTokenSignatureInvalid, ErrSignature},
		{jwt.ErrTokenInvalidIssuer, ErrIssuer},
		{jwt.ErrTokenInvalidAudience, ErrAudience},
		{jwt.ErrTokenExpired, ErrExpired},
		{jwt.ErrTokenRequiredClaimMissing, ErrExpired},
		{jwt.ErrTokenNotValidYet, ErrNotYetValid},
		{jwt.ErrTokenUsedBeforeIssued, ErrNotYetValid},
		{jwt.ErrInvalidKeyType, ErrSignature},
	} {
		if errors.Is(err, m.jwtErr) {
			return &AuthError{Reason: m.reason, Detail: detail}
		}
	}
	return &AuthError{Reason: ErrMalformed, Detail: detail}
}

// Algorithms returns the allowed algorithms, sorted.
func (a *Authenticator) Algorithms() []string {
	out := make([]string, 0, len(a.algs))
	for alg := range a.algs {
		out = append(out, alg)
	}
	slices.Sort(out)
	return out
}
