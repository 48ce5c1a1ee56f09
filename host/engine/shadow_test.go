package engine

import (
	"reflect"
	"sync"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/builtin"
)

type shadowCount struct {
	mu       sync.Mutex
	batches  int
	pairs    int
	disagree int
	errs     int
}

func (s *shadowCount) Observe(b *ShadowBatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.pairs += len(b.Pairs)
	if b.ShadowErr != nil {
		s.errs++
		return
	}
	for i := range b.Pairs {
		if b.ActiveResults[i] != b.ShadowResults[i] {
			s.disagree++
		}
	}
}

// TestShadowDoesNotChangeEvents: a shadow scorer (here a broken one, then the
// builtin itself) sees the share of batches asked for and never changes what
// the active scorer reports.
func TestShadowDoesNotChangeEvents(t *testing.T) {
	run := func(m Models) ([]Event, Stats) {
		e, log := newTestEngine(t, Default(), m)
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
		return log.evs, e.Stats()
	}
	plain, st := run(builtinModels())
	if len(plain) == 0 {
		t.Fatal("the traffic opens no risk")
	}
	broken := &shadowCount{}
	m := builtinModels()
	m.Shadow, m.ShadowObserver = failingScorer{}, broken
	withBroken, _ := run(m)
	if !reflect.DeepEqual(plain, withBroken) {
		t.Fatal("a failing shadow changed the risk events")
	}
	if broken.batches == 0 || broken.errs != broken.batches {
		t.Fatalf("shadow saw %d batches, %d errors: every shadowed batch should report the malformed output", broken.batches, broken.errs)
	}
	same := &shadowCount{}
	m = builtinModels()
	m.Shadow, m.ShadowObserver, m.ShadowShare = builtin.Scorer{}, same, 0.25
	run(m)
	if same.disagree != 0 || same.errs != 0 {
		t.Fatalf("the builtin as its own shadow disagrees on %d pairs", same.disagree)
	}
	if same.batches == 0 || same.batches*3 > broken.batches {
		t.Fatalf("share 0.25 shadowed %d batches of %d", same.batches, broken.batches)
	}
	if st.Predicted != st.Applied {
		t.Fatalf("predicted %d states for %d applied updates", st.Predicted, st.Applied)
	}
}
