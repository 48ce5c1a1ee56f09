package security

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
)

// maxKeyFile bounds what is read from a key, secret or JWKS file.
const maxKeyFile = 1 << 20

func readKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	if st.Size() > maxKeyFile {
		return nil, fmt.Errorf("security: %s: %d bytes, above %d: not a key file", path, st.Size(), maxKeyFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	return b, nil
}

// readSecret reads a secret file, dropping one trailing newline (editors
// add one).
func readSecret(path string) ([]byte, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	return b, nil
}

// kindOf classifies a public key.
func kindOf(k any) (keyKind, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return 0, fmt.Errorf("RSA key of %d bits, want at least 2048", k.N.BitLen())
		}
		return kindRSA, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return kindP256, nil
		case elliptic.P384():
			return kindP384, nil
		case elliptic.P521():
			return kindP521, nil
		}
		return 0, fmt.Errorf("ECDSA curve %s is not supported", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return kindEd25519, nil
	}
	return 0, fmt.Errorf("unsupported key type %T", k)
}

// loadPEMKey reads one PEM public key ("PUBLIC KEY", "RSA PUBLIC KEY" or a
// "CERTIFICATE"); its kid is the file name without extension.
func loadPEMKey(path string) (verifyKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return verifyKey{}, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return verifyKey{}, fmt.Errorf("security: %s: no PEM block", path)
	}
	var k any
	switch {
	case blk.Type == "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case blk.Type == "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	case blk.Type == "CERTIFICATE":
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(blk.Bytes); err == nil {
			k = c.PublicKey
		}
	case strings.Contains(blk.Type, "PRIVATE KEY"):
		return verifyKey{}, fmt.Errorf("security: %s: a private key: give cdp the public key only", path)
	default:
		return verifyKey{}, fmt.Errorf("security: %s: PEM block %q, want PUBLIC KEY or CERTIFICATE", path, blk.Type)
	}
	if err != nil {
		return verifyKey{}, fmt.Errorf("security: %s: %w", path, err)
	}
	kind, err := kindOf(k)
	if err != nil {
		return verifyKey{}, fmt.Errorf("security: %s: %w", path, err)
	}
	base := filepath.Base(path)
	return verifyKey{kid: strings.TrimSuffix(base, filepath.Ext(base)), kind: kind, key: k, source: path}, nil
}

// jwk is the subset of RFC 7517 / 7518 / 8037 fields cdp reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
}

// loadJWKS reads a JSON Web Key Set. Encryption keys (use "enc") are
// skipped; every other key must be a public RSA, EC (P-256/384/521) or OKP
// Ed25519 key with a kid, and kids must be unique.
func loadJWKS(path string) ([]verifyKey, error) {
	b, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("security: %s: not a JWKS: %w", path, err)
	}
	var out []verifyKey
	seen := map[string]bool{}
	for i, j := range set.Keys {
		if j.Use == "enc" {
			continue
		}
		where := fmt.Sprintf("security: %s: keys[%d]", path, i)
		if j.Kid == "" {
			return nil, fmt.Errorf("%s: no kid", where)
		}
		if seen[j.Kid] {
			return nil, fmt.Errorf("%s: kid %q appears twice", where, j.Kid)
		}
		seen[j.Kid] = true
		if j.D != "" {
			return nil, fmt.Errorf("%s (kid %q): a private key: publish the public key only", where, j.Kid)
		}
		k, err := j.publicKey()
		if err != nil {
			return nil, fmt.Errorf("%s (kid %q): %w", where, j.Kid, err)
		}
		kind, err := kindOf(k)
		if err != nil {
			return nil, fmt.Errorf("%s (kid %q): %w", where, j.Kid, err)
		}
		if j.Alg != "" && algKinds[j.Alg] != kind {
			return nil, fmt.Errorf("%s (kid %q): alg %q does not fit a %s key", where, j.Kid, j.Alg, kind)
		}
		out = append(out, verifyKey{kid: j.Kid, kind: kind, alg: j.Alg, key: k, source: path})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("security: %s: no signature keys", path)
	}
	return out, nil
}

func b64(s, field string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("field %q: want base64url", field)
	}
	return b, nil
}

func (j jwk) publicKey() (any, error) {
	switch j.Kty {
	case "RSA":
		n, err := b64(j.N, "n")
		if err != nil {
			return nil, err
		}
		e, err := b64(j.E, "e")
		if err != nil {
			return nil, err
		}
		if len(e) > 4 {
			return nil, fmt.Errorf("field \"e\": exponent too large")
		}
		ev := int(new(big.Int).SetBytes(e).Int64())
		if ev < 3 || ev%2 == 0 {
			return nil, fmt.Errorf("field \"e\": invalid exponent %d", ev)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev}, nil
	case "EC":
		var c elliptic.Curve
		switch j.Crv {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return nil, fmt.Errorf("curve %q is not supported", j.Crv)
		}
		x, err := b64(j.X, "x")
		if err != nil {
			return nil, err
		}
		y, err := b64(j.Y, "y")
		if err != nil {
			return nil, err
		}
		size := (c.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, fmt.Errorf("coordinates of %d and %d bytes, want %d", len(x), len(y), size)
		}
		pt := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(c, pt)
		if err != nil {
			return nil, fmt.Errorf("not a point on %s: %w", j.Crv, err)
		}
		return k, nil
	case "OKP":
		if j.Crv != "Ed25519" {
			return nil, fmt.Errorf("OKP curve %q is not supported (want Ed25519)", j.Crv)
		}
		x, err := b64(j.X, "x")
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes, want %d", len(x), ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("kty %q is not supported (want RSA, EC or OKP)", j.Kty)
}
