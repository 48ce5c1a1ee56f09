package sim

import (
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// testStart is time zero of the test worlds.
var testStart = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// opened is one risk the engine opened on simulated traffic.
type opened struct {
	a, b string
	at   float64 // s from Start
	kind Kind
	ok   bool // the pair is a staged encounter of kind
}

// runEngine feeds the simulator's reports for dur through ingest's
// validation and normalisation into an engine with the builtin models,
// ticking every step, and returns the risks opened.
func runEngine(t testing.TB, cfg Config, dur, step time.Duration) (*Sim, []opened) {
	t.Helper()
	cfg.Start = testStart
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := ingest.NewClasses(map[string]ingest.ClassSpec{ingest.DefaultClass: ingest.DefaultClassSpec})
	if err != nil {
		t.Fatal(err)
	}
	val, err := ingest.NewValidator(ingest.Options{}, classes)
	if err != nil {
		t.Fatal(err)
	}
	frame := geo.MustNew(geo.Config{Lat: cfg.OriginLat, Lon: cfg.OriginLon})
	eng, err := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	start := float64(testStart.Unix())
	var out []opened
	eng.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		for _, ev := range evs {
			if ev.Type != engine.EventOpened {
				continue
			}
			k, ok := s.Encounter(ev.VehicleA, ev.VehicleB)
			out = append(out, opened{a: ev.VehicleA, b: ev.VehicleB, at: ev.OpenedAt - start, kind: k, ok: ok})
		}
	}))
	var recs []ingest.Record
	var ups []engine.Update
	for now := testStart.Add(step); !now.After(testStart.Add(dur)); now = now.Add(step) {
		recs = s.Step(now, recs[:0])
		ups = ups[:0]
		nowSec := float64(now.UnixNano()) / 1e9
		for i := range recs {
			if f, r := val.Validate(&recs[i], nowSec); r != ingest.ReasonOK {
				t.Fatalf("%s at %v: %v: %v", recs[i].ID, recs[i].T, f, r)
			}
			var v abi.Vehicle
			if err := ingest.Normalize(&recs[i], frame, classes, &v); err != nil {
				t.Fatalf("normalize %s: %v", recs[i].ID, err)
			}
			ups = append(ups, engine.Update{ID: recs[i].ID, V: v})
		}
		if err := eng.TrySubmit(ups); err != nil {
			t.Fatal(err)
		}
		eng.Tick()
	}
	return s, out
}

// TestEncountersOpenRisks is the simulator's purpose: within 30 s of start,
// the engine opens risks for every staged kind of encounter.
func TestEncountersOpenRisks(t *testing.T) {
	_, evs := runEngine(t, Config{N: 500, Seed: 7, OriginLat: 51.47, OriginLon: -0.45}, 60*time.Second, 100*time.Millisecond)
	var early, all [numKinds]int
	unstaged := 0
	for _, e := range evs {
		if !e.ok {
			unstaged++
			continue
		}
		all[e.kind]++
		if e.at <= 30 {
			early[e.kind]++
		}
	}
	t.Logf("risks opened in 60 s: %d (%d between unrelated vehicles)", len(evs), unstaged)
	for k := KindHub; k <= KindStacked; k++ {
		t.Logf("%-10s opened within 30 s: %d, within 60 s: %d", k, early[k], all[k])
		if early[k] == 0 {
			t.Errorf("no %s risk opened within 30 s", k)
		}
	}
}
