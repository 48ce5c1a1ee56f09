package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// `cdp plugin keygen` and `cdp plugin sign` make a signature that a server
// trusting the public key accepts for the module, and for no other bytes.
func TestPluginKeygenAndSign(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "release")
	if r := run(t, nil, "plugin", "keygen", name); r.code != 0 || !strings.Contains(r.stdout, "release.pub") {
		t.Fatalf("keygen: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if st, err := os.Stat(name + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v %v", st, err)
	}
	if r := run(t, nil, "plugin", "keygen", name); r.code == 0 {
		t.Fatal("keygen overwrote an existing key")
	}
	module := filepath.Join(dir, "m.wasm")
	os.WriteFile(module, []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	if r := run(t, nil, "plugin", "sign", "--key", name+".key", module); r.code != 0 || !strings.Contains(r.stdout, "m.wasm.sig") {
		t.Fatalf("sign: %d %q %q", r.code, r.stdout, r.stderr)
	}
	v, err := security.NewPluginVerifier([]string{name + ".pub"}, true)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := os.ReadFile(module + ".sig")
	if _, err := v.Verify([]byte("\x00asm\x01\x00\x00\x00"), sig); err != nil {
		t.Fatalf("the signature does not verify: %v", err)
	}
	if _, err := v.Verify([]byte("\x00asm\x01\x00\x00\x01"), sig); err == nil {
		t.Fatal("the signature verifies other bytes")
	}
	if r := run(t, nil, "plugin", "sign", "--key", name+".pub", module); r.code == 0 {
		t.Fatal("signed with a public key")
	}
}
