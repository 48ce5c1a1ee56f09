package sim

import (
	"bytes"
	"context"
	"errors"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

func mustNew(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// collect steps s from testStart every step until dur and returns all reports
// with their ids copied.
func collect(t testing.TB, s *Sim, dur, step time.Duration) []ingest.Record {
	t.Helper()
	var all, recs []ingest.Record
	for now := testStart.Add(step); !now.After(testStart.Add(dur)); now = now.Add(step) {
		recs = s.Step(now, recs[:0])
		for _, r := range recs {
			r.ID = []byte(string(r.ID))
			all = append(all, r)
		}
	}
	return all
}

func TestPlanCountsEveryVehicle(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 9, 10, 29, 30, 40, 100, 500, 2000, 12345} {
		s := mustNew(t, Config{N: n, Seed: 3})
		if s.Len() != n {
			t.Fatalf("N=%d: %d vehicles", n, s.Len())
		}
		seen := map[string]bool{}
		var kinds [numKinds]int
		for _, in := range s.Vehicles() {
			if seen[in.ID] || !strings.HasPrefix(in.ID, "sim-") || len(in.ID) > 64 {
				t.Fatalf("N=%d: bad or repeated id %q", n, in.ID)
			}
			seen[in.ID] = true
			kinds[in.Kind]++
			if got, ok := s.Lookup(in.ID); !ok || got != in {
				t.Fatalf("Lookup(%q) = %v, %v", in.ID, got, ok)
			}
		}
		// From 9 vehicles on, every staged kind has a group; from 40 on
		// there are vertiports and aircraft.
		if n >= 9 {
			for k := KindCrossing; k <= KindStacked; k++ {
				if kinds[k] == 0 {
					t.Errorf("N=%d: no %s group", n, k)
				}
			}
		}
		if n >= 40 && (kinds[KindHub] == 0 || kinds[KindHelicopter] == 0 || kinds[KindAircraft] == 0) {
			t.Errorf("N=%d: kinds %v", n, kinds)
		}
	}
}

func TestIDs(t *testing.T) {
	s := mustNew(t, Config{N: 500, Seed: 1})
	for _, id := range []string{"sim-drone-0042", "sim-heli-0003", "sim-plane-0001", "sim-hub-0017",
		"sim-cross-0001a", "sim-cross-0001b", "sim-headon-0002a", "sim-overtake-0003b", "sim-stack-0005c"} {
		if _, ok := s.Lookup(id); !ok {
			t.Errorf("no vehicle %s", id)
		}
	}
	if k, ok := s.Encounter("sim-cross-0001a", "sim-cross-0001b"); !ok || k != KindCrossing {
		t.Errorf("Encounter(cross 1a, 1b) = %v, %v", k, ok)
	}
	if _, ok := s.Encounter("sim-cross-0001a", "sim-cross-0002b"); ok {
		t.Error("members of different groups reported as one encounter")
	}
	if _, ok := s.Encounter("sim-drone-0001", "sim-drone-0002"); ok {
		t.Error("background drones reported as a staged encounter")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{N: -1}, "N"},
		{Config{N: MaxVehicles + 1}, "N"},
		{Config{N: 1, Rate: -1}, "Rate"},
		{Config{N: 1, Rate: math.NaN()}, "Rate"},
		{Config{N: 1, Rate: 101}, "Rate"},
		{Config{N: 1, OriginLat: 85}, "OriginLat"},
		{Config{N: 1, OriginLat: math.NaN()}, "OriginLat"},
		{Config{N: 1, OriginLon: 181}, "OriginLon"},
		{Config{N: 1, Jitter: time.Second}, "Jitter"},
		{Config{N: 1, Rate: 10, Jitter: 100 * time.Millisecond}, "Jitter"},
	} {
		_, err := New(c.cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != c.field || !errors.Is(err, ErrConfig) || !IsConfigError(err) {
			t.Errorf("New(%+v) = %v, want a ConfigError on %s", c.cfg, err, c.field)
		}
	}
	if _, err := New(Config{N: 10, Rate: 10, Jitter: -1}); err != nil {
		t.Errorf("negative jitter (none): %v", err)
	}
}

// TestRecordsAreValid: every report passes ingest's validation with the
// default options and normalises, each vehicle reports at Rate, and
// times are in order per vehicle and in the step that emitted them.
func TestRecordsAreValid(t *testing.T) {
	classes, err := ingest.NewClasses(map[string]ingest.ClassSpec{ingest.DefaultClass: ingest.DefaultClassSpec})
	if err != nil {
		t.Fatal(err)
	}
	val, err := ingest.NewValidator(ingest.Options{}, classes)
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{
		{N: 500, Seed: 11, OriginLat: 51.47, OriginLon: -0.45},
		{N: 300, Seed: 12, OriginLat: -33.9, OriginLon: 179.99, Rate: 4}, // across the antimeridian
		{N: 200, Seed: 13, OriginLat: 78, OriginLon: 15.6, Rate: 0.5, Jitter: -1},
	} {
		cfg.Start = testStart
		s := mustNew(t, cfg)
		frame := geo.MustNew(geo.Config{Lat: cfg.OriginLat, Lon: cfg.OriginLon})
		last := map[string]float64{}
		count := map[string]int{}
		var recs []ingest.Record
		const dur = 30
		for now := testStart.Add(100 * time.Millisecond); !now.After(testStart.Add(dur * time.Second)); now = now.Add(100 * time.Millisecond) {
			prev := float64(now.Add(-100*time.Millisecond).UnixNano()) / 1e9
			nowSec := float64(now.UnixNano()) / 1e9
			recs = s.Step(now, recs[:0])
			for i := range recs {
				r := &recs[i]
				if f, reason := val.Validate(r, nowSec); reason != ingest.ReasonOK {
					t.Fatalf("%s: %s: %v", r.ID, f, reason)
				}
				var v abi.Vehicle
				if err := ingest.Normalize(r, frame, classes, &v); err != nil {
					t.Fatalf("%s: %v", r.ID, err)
				}
				if v.Flags != abi.FlagGeodetic || v.HSep != 50 || v.VSep != 25 {
					t.Fatalf("%s normalised to %+v", r.ID, v)
				}
				if r.Fields != recordFields || r.Index != i {
					t.Fatalf("%s: fields %v, index %d of %d", r.ID, r.Fields, r.Index, i)
				}
				if r.T <= prev-1e-6 || r.T > nowSec+1e-6 {
					t.Fatalf("%s: t %.3f outside the step (%.3f, %.3f]", r.ID, r.T, prev, nowSec)
				}
				id := string(r.ID)
				if r.T <= last[id] {
					t.Fatalf("%s: t %.3f after %.3f", id, r.T, last[id])
				}
				last[id] = r.T
				count[id]++
			}
		}
		if len(count) != cfg.N {
			t.Errorf("%d of %d vehicles reported", len(count), cfg.N)
		}
		want := dur * s.cfg.Rate
		for id, n := range count {
			if math.Abs(float64(n)-want) > 1 {
				t.Errorf("%s: %d reports in %d s at %v/s", id, n, dur, cfg.Rate)
				break
			}
		}
	}
}

// key orders records by vehicle and time.
func sortRecords(rs []ingest.Record) {
	sort.Slice(rs, func(i, j int) bool {
		if c := bytes.Compare(rs[i].ID, rs[j].ID); c != 0 {
			return c < 0
		}
		return rs[i].T < rs[j].T
	})
}

func sameRecords(a, b []ingest.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if !bytes.Equal(x.ID, y.ID) || x.T != y.T || x.Lat != y.Lat || x.Lon != y.Lon || x.Alt != y.Alt ||
			x.VX != y.VX || x.VY != y.VY || x.VZ != y.VZ {
			return false
		}
	}
	return true
}

// TestDeterministic: the seed fixes the traffic, and how often Step runs
// does not change a single bit of it.
func TestDeterministic(t *testing.T) {
	cfg := Config{N: 400, Seed: 42, OriginLat: 47.4, OriginLon: 8.5, Start: testStart}
	a := collect(t, mustNew(t, cfg), 40*time.Second, 100*time.Millisecond)
	b := collect(t, mustNew(t, cfg), 40*time.Second, 100*time.Millisecond)
	if !sameRecords(a, b) {
		t.Fatal("two simulators with one seed differ")
	}
	c := collect(t, mustNew(t, cfg), 40*time.Second, 1700*time.Millisecond)
	d := collect(t, mustNew(t, cfg), 40*time.Second, 8*time.Second)
	// Trim to the common end (the coarse steps stop earlier) and compare sets.
	end := float64(testStart.Add(32 * time.Second).Unix())
	trim := func(rs []ingest.Record) []ingest.Record {
		var out []ingest.Record
		for _, r := range rs {
			if r.T <= end {
				out = append(out, r)
			}
		}
		sortRecords(out)
		return out
	}
	if !sameRecords(trim(a), trim(c)) || !sameRecords(trim(a), trim(d)) {
		t.Error("the reports depend on the step size")
	}
	cfg.Seed = 43
	e := collect(t, mustNew(t, cfg), 40*time.Second, 100*time.Millisecond)
	if sameRecords(a, e) {
		t.Error("seeds 42 and 43 give the same traffic")
	}
}

// TestTrafficStaysInItsEnvelope: positions stay in the region, altitudes
// and speeds in each kind's range, over ten minutes of traffic.
func TestTrafficStaysInItsEnvelope(t *testing.T) {
	for _, n := range []int{40, 1000} {
		cfg := Config{N: n, Seed: 5, OriginLat: 51.47, OriginLon: -0.45, Start: testStart}
		s := mustNew(t, cfg)
		reg := s.Region()
		frame := geo.MustNew(geo.Config{Lat: cfg.OriginLat, Lon: cfg.OriginLon})
		var recs []ingest.Record
		for now := testStart.Add(time.Second); !now.After(testStart.Add(10 * time.Minute)); now = now.Add(time.Second) {
			recs = s.Step(now, recs[:0])
			for i := range recs {
				r := &recs[i]
				in, _ := s.Lookup(string(r.ID))
				half, altLo, altHi, vLo, vHi, vzMax := reg.HalfWidth, 20.0, 120.0, 5.0, 20.0, droneVZ
				switch in.Kind {
				case KindHelicopter:
					half, altLo, altHi, vLo, vHi, vzMax = reg.AircraftHalfWidth, 300, 900, 40, 55, aircraftVZ
				case KindAircraft:
					half, altLo, altHi, vLo, vHi, vzMax = reg.AircraftHalfWidth, 500, 1500, 45, 70, aircraftVZ
				case KindDrone, KindHub:
					altLo = 30
				}
				l := frame.Locate(r.Lat, r.Lon, r.Alt)
				// 0.5 % for the flat map against the true ENU frame.
				if lim := half * 1.005; math.Abs(l.X) > lim || math.Abs(l.Y) > lim {
					t.Fatalf("N=%d %s at (%.0f, %.0f) m, outside ±%.0f", n, r.ID, l.X, l.Y, half)
				}
				if r.Alt < altLo-1e-6 || r.Alt > altHi+1e-6 {
					t.Fatalf("N=%d %s at %.1f m, outside [%v, %v]", n, r.ID, r.Alt, altLo, altHi)
				}
				gs := math.Hypot(r.VX, r.VY)
				if gs < vLo*0.99 || gs > vHi*1.01 || math.Abs(r.VZ) > vzMax+1e-9 {
					t.Fatalf("N=%d %s (%s) at %.1f m/s, %.2f m/s vertical", n, r.ID, in.Kind, gs, r.VZ)
				}
			}
		}
		for _, v := range reg.Vertiports {
			l := frame.Locate(v.Lat, v.Lon, 0)
			if math.Abs(l.X) > reg.HalfWidth || math.Abs(l.Y) > reg.HalfWidth {
				t.Errorf("vertiport at (%.0f, %.0f) outside ±%.0f", l.X, l.Y, reg.HalfWidth)
			}
		}
	}
}

// TestDensity: outside the vertiports the area grows with N, keeping about
// two vehicles per square kilometre.
func TestDensity(t *testing.T) {
	for _, n := range []int{500, 5000, 50000} {
		s := mustNew(t, Config{N: n, Seed: 9})
		c := plan(n)
		staged := 0
		for k := range c.groups {
			staged += c.groups[k] * groupSize[k]
		}
		side := 2 * s.Region().HalfWidth / 1000
		if d := float64(c.background+staged) / (side * side); d < 1.9 || d > 5 {
			t.Errorf("N=%d: %.2f drones per km² outside the vertiports", n, d)
		}
	}
}

// TestVelocityIsTheDerivative: the reported velocity is the rate of change
// of the reported position (in the engine's frame), so the engine's linear
// prediction follows the traffic between reports on straight legs.
func TestVelocityIsTheDerivative(t *testing.T) {
	cfg := Config{N: 300, Seed: 21, OriginLat: 60, OriginLon: 10, Rate: 10, Jitter: -1, Start: testStart}
	s := mustNew(t, cfg)
	frame := geo.MustNew(geo.Config{Lat: cfg.OriginLat, Lon: cfg.OriginLon})
	prev := map[string]abi.Vehicle{}
	worst, checked := 0.0, 0
	var recs []ingest.Record
	for now := testStart.Add(100 * time.Millisecond); !now.After(testStart.Add(60 * time.Second)); now = now.Add(100 * time.Millisecond) {
		recs = s.Step(now, recs[:0])
		for i := range recs {
			var v abi.Vehicle
			if err := ingest.Normalize(&recs[i], frame, nil, &v); err != nil {
				t.Fatal(err)
			}
			id := string(recs[i].ID)
			if p, ok := prev[id]; ok {
				dt := v.T - p.T
				// Central difference against the mean of the two velocities.
				ex := (v.X-p.X)/dt - (v.VX+p.VX)/2
				ey := (v.Y-p.Y)/dt - (v.VY+p.VY)/2
				ez := (v.Alt-p.Alt)/dt - (v.VRate+p.VRate)/2
				e := math.Sqrt(ex*ex + ey*ey + ez*ez)
				worst = max(worst, e)
				checked++
				// Where the turn rate steps (a leg meets a turn) the chord
				// and the mean velocity differ by up to half the change of
				// velocity; elsewhere they agree to the rounding.
				dv := math.Sqrt((v.VX-p.VX)*(v.VX-p.VX) + (v.VY-p.VY)*(v.VY-p.VY) + (v.VRate-p.VRate)*(v.VRate-p.VRate))
				if e > 0.002+dv/2 {
					t.Fatalf("%s: velocity off the motion by %.3f m/s (%+v -> %+v)", id, e, p, v)
				}
			}
			prev[id] = v
		}
	}
	t.Logf("%d report pairs, worst velocity error %.4f m/s", checked, worst)
}

// TestNDJSON: the wire form decodes with ingest's decoder into the records
// Step returns, to the printed precision.
func TestNDJSON(t *testing.T) {
	cfg := Config{N: 300, Seed: 8, OriginLat: -1e-4, OriginLon: -0.0001, Start: testStart}
	a, b := mustNew(t, cfg), mustNew(t, cfg)
	dec := ingest.NewDecoder(nil)
	var buf []byte
	var want, got []ingest.Record
	var errs []ingest.RecordError
	total := 0
	for now := testStart.Add(250 * time.Millisecond); !now.After(testStart.Add(20 * time.Second)); now = now.Add(250 * time.Millisecond) {
		buf = a.AppendNDJSON(buf[:0], now)
		want = b.Step(now, want[:0])
		var err error
		got, errs, err = dec.DecodeBatch(buf, now, got[:0], errs[:0])
		if err != nil || len(errs) > 0 {
			t.Fatalf("decode: %v %v\n%s", err, errs, buf)
		}
		if len(got) != len(want) || bytes.Count(buf, []byte("\n")) != len(want) {
			t.Fatalf("%d records decoded, %d stepped", len(got), len(want))
		}
		for i := range got {
			g, w := &got[i], &want[i]
			if !bytes.Equal(g.ID, w.ID) || g.Fields != w.Fields ||
				math.Abs(g.T-w.T) > 0.0005 || math.Abs(g.Lat-w.Lat) > 1e-8 || math.Abs(g.Lon-w.Lon) > 1e-8 ||
				!near(g.Alt, w.Alt, 1e-6) || !near(g.VX, w.VX, 1e-5) || !near(g.VY, w.VY, 1e-5) || !near(g.VZ, w.VZ, 1e-5) {
				t.Fatalf("decoded %+v, stepped %+v", *g, *w)
			}
		}
		total += len(got)
	}
	if total < 300*19 {
		t.Errorf("only %d records", total)
	}
}

// near: equal to the relative precision rel (and 1e-9 absolute).
func near(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Abs(b)+1e-9 }

// TestNoAllocation guards the steady state of Step and AppendNDJSON.
func TestNoAllocation(t *testing.T) {
	s := mustNew(t, Config{N: 2000, Seed: 1, Start: testStart})
	now := testStart
	recs := make([]ingest.Record, 0, 4096)
	buf := make([]byte, 0, 1<<20)
	buf = s.AppendNDJSON(buf, now.Add(time.Second)) // sizes the scratch
	now = now.Add(time.Second)
	n := 0
	allocs := testing.AllocsPerRun(50, func() {
		now = now.Add(100 * time.Millisecond)
		recs = s.Step(now, recs[:0])
		now = now.Add(100 * time.Millisecond)
		buf = s.AppendNDJSON(buf[:0], now)
		n += len(recs)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per Step + AppendNDJSON", allocs)
	}
	if n == 0 {
		t.Error("no reports")
	}
}

func TestStartDefaultsToOnePeriodBeforeFirstStep(t *testing.T) {
	s := mustNew(t, Config{N: 50, Seed: 2, Rate: 2})
	if !s.Start().IsZero() {
		t.Fatal("started before the first Step")
	}
	recs := s.Step(testStart, nil)
	if len(recs) != 50 {
		t.Errorf("first Step reported %d of 50 vehicles", len(recs))
	}
	if got := s.Start(); !got.Equal(testStart.Add(-500 * time.Millisecond)) {
		t.Errorf("Start() = %v", got)
	}
	if recs := s.Step(testStart.Add(-time.Second), nil); len(recs) != 0 {
		t.Errorf("a Step back in time reported %d", len(recs))
	}
}

// TestSkipTo: after a skip the reports are those of a world that was
// stepped all along, from the skip on.
func TestSkipTo(t *testing.T) {
	cfg := Config{N: 300, Seed: 4, Rate: 2, Start: testStart}
	a, b := mustNew(t, cfg), mustNew(t, cfg)
	skip := testStart.Add(7*time.Minute + 123*time.Millisecond)
	a.Step(skip, nil)
	b.Step(testStart.Add(2*time.Second), nil)
	b.SkipTo(skip)
	b.SkipTo(skip.Add(-time.Minute)) // back in time: nothing
	for now := skip.Add(300 * time.Millisecond); now.Before(skip.Add(5 * time.Second)); now = now.Add(300 * time.Millisecond) {
		ra, rb := a.Step(now, nil), b.Step(now, nil)
		if !sameRecords(ra, rb) || len(ra) == 0 {
			t.Fatalf("at %v: %d reports after a skip, %d without", now.Sub(testStart), len(rb), len(ra))
		}
	}
	c := mustNew(t, Config{N: 5, Seed: 4})
	c.SkipTo(testStart)
	if !c.Start().Equal(testStart) || len(c.Step(testStart, nil)) != 0 {
		t.Error("SkipTo before the first Step does not start the world there")
	}
}

// FuzzConfig: whatever New accepts produces only valid records.
func FuzzConfig(f *testing.F) {
	f.Add(uint16(500), uint64(1), 51.47, -0.45, 1.0, int64(0))
	f.Add(uint16(9), uint64(3), -79.9, 180.0, 100.0, int64(-1))
	f.Add(uint16(0), uint64(0), 0.0, 0.0, 0.0, int64(0))
	val, err := ingest.NewValidator(ingest.Options{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, n uint16, seed uint64, lat, lon, rate float64, jitter int64) {
		s, err := New(Config{N: int(n % 2000), Seed: seed, OriginLat: lat, OriginLon: lon, Rate: rate, Jitter: time.Duration(jitter), Start: testStart})
		if err != nil {
			if !IsConfigError(err) {
				t.Fatalf("error %v is not a ConfigError", err)
			}
			return
		}
		frame, err := geo.New(geo.Config{Lat: lat, Lon: lon})
		if err != nil {
			t.Fatal(err)
		}
		var recs []ingest.Record
		for now := testStart.Add(time.Second); !now.After(testStart.Add(3 * time.Second)); now = now.Add(time.Second) {
			recs = s.Step(now, recs[:0])
			for i := range recs {
				if f, r := val.Validate(&recs[i], float64(now.UnixNano())/1e9); r != ingest.ReasonOK {
					t.Fatalf("%s: %v: %v", recs[i].ID, f, r)
				}
				var v abi.Vehicle
				if err := ingest.Normalize(&recs[i], frame, nil, &v); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}

// TestRun: the feeding loop reports every vehicle on the first step, keeps
// feeding, stops with its context, and stops at fn's first error.
func TestRun(t *testing.T) {
	s := mustNew(t, Config{N: 100, Seed: 1, Rate: 10})
	ctx, cancel := context.WithCancel(context.Background())
	batches, reports := 0, 0
	err := s.Run(ctx, 10*time.Millisecond, func(now time.Time, recs []ingest.Record) error {
		if batches == 0 && len(recs) != 100 {
			t.Errorf("first batch %d reports, want one per vehicle", len(recs))
		}
		batches++
		reports += len(recs)
		if batches == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || batches < 5 || reports <= 100 {
		t.Errorf("Run = %v after %d batches, %d reports", err, batches, reports)
	}
	boom := errors.New("boom")
	if err := s.Run(context.Background(), 0, func(time.Time, []ingest.Record) error { return boom }); err != boom {
		t.Errorf("Run = %v, want fn's error", err)
	}
}
