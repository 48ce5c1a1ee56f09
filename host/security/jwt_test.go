package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// A JWKS with an RSA and an EC key: tokens pick their key by kid, an
// unknown kid is refused, and a kid of the wrong kind cannot be used.
func TestJWKSKeysByKid(t *testing.T) {
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	x, y := make([]byte, 32), make([]byte, 32)
	ek.X.FillBytes(x)
	ek.Y.FillBytes(y)
	set := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": b64url(rk.N.Bytes()), "e": b64url(big.NewInt(int64(rk.E)).Bytes())},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64url(x), "y": b64url(y)},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}, // skipped
	}}
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "jwks.json")
	os.WriteFile(path, b, 0o600)
	a, err := NewAuthenticator(JWTConfig{JWKSFile: path, Algorithms: []string{"RS256", "ES256"}})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(m jwt.SigningMethod, kid string, key any) string {
		tok := jwt.NewWithClaims(m, jwt.MapClaims{"sub": "s", "exp": time.Now().Add(time.Minute).Unix(), "roles": "read"})
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name, tok string
		want      error
	}{
		{"RS256 r1", sign(jwt.SigningMethodRS256, "r1", rk), nil},
		{"ES256 e1", sign(jwt.SigningMethodES256, "e1", ek), nil},
		{"ES256 without kid", sign(jwt.SigningMethodES256, "", ek), nil},
		{"RS256 kid of the EC key", sign(jwt.SigningMethodRS256, "e1", rk), ErrUnknownKey},
		{"RS256 unknown kid", sign(jwt.SigningMethodRS256, "r2", rk), ErrUnknownKey},
		{"RS256 the encryption key", sign(jwt.SigningMethodRS256, "enc", rk), ErrUnknownKey},
	} {
		_, err := a.Authenticate("Bearer " + tc.tok)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Keys that do not fit are refused at load, naming the key.
	for _, bad := range []string{
		`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`,                                        // 8-bit modulus
		`{"keys":[{"kty":"EC","kid":"e","crv":"P-256","x":"AAAA","y":"AAAA"}]}`,                           // short coordinates
		`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`,                                               // a secret in a public key set
		`{"keys":[{"kty":"OKP","kid":"x","crv":"X25519","x":"` + b64url(x) + `"}]}`,                       // not a signature curve
		`{"keys":[{"kty":"EC","kid":"e","crv":"P-256","x":"` + b64url(x) + `","y":"` + b64url(x) + `"}]}`, // not on the curve
	} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := NewAuthenticator(JWTConfig{JWKSFile: path, Algorithms: []string{"RS256", "ES256"}}); err == nil {
			t.Errorf("JWKS %s loaded", bad)
		}
	}
}

// A verified token is remembered, but only within its validity window: past
// exp (plus skew) the same token is refused.
func TestVerifiedTokenCacheKeepsExpiry(t *testing.T) {
	secret := strings.Repeat("z", 32)
	path := filepath.Join(t.TempDir(), "s")
	os.WriteFile(path, []byte(secret), 0o600)
	now := time.Unix(1_800_000_000, 0)
	a, err := NewAuthenticator(JWTConfig{SecretFile: path, Algorithms: []string{"HS256"}, ClockSkew: 10 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "s", "roles": []string{"admin"},
		"nbf": now.Add(5 * time.Second).Unix(), "exp": now.Add(time.Minute).Unix()}).SignedString([]byte(secret))
	for _, tc := range []struct {
		at   time.Duration
		want error
	}{{0, nil}, {30 * time.Second, nil}, {69 * time.Second, nil}, {71 * time.Second, ErrExpired}, {30 * time.Second, nil}} {
		now = time.Unix(1_800_000_000, 0).Add(tc.at)
		p, err := a.Authenticate("Bearer " + tok)
		if !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
			t.Errorf("at +%s: %v, want %v", tc.at, err, tc.want)
		}
		if err == nil && (p.Subject != "s" || !p.Can(RoleIngest)) {
			t.Errorf("at +%s: principal %+v", tc.at, p)
		}
	}
	now = time.Unix(1_800_000_000, 0).Add(-6 * time.Second) // before nbf - skew
	if _, err := a.Authenticate("Bearer " + tok); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("before nbf: %v", err)
	}
}

// BenchmarkAuthenticate is the cost of one request's token check: a token
// seen before (the cache: what a client re-using its token pays) and a new
// token each time (a signature check), for HS256 and RS256.
//
//	go test ./host/security -run '^$' -bench Authenticate
func BenchmarkAuthenticate(b *testing.B) {
	dir := b.TempDir()
	secret := strings.Repeat("z", 32)
	os.WriteFile(filepath.Join(dir, "s"), []byte(secret), 0o600)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	der, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	os.WriteFile(filepath.Join(dir, "r.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	a, err := NewAuthenticator(JWTConfig{SecretFile: filepath.Join(dir, "s"), PublicKeyFiles: []string{filepath.Join(dir, "r.pem")},
		Algorithms: []string{"HS256", "RS256"}})
	if err != nil {
		b.Fatal(err)
	}
	mint := func(m jwt.SigningMethod, key any, i int) string {
		s, _ := jwt.NewWithClaims(m, jwt.MapClaims{"sub": "s", "jti": i, "exp": time.Now().Add(time.Hour).Unix(), "roles": "ingest"}).SignedString(key)
		return "Bearer " + s
	}
	for _, alg := range []struct {
		name string
		m    jwt.SigningMethod
		key  any
	}{{"HS256", jwt.SigningMethodHS256, []byte(secret)}, {"RS256", jwt.SigningMethodRS256, rk}} {
		b.Run(alg.name+"/cached", func(b *testing.B) {
			tok := mint(alg.m, alg.key, 0)
			for b.Loop() {
				if _, err := a.Authenticate(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg.name+"/new", func(b *testing.B) {
			toks := make([]string, 256)
			for i := range toks {
				toks[i] = mint(alg.m, alg.key, i+1)
			}
			i := 0
			for b.Loop() {
				a.mu.Lock()
				clear(a.cache)
				a.mu.Unlock()
				if _, err := a.Authenticate(toks[i%len(toks)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
