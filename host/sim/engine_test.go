package sim

import (
	"math"
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
// the engine opens risks for every staged kind of encounter, in a world of
// 500 and in the smallest world that has them all (9 vehicles; vertiports
// come at 40).
func TestEncountersOpenRisks(t *testing.T) {
	for _, c := range []struct {
		n    int
		seed uint64
	}{{500, 7}, {9, 3}, {40, 2026}} {
		_, evs := runEngine(t, Config{N: c.n, Seed: c.seed, OriginLat: 51.47, OriginLon: -0.45}, 60*time.Second, 100*time.Millisecond)
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
		t.Logf("N=%d: risks opened in 60 s: %d (%d between unrelated vehicles)", c.n, len(evs), unstaged)
		for k := KindHub; k <= KindStacked; k++ {
			t.Logf("N=%d: %-10s opened within 30 s: %d, within 60 s: %d", c.n, k, early[k], all[k])
			if early[k] == 0 && (k != KindHub || c.n >= 40) {
				t.Errorf("N=%d: no %s risk opened within 30 s", c.n, k)
			}
		}
	}
}

// TestEncountersRecur: the staged encounters are not a one-off at start:
// over twelve minutes the groups of every kind meet again, and the
// vertiports keep producing risks minute after minute.
func TestEncountersRecur(t *testing.T) {
	const minutes = 12
	for _, seed := range []uint64{1, 7} {
		s, evs := runEngine(t, Config{N: 500, Seed: seed, OriginLat: 40.64, OriginLon: -73.78}, minutes*time.Minute, 500*time.Millisecond)
		// Opening times per group, as meetings: a risk more than 20 s
		// after the previous one of its group starts a new meeting.
		type group struct {
			kind     Kind
			last     float64
			meetings int
			minutes  [minutes + 1]bool
		}
		groups := map[[2]int]*group{}
		for _, e := range evs {
			if !e.ok {
				continue
			}
			in, _ := s.Lookup(e.a)
			key := [2]int{int(e.kind), in.Group}
			g := groups[key]
			if g == nil {
				g = &group{kind: e.kind, last: math.Inf(-1)}
				groups[key] = g
			}
			if e.at-g.last > 20 {
				g.meetings++
			}
			g.last = e.at
			g.minutes[int(e.at/60)] = true
		}
		var recurring, total [numKinds]int
		for _, g := range groups {
			total[g.kind]++
			busy := 0
			for _, b := range g.minutes[:minutes] {
				if b {
					busy++
				}
			}
			if g.meetings >= 2 || (g.kind == KindHub && busy >= minutes*3/4) {
				recurring[g.kind]++
			}
		}
		for k := KindHub; k <= KindStacked; k++ {
			t.Logf("seed %d: %-10s groups with risks: %d, recurring: %d", seed, k, total[k], recurring[k])
			if recurring[k] == 0 || recurring[k]*2 < total[k] || (k == KindHub && recurring[k] < total[k]) {
				t.Errorf("seed %d: %d of %d %s groups recur in %d minutes", seed, recurring[k], total[k], k, minutes)
			}
		}
	}
}
