package models

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

// TestActivateUnwritableRegistry: when registry.json cannot be written,
// activate fails and nothing changes — the engine keeps its model, the
// registry its states, the history its length; once the registry can be
// written again the same activation works and survives a restart.
func TestActivateUnwritableRegistry(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	eng := newEngine(t, nil)
	m := newManager(t, eng, dir, nil)
	a := mustUpload(t, m, wasmtest.ZeroScorer("zero-a", "1"), "scorer")
	b := mustUpload(t, m, wasmtest.ZeroScorer("zero-b", "1"), "scorer")
	if _, err := m.Activate(ctx, a.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	hist, activations := len(m.History()), m.Status().Activations

	// A directory where the file must go: rename fails, even for root.
	reg := filepath.Join(dir, "registry.json")
	saved, err := os.ReadFile(reg)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(reg)
	if err := os.MkdirAll(filepath.Join(reg, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Activate(ctx, b.ID, Actor{RemoteAddr: "x"}); err == nil {
		t.Fatal("activate succeeded with an unwritable registry")
	}
	if got := eng.Models().Scorer.Model().SHA256; got != a.ID {
		t.Fatalf("the engine switched to %s although the registry was not written", got[:12])
	}
	if in, _ := m.Get(b.ID); in.State != StateStored {
		t.Fatalf("plugin b is %s, want stored", in.State)
	}
	if in, _ := m.Get(a.ID); in.State != StateActive {
		t.Fatalf("plugin a is %s, want active", in.State)
	}
	if len(m.History()) != hist || m.Status().Activations != activations {
		t.Fatalf("history %d (was %d), activations %d (was %d)", len(m.History()), hist, m.Status().Activations, activations)
	}

	os.RemoveAll(reg)
	if err := os.WriteFile(reg, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Activate(ctx, b.ID, Actor{}); err != nil {
		t.Fatal(err)
	}
	if got := eng.Models().Scorer.Model().SHA256; got != b.ID {
		t.Fatal("the second activation did not switch")
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	eng2 := newEngine(t, nil)
	newManager(t, eng2, dir, nil)
	if got := eng2.Models().Scorer.Model().SHA256; got != b.ID {
		t.Fatalf("after restart the scorer is %s, want b", got[:12])
	}
}
