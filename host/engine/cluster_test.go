package engine

import "testing"

// A compute node forgets a vehicle whose halo left its tiles: no event, its
// open risk is gone, and the pair starts afresh if both meet here again.
func TestForgetIsSilent(t *testing.T) {
	cfg := Default()
	cfg.MaxDistance = 100
	e, log := newTestEngine(t, cfg, builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 10, t0)}, Update{ID: []byte("b"), V: drone(300, -10, t0)})
	if log.count(EventOpened) != 1 || len(e.Risks()) != 1 {
		t.Fatalf("events %+v: want one opened risk", log.evs)
	}
	if n := e.Forget([]string{"a", "nobody"}); n != 1 {
		t.Fatalf("Forget = %d, want 1", n)
	}
	e.Tick()
	if len(log.evs) != 1 || len(e.Risks()) != 0 {
		t.Fatalf("after Forget: %d events, %d open risks; want 1 and 0", len(log.evs), len(e.Risks()))
	}
	if _, ok := e.Vehicle("a"); ok {
		t.Fatal("a is still stored")
	}
	submit(t, e, Update{ID: []byte("a"), V: drone(10, 10, t0+1)}, Update{ID: []byte("b"), V: drone(290, -10, t0+1)})
	if log.count(EventOpened) != 2 {
		t.Fatalf("the pair did not open again: %+v", log.evs)
	}
}

// AdvanceClock moves the data clock as the cluster's ingest says: a vehicle
// silent for vehicle_ttl of cluster time expires although this node applied
// nothing newer, and a state older than that is dropped.
func TestAdvanceClockExpires(t *testing.T) {
	e, log := newTestEngine(t, Default(), builtinModels())
	t0 := 1_700_000_000.0
	submit(t, e, Update{ID: []byte("a"), V: drone(0, 10, t0)})
	e.AdvanceClock(t0 + 10)
	e.AdvanceClock(t0 + 5) // never backwards
	e.Tick()
	if c := e.Clock(); c != t0+10 {
		t.Fatalf("clock %v, want %v", c, t0+10)
	}
	e.AdvanceClock(t0 + 31)
	e.Tick()
	if _, ok := e.Vehicle("a"); ok {
		t.Fatal("a did not expire on the advanced clock")
	}
	submit(t, e, Update{ID: []byte("b"), V: drone(0, 10, t0)})
	if _, ok := e.Vehicle("b"); ok {
		t.Fatal("a state older than clock - vehicle_ttl was applied")
	}
	if len(log.evs) != 0 {
		t.Fatalf("unexpected events %+v", log.evs)
	}
}
