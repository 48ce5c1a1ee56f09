package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/examples"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// With plugins.require_signature a module named by plugins.scorer.path
// starts only with a valid PATH.sig by a trusted key.
func TestConfiguredPluginNeedsSignature(t *testing.T) {
	dir := t.TempDir()
	module, err := os.ReadFile(examples.File(t, "c-cpa"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "scorer.wasm")
	os.WriteFile(path, module, 0o644)
	privPEM, pubPEM, _ := security.GenerateSigningKey()
	os.WriteFile(filepath.Join(dir, "trusted.pub"), pubPEM, 0o644)
	priv, _ := security.ParseSigningKey(privPEM)

	cfg := config.Default()
	cfg.Plugins.Scorer.Path = path
	cfg.Plugins.TrustedKeys = []string{filepath.Join(dir, "trusted.pub")}
	cfg.Plugins.RequireSignature = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Models(cfg, nil); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("unsigned configured scorer: %v", err)
	}
	os.WriteFile(path+".sig", security.SignPlugin(priv, append(append([]byte(nil), module...), 0)), 0o644)
	if _, err := Models(cfg, nil); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("signature of other bytes: %v", err)
	}
	os.WriteFile(path+".sig", security.SignPlugin(priv, module), 0o644)
	m, err := Models(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id := m.Scorer.Model(); id.SHA256 == "builtin" {
		t.Fatalf("scorer %+v", id)
	}
}
