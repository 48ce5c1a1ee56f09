package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestIngestThrottlesWhenTicksFallBehind: while the oldest pending update
// has waited longer than MaxQueueDelay, ingest is refused (TrySubmit) or
// waits (Submit) although the queue has room; a tick lets it in again.
func TestIngestThrottlesWhenTicksFallBehind(t *testing.T) {
	cfg := Default()
	cfg.MaxQueueDelay = 30 * time.Millisecond
	e, _ := newTestEngine(t, cfg, builtinModels())
	up := func(id string) []Update { return []Update{{ID: []byte(id), V: drone(0, 1, 1.7e9)}} }
	if err := e.TrySubmit(up("a")); err != nil {
		t.Fatal(err)
	}
	if err := e.TrySubmit(up("b")); err != nil {
		t.Fatalf("a fresh queue refused: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // no tick: the queue falls behind
	if err := e.TrySubmit(up("c")); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("behind by 50 ms with a 30 ms bound: %v, want ErrQueueFull", err)
	}
	done := make(chan error, 1)
	go func() { done <- e.Submit(context.Background(), up("d")) }()
	select {
	case err := <-done:
		t.Fatalf("Submit did not wait while behind: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	e.Tick()
	if err := <-done; err != nil {
		t.Fatalf("Submit after the tick: %v", err)
	}
	if e.Pending() != 1 {
		t.Fatalf("pending %d, want the one Submit queued", e.Pending())
	}
}
