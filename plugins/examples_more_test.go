package plugins

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/examples"
)

// The examples beyond c-cpa and go-cpa, each built from source with its own
// Makefile (OUT= into the test's build directory), so that the tests build
// exactly what `make plugins` builds.
type moreExample struct {
	name string
	// exact: the manifest claims matches_builtin, so conformance compares
	// every field with the builtin's; otherwise it checks well-formedness.
	exact bool
	kind  abi.Kind
}

var moreExamples = []moreExample{
	{name: "as-cpa", exact: true, kind: abi.KindScorer | abi.KindPredictor},
	{name: "rust-cpa", exact: true, kind: abi.KindScorer | abi.KindPredictor},
	{name: "aviation", kind: abi.KindScorer},
	{name: "pc-foster", kind: abi.KindScorer},
	{name: "turn-predictor", kind: abi.KindPredictor},
}

func moreExampleByName(name string) moreExample {
	for _, e := range moreExamples {
		if e.name == name {
			return e
		}
	}
	panic("no example " + name)
}

// threadCPU returns the CPU time of the calling OS thread on Linux
// (getrusage RUSAGE_THREAD), 0 elsewhere. The caller holds
// runtime.LockOSThread.
func threadCPU() time.Duration {
	if runtime.GOOS != "linux" {
		return 0
	}
	const rusageThread = 1
	var ru syscall.Rusage
	if syscall.Getrusage(rusageThread, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestMoreExamplesConformance builds each example from source and runs the
// conformance vectors: exact for the CPA ports, well-formed (ranges, counts,
// determinism, independence of batch order) for the other models.
func TestMoreExamplesConformance(t *testing.T) {
	for _, e := range moreExamples {
		t.Run(e.name, func(t *testing.T) {
			rep := Conformance(ctx, examples.Module(t, e.name))
			var sb strings.Builder
			rep.WriteText(&sb)
			t.Log("\n" + sb.String())
			if !rep.Pass {
				t.Fatal("conformance failed")
			}
			want := "well-formed"
			if e.exact {
				want = "exact"
			}
			if rep.Mode != want {
				t.Fatalf("mode %s, want %s", rep.Mode, want)
			}
			if k := rep.Manifest.ModelKind(); k != e.kind {
				t.Fatalf("kind %q, want %v", rep.Manifest.Kind, e.kind)
			}
			ran := 0
			for _, v := range rep.Vectors {
				if !v.Skipped {
					ran++
				}
			}
			if ran < 3 {
				t.Fatalf("only %d vectors ran", ran)
			}
			if len(rep.Imports) != 0 && !strings.HasPrefix(rep.Imports[0], "wasi_snapshot_preview1.") {
				t.Fatalf("imports %v", rep.Imports)
			}
		})
	}
}

// TestMoreCPAMatchBuiltinOnTraffic scores random traffic through the full
// Score path (vehicle compaction, split batches, pairs beyond the unrolled
// part of the loop) and predicts random vehicles with and without
// acceleration, and compares with the builtin bit for bit.
func TestMoreCPAMatchBuiltinOnTraffic(t *testing.T) {
	vs, ps := traffic(5, 3000, 20011, 4000)
	for i := range vs {
		if i%3 == 0 { // some with acceleration, for the predictor
			vs[i].AX, vs[i].AY, vs[i].AZ = float64(i%7)-3, float64(i%5)-2, 0.25
			vs[i].Flags |= abi.FlagHasAccel
		}
	}
	prm := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: 5}
	want := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
		t.Fatal(err)
	}
	wantBoxes := make([]abi.Box, len(vs))
	wantPts := make([]abi.Point, len(vs)*int(prm.Samples))
	if err := (builtin.Predictor{}).Predict(ctx, prm, vs, wantBoxes, wantPts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"as-cpa", "rust-cpa"} {
		t.Run(name, func(t *testing.T) {
			p := mustLoad(t, mustRuntime(t), examples.Module(t, name), Options{Limits: Limits{MaxBatch: 4096, BatchTimeout: 10 * time.Second}, Instances: 2})
			got := make([]abi.Result, len(ps))
			id, err := p.ScoreModel(ctx, prm, vs, ps, got)
			if err != nil {
				t.Fatal(err)
			}
			if id != p.Model() || id.Name != "cpa-"+strings.TrimSuffix(name, "-cpa") {
				t.Fatalf("scored by %+v", id)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("pair %d %v: got %+v want %+v", i, ps[i], got[i], want[i])
				}
			}
			boxes := make([]abi.Box, len(vs))
			pts := make([]abi.Point, len(wantPts))
			if err := p.Predict(ctx, prm, vs, boxes, pts); err != nil {
				t.Fatal(err)
			}
			for i := range wantBoxes {
				if boxes[i] != wantBoxes[i] {
					t.Fatalf("vehicle %d: box %+v want %+v", i, boxes[i], wantBoxes[i])
				}
			}
			for i := range wantPts {
				if pts[i] != wantPts[i] {
					t.Fatalf("sample %d: %+v want %+v", i, pts[i], wantPts[i])
				}
			}
			if s := p.Stats(); s.Failures != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// benchOptions: one instance, and a batch time limit long enough that a
// loaded machine (a descheduled thread) cannot fail a benchmark; deadline
// enforcement is on all the same, and its cost does not depend on the limit.
var benchOptions = Options{Instances: 1, Limits: Limits{BatchTimeout: 10 * time.Second}}

// scoreOne scores one pair with a loaded plugin.
func scoreOne(t *testing.T, s abi.Scorer, prm abi.Params, a, b abi.Vehicle) abi.Result {
	t.Helper()
	res := make([]abi.Result, 1)
	if err := s.Score(ctx, prm, []abi.Vehicle{a, b}, []abi.Pair{{A: 0, B: 1}}, res); err != nil {
		t.Fatal(err)
	}
	return res[0]
}

// aircraft is a level aircraft at (x, y) and altitude alt (m) flying at
// (vx, vy) m/s; its class zone is a drone's, which the aviation scorer must
// ignore.
func aircraft(x, y, alt, vx, vy float64) abi.Vehicle {
	return abi.Vehicle{X: x, Y: y, Z: alt, VX: vx, VY: vy, Alt: alt, T: 1.7e9, HSep: 50, VSep: 25, Radius: 20}
}

// TestAviationSeparationMinima: loss of separation is inside 5 NM
// horizontally and 1000 ft vertically, whatever the vehicles' class zones.
func TestAviationSeparationMinima(t *testing.T) {
	p := mustLoad(t, mustRuntime(t), examples.Module(t, "aviation"), Options{Instances: 1})
	prm := abi.Params{Horizon: 120, MinRisk: 0.3}
	const nm, ft = 1852.0, 0.3048
	cases := []struct {
		name   string
		a, b   abi.Vehicle
		flags  uint32
		check  func(r abi.Result) string
		reason string
	}{
		{name: "4 NM abeam, same level", a: aircraft(0, 0, 10000, 230, 0), b: aircraft(0, 4*nm, 10000, 230, 0),
			flags: abi.ResultConflict | abi.ResultLoS,
			check: func(r abi.Result) string {
				if r.Risk != 1 || r.TIn != 0 || r.TOut != 120 {
					return "want risk 1 over the whole window"
				}
				return ""
			}},
		{name: "6 NM abeam, same level", a: aircraft(0, 0, 10000, 230, 0), b: aircraft(0, 6*nm, 10000, 230, 0),
			check: func(r abi.Result) string {
				// normalised separation n = 6/5: risk 0.5*m/n^2
				if math.Abs(r.Risk-0.5*0.3/(1.2*1.2)) > 1e-9 || r.TIn != -1 || r.TOut != -1 {
					return "want risk 0.5*m/1.44 and no window"
				}
				return ""
			}},
		{name: "2 NM abeam, 1500 ft apart", a: aircraft(0, 0, 10000, 230, 0), b: aircraft(0, 2*nm, 10000+1500*ft, 230, 0),
			check: func(r abi.Result) string {
				if !(r.Risk < 0.3) {
					return "want risk below min_risk"
				}
				return ""
			}},
		{name: "2 NM abeam at FL350 and FL360", a: aircraft(0, 0, 10668.0, 230, 0), b: aircraft(0, 2*nm, 10972.8, 230, 0),
			check: func(r abi.Result) string {
				// 10972.8 - 10668.0 = 304.79999999999927 < 304.8 in float64:
				// exactly 1000 ft apart is separated all the same.
				if !(r.Risk < 0.3) {
					return "adjacent flight levels: want risk below min_risk"
				}
				return ""
			}},
		{name: "2 NM abeam, 900 ft apart", a: aircraft(0, 0, 10000, 230, 0), b: aircraft(0, 2*nm, 10000+900*ft, 230, 0),
			flags: abi.ResultConflict | abi.ResultLoS},
		{name: "head-on, 30 km apart", a: aircraft(0, 0, 10000, 230, 0), b: aircraft(30000, 0, 10000, -230, 0),
			flags: abi.ResultConflict,
			check: func(r abi.Result) string {
				tin := (30000 - 5*nm) / 460
				want := 1 - 0.5*(tin/120)*(1-0.5*1)
				if math.Abs(r.TIn-tin) > 1e-6 || math.Abs(r.Risk-want) > 1e-9 || math.Abs(r.TCA-30000.0/460) > 1e-6 || r.DMin > 1e-6 {
					return fmt.Sprintf("want t_in %.4f, risk %.6f, tca %.4f, dmin 0", tin, want, 30000.0/460)
				}
				return ""
			}},
		{name: "head-on, 90 km apart", a: aircraft(0, 0, 10000, 230, 0), b: aircraft(90000, 0, 10000, -230, 0),
			check: func(r abi.Result) string {
				if !(r.Risk < 0.3) || r.TCA != 120 {
					return "loss of separation after the horizon: want risk below min_risk, tca at the horizon"
				}
				return ""
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := scoreOne(t, p, prm, c.a, c.b)
			if r.Flags != c.flags {
				t.Fatalf("flags %#x, want %#x: %+v", r.Flags, c.flags, r)
			}
			if c.check != nil {
				if msg := c.check(r); msg != "" {
					t.Fatalf("%s: got %+v", msg, r)
				}
			}
		})
	}
	// The builtin, with the drones' zones, sees no conflict at 4 NM: the
	// aviation model's minima are its own.
	if r := builtin.ScorePair(&cases[0].a, &cases[0].b, prm); r.Flags != 0 {
		t.Fatalf("builtin flags %#x at 4 NM", r.Flags)
	}
}

// diskProbability integrates the 2D Gaussian centred miss metres from the
// origin, standard deviation s on both axes, over the disc of radius r
// (midpoint rule in polar coordinates): the exact probability that Foster's
// method approximates.
func diskProbability(miss, s, r float64) float64 {
	const nr, na = 400, 720
	sum := 0.0
	for i := 0; i < nr; i++ {
		rho := (float64(i) + 0.5) * r / nr
		for j := 0; j < na; j++ {
			phi := (float64(j) + 0.5) * 2 * math.Pi / na
			x, y := rho*math.Cos(phi)-miss, rho*math.Sin(phi)
			sum += math.Exp(-(x*x+y*y)/(2*s*s)) * rho
		}
	}
	return sum * (r / nr) * (2 * math.Pi / na) / (2 * math.Pi * s * s)
}

// TestPcFoster checks the probability of collision against the exact disc
// integral, its response to the configuration, and refused configurations.
func TestPcFoster(t *testing.T) {
	mod := examples.Module(t, "pc-foster")
	prm := abi.Params{Horizon: 30, MinRisk: 0.1}
	// A crossing: B passes A's path with a miss distance of `miss` metres at
	// tca = 10 s; each has sigma 20 m and a hard-body radius of 10 m, so
	// s = sqrt(20^2 + 20^2) and R = 20.
	crossing := func(miss float64, sigma float32) (abi.Vehicle, abi.Vehicle) {
		a := abi.Vehicle{X: 0, Y: 0, Z: 100, VX: 20, Alt: 100, T: 1.7e9, Radius: 10, HSep: 50, VSep: 25, Sigma: sigma}
		b := abi.Vehicle{X: 200, Y: -300, Z: 100 + miss, VY: 30, Alt: 100 + miss, T: 1.7e9, Radius: 10, HSep: 50, VSep: 25, Sigma: sigma}
		return a, b
	}
	r := mustRuntime(t) // one runtime: its compilation cache compiles the module once
	p := mustLoad(t, r, mod, Options{Instances: 1})
	s := math.Sqrt(20*20 + 20*20)
	prev := 2.0
	for _, miss := range []float64{0, 10, 20, 40, 80} {
		a, b := crossing(miss, 20)
		r := scoreOne(t, p, prm, a, b)
		exact := diskProbability(miss, s, 20)
		t.Logf("miss %3.0f m: Pc %.5f, exact %.5f, flags %#x, window [%.3f, %.3f]", miss, r.Risk, exact, r.Flags, r.TIn, r.TOut)
		if math.Abs(r.TCA-10) > 1e-9 || math.Abs(r.DMin-miss) > 1e-6 {
			t.Fatalf("miss %v: tca %v dmin %v, want 10 and %v", miss, r.TCA, r.DMin, miss)
		}
		if math.Abs(r.Risk-exact) > 0.05*exact+1e-4 {
			t.Fatalf("miss %v: Pc %v, exact %v", miss, r.Risk, exact)
		}
		if !(r.Risk < prev) {
			t.Fatalf("miss %v: Pc %v does not fall with the miss distance (previous %v)", miss, r.Risk, prev)
		}
		prev = r.Risk
		conflict := r.Flags&abi.ResultConflict != 0
		if conflict != (r.Risk >= prm.MinRisk) {
			t.Fatalf("miss %v: flags %#x for Pc %v and min_risk %v", miss, r.Flags, r.Risk, prm.MinRisk)
		}
		if miss < 20 && conflict && !(r.TIn > 0 && r.TIn < 10 && r.TOut > 10) {
			t.Fatalf("miss %v: window [%v, %v] should bracket tca 10", miss, r.TIn, r.TOut)
		}
	}
	// Sigma 0 is unknown: the configured default applies.
	a, b := crossing(40, 0)
	tight := scoreOne(t, mustLoad(t, r, mod, Options{Instances: 1, Config: []byte(`{"default_sigma_m": 5}`)}), prm, a, b)
	loose := scoreOne(t, mustLoad(t, r, mod, Options{Instances: 1, Config: []byte(`{"default_sigma_m": 60}`)}), prm, a, b)
	for _, c := range []struct {
		sigma float64
		r     abi.Result
	}{{5, tight}, {60, loose}} {
		// The equal-area square is coarse in the far tail (here 8e-4 for
		// 1.6e-3 with sigma 5 m), hence the absolute allowance.
		if want := diskProbability(40, math.Sqrt(2*c.sigma*c.sigma), 20); math.Abs(c.r.Risk-want) > 0.05*want+1e-3 {
			t.Fatalf("default sigma %v m: Pc %v, exact %v", c.sigma, c.r.Risk, want)
		}
	}
	if !(tight.Risk < loose.Risk/10) {
		t.Fatalf("Pc %v with sigma 5 m, %v with sigma 60 m", tight.Risk, loose.Risk)
	}
	// The protected zone as the collision radius: R = 50 + 10 + 10.
	prot := scoreOne(t, mustLoad(t, r, mod, Options{Instances: 1, Config: []byte(`{"radius": "protected"}`)}), prm, a, b)
	if want := diskProbability(40, math.Sqrt(2*10*10), 70); math.Abs(prot.Risk-want) > 0.05*want {
		t.Fatalf("protected radius: Pc %v, exact %v", prot.Risk, want)
	}
	for _, bad := range []string{`{"radius": "big"}`, `{"default_sigma_m": 0}`, `{"sigma_growth_mps": -1}`, `{"sigma": 3}`, `[1]`} {
		if _, err := r.Load(ctx, mod, Options{Instances: 1, Config: []byte(bad)}); err == nil || !strings.Contains(err.Error(), "pc-foster: config") {
			t.Errorf("config %s: err = %v, want the plugin's refusal", bad, err)
		}
	}
}

// TestTurnPredictor checks the arc against the closed form, with the turn
// rate from the configuration and from the acceleration, the box against a
// dense walk along the arc, and refused configurations.
func TestTurnPredictor(t *testing.T) {
	mod := examples.Module(t, "turn-predictor")
	const h, ns = 60.0, 12
	prm := abi.Params{Horizon: h, MinRisk: 0.3, Samples: ns}
	r := mustRuntime(t) // one runtime: its compilation cache compiles the module once
	predict := func(cfg string, v abi.Vehicle) (abi.Box, []abi.Point) {
		t.Helper()
		p := mustLoad(t, r, mod, Options{Instances: 1, Config: []byte(cfg)})
		boxes, pts := make([]abi.Box, 1), make([]abi.Point, ns)
		if err := p.Predict(ctx, prm, []abi.Vehicle{v}, boxes, pts); err != nil {
			t.Fatal(err)
		}
		return boxes[0], pts
	}
	// check compares the samples with want(t) and the box with a dense walk
	// along want: it must hold every point and be no larger than the walk's
	// box joined with the straight path's end, give or take rounding.
	check := func(name string, v abi.Vehicle, box abi.Box, pts []abi.Point, want func(t float64) abi.Point) {
		t.Helper()
		for k, pt := range pts {
			w := want(float64(k+1) * h / ns)
			if d := math.Sqrt((pt.X-w.X)*(pt.X-w.X) + (pt.Y-w.Y)*(pt.Y-w.Y) + (pt.Z-w.Z)*(pt.Z-w.Z)); d > 1e-6 {
				t.Fatalf("%s: sample %d = %+v, want %+v (%g m off)", name, k+1, pt, w, d)
			}
		}
		end := abi.Point{X: v.X + v.VX*h, Y: v.Y + v.VY*h, Z: v.Z + v.VZ*h}
		walk := abi.Box{MinX: math.Min(v.X, end.X), MinY: math.Min(v.Y, end.Y), MinZ: math.Min(v.Z, end.Z),
			MaxX: math.Max(v.X, end.X), MaxY: math.Max(v.Y, end.Y), MaxZ: math.Max(v.Z, end.Z)}
		for i := 0; i <= 6000; i++ {
			w := want(h * float64(i) / 6000)
			if !box.Grow(1e-6).Contains(w.X, w.Y, w.Z) {
				t.Fatalf("%s: box %+v misses the position %+v at t = %v", name, box, w, h*float64(i)/6000)
			}
			walk = abi.Box{MinX: math.Min(walk.MinX, w.X), MinY: math.Min(walk.MinY, w.Y), MinZ: math.Min(walk.MinZ, w.Z),
				MaxX: math.Max(walk.MaxX, w.X), MaxY: math.Max(walk.MaxY, w.Y), MaxZ: math.Max(walk.MaxZ, w.Z)}
		}
		if g := walk.Grow(0.01); !g.Contains(box.MinX, box.MinY, box.MinZ) || !g.Contains(box.MaxX, box.MaxY, box.MaxZ) {
			t.Fatalf("%s: box %+v is looser than the path's %+v", name, box, walk)
		}
	}

	// A configured left turn of 3 deg/s while climbing at 2 m/s: a helix.
	w := 3 * math.Pi / 180
	v := abi.Vehicle{X: 1000, Y: -500, Z: 300, VX: 100, VZ: 2, Alt: 300, VRate: 2, T: 1.7e9}
	box, pts := predict(`{"turn_rate_dps": 3}`, v)
	check("configured turn", v, box, pts, func(t float64) abi.Point {
		return abi.Point{X: 1000 + 100/w*math.Sin(w*t), Y: -500 + 100/w*(1-math.Cos(w*t)), Z: 300 + 2*t}
	})
	// A right turn: negative rate.
	box, pts = predict(`{"turn_rate_dps": -3}`, v)
	check("configured right turn", v, box, pts, func(t float64) abi.Point {
		return abi.Point{X: 1000 + 100/w*math.Sin(w*t), Y: -500 - 100/w*(1-math.Cos(w*t)), Z: 300 + 2*t}
	})

	// From the acceleration: heading +y at 50 m/s with 5 m/s^2 towards -x
	// turns left at a_perp/|v| = 0.1 rad/s on a circle of radius 500 m; the
	// along-track part of the acceleration (here 1 m/s^2) is ignored.
	va := abi.Vehicle{VY: 50, AX: -5, AY: 1, T: 1.7e9, Flags: abi.FlagHasAccel}
	circle := func(t float64) abi.Point {
		return abi.Point{X: -500 * (1 - math.Cos(0.1*t)), Y: 500 * math.Sin(0.1*t)}
	}
	box, pts = predict(`{}`, va)
	check("turn from acceleration", va, box, pts, circle)
	// Over 60 s the turn sweeps 6 rad, nearly a revolution: the box spans
	// the circle, x from -1000 to 0 and y from -500 to 500 (and the straight
	// path's end at y = 3000).
	if box.MinX > -999.999 || box.MaxX < -1e-6 || box.MinY > -499.999 || box.MaxY != 3000 {
		t.Fatalf("a full circle's box: %+v", box)
	}
	// A turn out of the horizontal plane (climbing while turning): the
	// velocity turns about v x a at a_perp/|v|, checked against a numerical
	// integration of dv/dt = w x v (RK4, 1 ms steps).
	vt := abi.Vehicle{X: 5, Y: 6, Z: 700, VX: 50, VZ: 10, AY: 3, Alt: 700, VRate: 10, T: 1.7e9, Flags: abi.FlagHasAccel}
	vel := [3]float64{vt.VX, vt.VY, vt.VZ}
	acc := [3]float64{vt.AX, vt.AY, vt.AZ}
	vv := vel[0]*vel[0] + vel[1]*vel[1] + vel[2]*vel[2]
	om := [3]float64{(vel[1]*acc[2] - vel[2]*acc[1]) / vv, (vel[2]*acc[0] - vel[0]*acc[2]) / vv, (vel[0]*acc[1] - vel[1]*acc[0]) / vv}
	crossOm := func(u [3]float64) [3]float64 {
		return [3]float64{om[1]*u[2] - om[2]*u[1], om[2]*u[0] - om[0]*u[2], om[0]*u[1] - om[1]*u[0]}
	}
	const dt = 1e-3
	path := make([]abi.Point, 0, 60001)
	pos, v3 := [3]float64{vt.X, vt.Y, vt.Z}, vel
	for i := 0; i <= 60000; i++ {
		path = append(path, abi.Point{X: pos[0], Y: pos[1], Z: pos[2]})
		// RK4 on (pos, v): pos' = v, v' = om x v.
		k1v, k1p := crossOm(v3), v3
		var mid [3]float64
		for j := range mid {
			mid[j] = v3[j] + dt/2*k1v[j]
		}
		k2v, k2p := crossOm(mid), mid
		for j := range mid {
			mid[j] = v3[j] + dt/2*k2v[j]
		}
		k3v, k3p := crossOm(mid), mid
		for j := range mid {
			mid[j] = v3[j] + dt*k3v[j]
		}
		k4v, k4p := crossOm(mid), mid
		for j := range pos {
			pos[j] += dt / 6 * (k1p[j] + 2*k2p[j] + 2*k3p[j] + k4p[j])
			v3[j] += dt / 6 * (k1v[j] + 2*k2v[j] + 2*k3v[j] + k4v[j])
		}
	}
	box, pts = predict(`{}`, vt)
	check("tilted turn", vt, box, pts, func(t float64) abi.Point { return path[int(math.Round(t/dt))] })

	// "source": "config" ignores the acceleration: straight at rate 0.
	box, pts = predict(`{"source": "config"}`, va)
	check("acceleration ignored", va, box, pts, func(t float64) abi.Point { return abi.Point{Y: 50 * t} })
	// The cap: 0.1 rad/s is 5.7 deg/s; capped at 2 deg/s.
	wc := 2 * math.Pi / 180
	box, pts = predict(`{"max_turn_rate_dps": 2}`, va)
	check("capped rate", va, box, pts, func(t float64) abi.Point {
		return abi.Point{X: -50 / wc * (1 - math.Cos(wc*t)), Y: 50 / wc * math.Sin(wc*t)}
	})

	for _, bad := range []string{`{"source": "radar"}`, `{"turn_rate_dps": "left"}`, `{"max_turn_rate_dps": 0}`, `{"rate": 1}`} {
		if _, err := r.Load(ctx, mod, Options{Instances: 1, Config: []byte(bad)}); err == nil || !strings.Contains(err.Error(), "turn-predictor: config") {
			t.Errorf("config %s: err = %v, want the plugin's refusal", bad, err)
		}
	}
}

// SDK fixtures: small plugins that use the parts of the AssemblyScript and
// Rust SDKs the CPA examples do not (cdp_init with the configuration kept in
// the model, errors reported through cdp_last_error, a predictor-only kind,
// JSON escaping in the manifest). Each scales the constant-velocity box by
// the configured "scale" (default 1) and refuses a configuration containing
// "refuse".
const fixtureDescription = `quote " backslash \ tab` + "\t" + `end`

const rustFixture = `
static mut SCALE: f64 = 1.0;

fn init(cfg: &[u8]) -> core::result::Result<(), String> {
    let s = core::str::from_utf8(cfg).map_err(|e| format!("fixture: config: {}", e))?;
    if s.contains("refuse") {
        return Err(format!("fixture: refused on request ({} bytes)", s.len()));
    }
    if let Some(i) = s.find("\"scale\":") {
        let rest = s[i + 8..].trim_start();
        let end = rest.find(|c: char| c != '.' && !c.is_ascii_digit()).unwrap_or(rest.len());
        let v: f64 = rest[..end].parse().map_err(|_| String::from("fixture: scale is not a number"))?;
        unsafe { SCALE = v };
    }
    Ok(())
}

fn predict(v: &cdp::Vehicle, p: &cdp::Params, b: &mut cdp::Box3, s: &mut cdp::Samples) {
    let k = unsafe { SCALE };
    let h = p.horizon * k;
    let (ex, ey, ez) = (v.x + v.vx * h, v.y + v.vy * h, v.z + v.vz * h);
    *b = cdp::Box3 { min_x: v.x.min(ex), min_y: v.y.min(ey), min_z: v.z.min(ez),
                     max_x: v.x.max(ex), max_y: v.y.max(ey), max_z: v.z.max(ez) };
    for i in 0..s.len() {
        let t = h * (i + 1) as f64 / s.len() as f64;
        s.set(i, cdp::Point { x: v.x + v.vx * t, y: v.y + v.vy * t, z: v.z + v.vz * t });
    }
}

cdp::plugin! {
    manifest: cdp::Manifest {
        name: "fixture-rust", version: "0.1.0",
        description: "quote \" backslash \\ tab\tend", matches_builtin: false,
    },
    predict: predict,
    init: init,
}
`

const asFixture = `
import * as cdp from "SDK";
export { cdp_abi_version, cdp_alloc, cdp_last_error } from "SDK";

class Model {
  scale: f64 = 1;
  predict(v: cdp.Vehicle, p: cdp.Params, b: cdp.Box, s: cdp.Samples): void {
    const h = p.horizon * this.scale;
    const ex = v.x + v.vx * h, ey = v.y + v.vy * h, ez = v.z + v.vz * h;
    b.min_x = Math.min(v.x, ex); b.min_y = Math.min(v.y, ey); b.min_z = Math.min(v.z, ez);
    b.max_x = Math.max(v.x, ex); b.max_y = Math.max(v.y, ey); b.max_z = Math.max(v.z, ez);
    for (let i: u32 = 0; i < s.count; i++) {
      const t = h * <f64>(i + 1) / <f64>s.count;
      const q = s.at(i);
      q.x = v.x + v.vx * t; q.y = v.y + v.vy * t; q.z = v.z + v.vz * t;
    }
  }
}
const model = new Model();

export function cdp_init(ptr: usize, len: i32): i32 {
  const cfg = cdp.config(ptr, len);
  if (cfg.includes("refuse")) {
    cdp.setError("fixture: refused on request");
    return cdp.ERR_CONFIG;
  }
  const i = cfg.indexOf("\"scale\":");
  if (i >= 0) model.scale = parseFloat(cfg.substring(i + 8).trimStart());
  return cdp.OK;
}

export function cdp_manifest(): i64 {
  return cdp.manifest("fixture-as", "0.1.0", cdp.PREDICTOR, "quote \" backslash \\ tab\tend", false);
}

export function cdp_predict(batch: usize): i32 {
  return cdp.predictBatch(batch, model);
}
`

// buildFixture compiles one SDK fixture with the flags of the examples'
// Makefiles.
func buildFixture(t *testing.T, lang string) []byte {
	t.Helper()
	example := map[string]string{"rust": "rust-cpa", "as": "as-cpa"}[lang]
	examples.Module(t, example) // the toolchain is there (or the test fails under CI)
	dir := t.TempDir()
	sdk, _ := filepath.Abs(filepath.Join("..", "sdk"))
	out := filepath.Join(dir, "fixture.wasm")
	var cmds [][]string
	switch lang {
	case "rust":
		src := filepath.Join(dir, "fixture.rs")
		if err := os.WriteFile(src, []byte(rustFixture), 0o644); err != nil {
			t.Fatal(err)
		}
		rf := []string{"--target", "wasm32-unknown-unknown", "--edition", "2021", "-C", "opt-level=3"}
		cmds = [][]string{
			append(append([]string{"/usr/bin/rustc"}, rf...), "--crate-type", "rlib", "--crate-name", "cdp",
				"-o", filepath.Join(dir, "libcdp.rlib"), filepath.Join(sdk, "rust", "src", "lib.rs")),
			append(append([]string{"/usr/bin/rustc"}, rf...), "--crate-type", "cdylib", "-C", "panic=abort", "-C", "lto",
				"-C", "strip=symbols", "--extern", "cdp="+filepath.Join(dir, "libcdp.rlib"), "-o", out, src),
		}
	case "as":
		src := filepath.Join(dir, "fixture.ts")
		sdkPath, _ := filepath.Rel(dir, filepath.Join(sdk, "assemblyscript", "cdp"))
		if err := os.WriteFile(src, []byte(strings.ReplaceAll(asFixture, "SDK", sdkPath)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmds = [][]string{{filepath.Join(sdk, "assemblyscript", "node_modules", ".bin", "asc"), src, "-O3", "--runtime", "stub",
			"--use", "abort=", "--noAssert", "--exportStart", "_initialize", "-o", out}}
	}
	for _, c := range cmds {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, b)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSDKFixtures: configuration reaches the model, a refusal carries the
// plugin's message, the manifest is escaped JSON with the derived kind, and
// a predictor-only plugin predicts (and conforms) but does not score.
func TestSDKFixtures(t *testing.T) {
	for _, lang := range []string{"as", "rust"} {
		t.Run(lang, func(t *testing.T) {
			mod := buildFixture(t, lang)
			r := mustRuntime(t)
			p := mustLoad(t, r, mod, Options{Instances: 1})
			m := p.Manifest()
			if m.Name != "fixture-"+lang || m.Kind != "predictor" || m.Description != fixtureDescription || m.MatchesBuiltin {
				t.Fatalf("manifest %+v", m)
			}
			v := []abi.Vehicle{{X: 10, Y: 20, Z: 30, VX: 1, VY: -2, VZ: 0.5, T: 1.7e9}}
			prm := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: 3}
			for _, c := range []struct {
				cfg   string
				scale float64
			}{{"", 1}, {`{"scale": 2}`, 2}} {
				p := mustLoad(t, r, mod, Options{Instances: 1, Config: []byte(c.cfg)})
				boxes, pts := make([]abi.Box, 1), make([]abi.Point, 3)
				if err := p.Predict(ctx, prm, v, boxes, pts); err != nil {
					t.Fatal(err)
				}
				h := 30 * c.scale
				if want := (abi.Box{MinX: 10, MinY: 20 - 2*h, MinZ: 30, MaxX: 10 + h, MaxY: 20, MaxZ: 30 + 0.5*h}); boxes[0] != want {
					t.Fatalf("config %q: box %+v, want %+v", c.cfg, boxes[0], want)
				}
				if want := (abi.Point{X: 10 + h, Y: 20 - 2*h, Z: 30 + 0.5*h}); pts[2] != want {
					t.Fatalf("config %q: last sample %+v, want %+v", c.cfg, pts[2], want)
				}
			}
			if _, err := r.Load(ctx, mod, Options{Instances: 1, Config: []byte(`{"refuse": true}`)}); err == nil ||
				!strings.Contains(err.Error(), "fixture: refused on request") {
				t.Fatalf("refused config: err = %v, want the plugin's message", err)
			}
			if err := p.Score(ctx, prm, append(v, v[0]), []abi.Pair{{A: 0, B: 1}}, make([]abi.Result, 1)); err == nil {
				t.Fatal("a predictor-only plugin scored")
			}
			if rep := Conformance(ctx, mod); !rep.Pass || rep.Mode != "well-formed" {
				var sb strings.Builder
				rep.WriteText(&sb)
				t.Fatalf("conformance:\n%s", sb.String())
			}
		})
	}
}

// TestMakePlugins runs `make plugins` (into a temporary PLUGINS_OUT) and
// loads every module it built: one per example directory.
func TestMakePlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every example")
	}
	for _, name := range examples.Names() {
		if missing := examples.Missing(name); missing != "" {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required under CI (.ci/install-toolchains.sh plugins installs it)", missing)
			}
			t.Skipf("%s not installed", missing)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("make", "-s", "-C", "..", "plugins", "PLUGINS_OUT="+out, "GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make plugins: %v\n%s", err, b)
	}
	dirs, err := filepath.Glob(filepath.Join("..", "examples", "*", "Makefile"))
	if err != nil || len(dirs) < 7 {
		t.Fatalf("examples: %v %v", dirs, err)
	}
	r := mustRuntime(t)
	for _, mk := range dirs {
		name := filepath.Base(filepath.Dir(mk))
		mod, err := os.ReadFile(filepath.Join(out, name+".wasm"))
		if err != nil {
			t.Fatalf("make plugins built no %s.wasm: %v", name, err)
		}
		p, err := r.Load(ctx, mod, Options{Instances: 1})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p.Close(ctx)
	}
}

// TestMoreOnRecordings replays the recorded traffic (examples/data): the
// AssemblyScript and Rust CPA examples must equal the builtin bit for bit,
// and on the UK air traffic the aviation scorer must find exactly the
// conflicts, with the same windows, that the builtin finds when every
// aircraft's zone is 5 NM / 1000 ft (less its 1 mm tolerance) and its
// hard-body radius 0.
func TestMoreOnRecordings(t *testing.T) {
	recordings := []struct {
		name              string
		hsep, vsep, reach float64
		horizon           float64
	}{
		{"opensky-uk-2021-07-12", 9260, 304.8, 60000, 120},
		{"solent-ais-2016-01-12", 200, 50, 5000, 300},
	}
	for _, rec := range recordings {
		t.Run(rec.name, func(t *testing.T) {
			vs, ps := recordingPairs(t, filepath.Join("..", "examples", "data", rec.name, "tracks.csv"), rec.hsep, rec.vsep, rec.reach)
			prm := abi.Params{Horizon: rec.horizon, MinRisk: 0.3}
			want := make([]abi.Result, len(ps))
			if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"as-cpa", "rust-cpa"} {
				p := mustLoad(t, mustRuntime(t), examples.Module(t, name), Options{Instances: 1, Limits: Limits{BatchTimeout: 10 * time.Second}})
				got := make([]abi.Result, len(ps))
				if err := p.Score(ctx, prm, vs, ps, got); err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s, pair %d: %+v, builtin %+v", name, i, got[i], want[i])
					}
				}
			}
			if rec.hsep != 9260 {
				return
			}
			// The aviation scorer's vertical minimum is 1000 ft less 1 mm
			// (aircraft at adjacent flight levels are separated).
			for i := range vs {
				vs[i].Radius, vs[i].VSep = 0, float32(304.8-0.001)
			}
			if err := (builtin.Scorer{}).Score(ctx, prm, vs, ps, want); err != nil {
				t.Fatal(err)
			}
			p := mustLoad(t, mustRuntime(t), examples.Module(t, "aviation"), Options{Instances: 1, Limits: Limits{BatchTimeout: 10 * time.Second}})
			got := make([]abi.Result, len(ps))
			if err := p.Score(ctx, prm, vs, ps, got); err != nil {
				t.Fatal(err)
			}
			conflicts := 0
			for i := range want {
				w, g := want[i], got[i]
				if g.Flags != w.Flags {
					t.Fatalf("pair %d: aviation %+v, builtin %+v", i, g, w)
				}
				if w.Flags&abi.ResultConflict == 0 {
					continue
				}
				conflicts++
				// The builtin's zone is a float32 (304.79901123046875 m):
				// windows may differ by that much.
				if math.Abs(g.TIn-w.TIn) > 1e-3 || math.Abs(g.TOut-w.TOut) > 1e-3 || math.Abs(g.Risk-w.Risk) > 1e-6 {
					t.Fatalf("pair %d: aviation %+v, builtin %+v", i, g, w)
				}
			}
			t.Logf("%d pairs, %d in conflict under 5 NM / 1000 ft", len(ps), conflicts)
			if conflicts == 0 {
				t.Fatal("no conflicts to compare")
			}
		})
	}
}
