package security

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Plugin signatures.
//
// Why a detached signature? A Wasm module signed inside (a custom section)
// changes its own bytes and so its sha256, the plugin's id; a detached
// signature leaves the module as built. It travels beside the module: the
// file FILE.wasm.sig written by `cdp plugin sign`, sent on upload in the
// X-CDP-Signature header (the file's content, base64) or as the multipart
// part "signature", and read from PATH.sig for plugins.*.path.
//
// The signature is Ed25519 over "cdp-plugin-signature-v1\n" + the hex
// sha256 of the module, so a signature can never be replayed as one of
// another kind of message. The key id is the first 16 hex digits of the
// sha256 of the raw public key.

// ErrSignature* are the reasons a module's signature is refused.
var (
	// ErrUnsigned: no signature came with the module.
	ErrUnsigned = errors.New("security: the module is not signed")
	// ErrUntrustedKey: the signature names a key not in plugins.trusted_keys.
	ErrUntrustedKey = errors.New("security: signed by a key that is not trusted")
	// ErrBadSignature: the signature does not verify for these bytes.
	ErrBadSignature = errors.New("security: the signature does not match the module")
	// ErrSignatureFormat: the signature file cannot be read.
	ErrSignatureFormat = errors.New("security: malformed signature")
)

const signContext = "cdp-plugin-signature-v1\n"

// PluginSignature is the content of a .sig file (JSON).
type PluginSignature struct {
	// Format is "cdp-plugin-signature-v1".
	Format string `json:"format"`
	// KeyID names the signing key.
	KeyID string `json:"key_id"`
	// SHA256 is the hex sha256 of the signed module (informative: the
	// signature covers it).
	SHA256 string `json:"sha256"`
	// Signature is the Ed25519 signature, base64.
	Signature string `json:"signature"`
}

func signedMessage(module []byte) ([]byte, string) {
	sum := sha256.Sum256(module)
	h := hex.EncodeToString(sum[:])
	return []byte(signContext + h), h
}

// KeyID is the id of an Ed25519 public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// SignPlugin signs module with priv and returns the .sig file content.
func SignPlugin(priv ed25519.PrivateKey, module []byte) []byte {
	msg, h := signedMessage(module)
	s := PluginSignature{Format: strings.TrimSuffix(signContext, "\n"), KeyID: KeyID(priv.Public().(ed25519.PublicKey)), SHA256: h,
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, msg))}
	b, _ := json.MarshalIndent(s, "", "  ")
	return append(b, '\n')
}

// GenerateSigningKey returns a new key pair as PEM (PKCS #8 private key,
// PKIX public key).
func GenerateSigningKey() (privPEM, pubPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pk, _ := x509.MarshalPKCS8PrivateKey(priv)
	pb, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pb}), nil
}

// ParseSigningKey reads a PEM (PKCS #8) Ed25519 private key.
func ParseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, errors.New("security: want a PEM \"PRIVATE KEY\" (PKCS #8 Ed25519)")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("security: a %T key, want Ed25519", k)
	}
	return priv, nil
}

// PluginVerifier checks module signatures against trusted keys
// (plugins.trusted_keys, plugins.require_signature).
type PluginVerifier struct {
	keys    map[string]ed25519.PublicKey
	require bool
}

// NewPluginVerifier loads the trusted Ed25519 public keys (PEM files). With
// require, a module without a signature is refused; without it, an unsigned
// module passes but a signature that is present must verify.
func NewPluginVerifier(files []string, require bool) (*PluginVerifier, error) {
	if require && len(files) == 0 {
		return nil, errors.New("security: plugins.require_signature needs plugins.trusted_keys")
	}
	v := &PluginVerifier{keys: map[string]ed25519.PublicKey{}, require: require}
	for _, f := range files {
		k, err := loadPEMKey(f)
		if err != nil {
			return nil, err
		}
		pub, ok := k.key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("security: %s: a %s key; plugin signatures are Ed25519", f, k.kind)
		}
		v.keys[KeyID(pub)] = pub
	}
	return v, nil
}

// Verify checks sig (the .sig file content; nil when none came) for module
// and returns the signing key's id ("" for an accepted unsigned module).
func (v *PluginVerifier) Verify(module, sig []byte) (string, error) {
	if len(sig) == 0 {
		if v.require {
			return "", fmt.Errorf("%w: plugins.require_signature is on; sign it with `cdp plugin sign` and send the .sig", ErrUnsigned)
		}
		return "", nil
	}
	var s PluginSignature
	if err := json.Unmarshal(sig, &s); err != nil || s.Format != strings.TrimSuffix(signContext, "\n") || s.Signature == "" {
		return "", fmt.Errorf("%w: want the JSON written by `cdp plugin sign`", ErrSignatureFormat)
	}
	pub, ok := v.keys[s.KeyID]
	if !ok {
		return "", fmt.Errorf("%w: key %q is not in plugins.trusted_keys", ErrUntrustedKey, s.KeyID)
	}
	raw, err := base64.StdEncoding.DecodeString(s.Signature)
	if err != nil || len(raw) != ed25519.SignatureSize {
		return "", fmt.Errorf("%w: the signature is not %d bytes of base64", ErrSignatureFormat, ed25519.SignatureSize)
	}
	msg, _ := signedMessage(module)
	if !ed25519.Verify(pub, msg, raw) {
		return "", fmt.Errorf("%w (key %s)", ErrBadSignature, s.KeyID)
	}
	return s.KeyID, nil
}
