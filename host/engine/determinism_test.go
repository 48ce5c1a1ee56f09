package engine

import (
	"reflect"
	"testing"
)

// TestEventsDeterministic: the same input gives the same events in the same
// order, whatever the interleaving of the parallel workers (the grid returns
// a query's candidates in cell-entry order, which the writers' interleaving
// decides): a replay, a Kafka run and a server run of one recording agree.
func TestEventsDeterministic(t *testing.T) {
	run := func() []Event {
		e, log := newTestEngine(t, Default(), builtinModels())
		w := newTraffic("hotspot", 300, 3, 3000)
		for k := 0; k < 10; k++ {
			var ups []Update
			for i := range w.v {
				w.step(i, 1)
				ups = append(ups, w.update(i))
			}
			submit(t, e, ups...)
		}
		for i := range log.evs {
			log.evs[i].Emitted = 0
		}
		return log.evs
	}
	a := run()
	if len(a) == 0 {
		t.Fatal("the traffic opens no risk")
	}
	for k := 0; k < 10; k++ {
		b := run()
		if len(a) != len(b) {
			t.Fatalf("run %d: %d events, first run %d", k, len(b), len(a))
		}
		for i := range a {
			if !reflect.DeepEqual(a[i], b[i]) {
				t.Fatalf("run %d, event %d differs:\n%+v\n%+v", k, i, a[i], b[i])
			}
		}
	}
}
