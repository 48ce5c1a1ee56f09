package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// bruteStep is the brute-force sampling step, s.
const bruteStep = 1e-3

// relState is the independent brute-force view of a pair: both vehicles
// propagated separately from their own state times to absolute time T+t, then
// differenced. It shares no code and no intermediate quantity with the scorer.
type relState struct {
	a, b   *abi.Vehicle
	t      float64 // reference time
	r, v   float64 // protected zone of the pair
	window float64
	speed  float64 // bound on |d h/dt|, |d dz/dt| and |d dist/dt|
}

func newRelState(a, b *abi.Vehicle, h float64) relState {
	t := math.Max(a.T, b.T)
	r := float64(max(a.HSep, b.HSep)) + float64(a.Radius) + float64(b.Radius)
	v := float64(max(a.VSep, b.VSep)) + float64(a.Radius) + float64(b.Radius)
	dv := math.Sqrt(math.Pow(b.VX-a.VX, 2) + math.Pow(b.VY-a.VY, 2) + math.Pow(b.VZ-a.VZ, 2))
	return relState{a: a, b: b, t: t, r: r, v: v,
		window: math.Min(a.T, b.T) + h - t,
		speed:  dv + math.Abs(b.VRate-a.VRate)}
}

// at returns the horizontal distance, the altitude difference and the 3D
// distance at t seconds after the reference time.
func (s relState) at(t float64) (hd, dz, dist float64) {
	ta := (s.t - s.a.T) + t
	tb := (s.t - s.b.T) + t
	x := (s.b.X + s.b.VX*tb) - (s.a.X + s.a.VX*ta)
	y := (s.b.Y + s.b.VY*tb) - (s.a.Y + s.a.VY*ta)
	z := (s.b.Z + s.b.VZ*tb) - (s.a.Z + s.a.VZ*ta)
	dz = (s.b.Alt + s.b.VRate*tb) - (s.a.Alt + s.a.VRate*ta)
	d2 := x*x + y*y + z*z
	return math.Sqrt(math.Max(0, d2-dz*dz)), dz, math.Sqrt(d2)
}

func (s relState) los(hd, dz float64) bool { return hd < s.r && math.Abs(dz) < s.v }

// bruteVerdict is what the sampling decides about a pair.
type bruteVerdict struct {
	losNow, clearNow   bool    // in LoS at 0 by a margin; clearly outside at 0
	entered            bool    // clearly in LoS at some sample inside the window
	clear              bool    // outside the zone at every sample by more than a step's travel
	first, last        float64 // first and last sample in LoS (raw test)
	hmin               float64 // least horizontal distance over the LoS samples
	dmin               float64 // least 3D distance over the samples
	ambiguous          bool    // too close to the boundary to decide
	sampledTOutAtLimit bool    // still in LoS at the last sample (W)
}

func brute(s relState) bruteVerdict {
	w := s.window
	n := int(math.Ceil(w / bruteStep))
	slack := s.speed*bruteStep + 1e-6*(1+s.r+s.v) // travel in one step, and rounding
	tiny := 1e-6 * (1 + s.r + s.v)
	out := bruteVerdict{first: -1, last: -1, hmin: math.Inf(1), dmin: math.Inf(1), clear: true}
	for k := 0; k <= n; k++ {
		t := math.Min(float64(k)*bruteStep, w)
		hd, dz, dist := s.at(t)
		out.dmin = math.Min(out.dmin, dist)
		if k == 0 {
			out.losNow = hd < s.r-tiny && math.Abs(dz) < s.v-tiny
			out.clearNow = hd > s.r+tiny || math.Abs(dz) > s.v+tiny
		}
		if s.los(hd, dz) {
			if out.first < 0 {
				out.first = t
			}
			out.last = t
			out.hmin = math.Min(out.hmin, hd)
			out.sampledTOutAtLimit = k == n
		}
		if hd < s.r-tiny && math.Abs(dz) < s.v-tiny {
			out.entered = true
		}
		if !(hd > s.r+slack || math.Abs(dz) > s.v+slack) {
			out.clear = false
		}
	}
	out.ambiguous = !out.entered && !out.clear
	return out
}

// TestRiskContract checks the scorer against the brute force over randomized
// encounters of every kind: LoS now scores 1, an entry inside the window
// scores >= 0.5 with TIn at the sampled entry, a pair that stays clear scores
// below MinRisk, and TCA, DMin and the risk value itself agree with the
// sampled trajectory.
func TestRiskContract(t *testing.T) {
	const seeds, perSeed = 12, 1000
	pairs := seeds * perSeed
	if testing.Short() {
		pairs = seeds * 100
	}
	var counts [nOutcomes]int
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 0x5eed))
		for i := range pairs / seeds {
			kind := pairKinds[i%len(pairKinds)]
			h := 5 + rng.Float64()*25
			p := abi.Params{Horizon: h, MinRisk: 0.05 + rng.Float64()*0.6}
			a, b := randomPair(rng, kind, h)
			fail := func(r abi.Result, format string, args ...any) {
				t.Helper()
				t.Errorf("seed %d pair %d (%s): "+format+"\n A=%+v\n B=%+v\n params=%+v\n result=%+v",
					append(append([]any{seed, i, kind}, args...), a, b, p, r)...)
			}
			counts[checkContract(t, &a, &b, p, fail)]++
		}
	}
	t.Logf("pairs %d: %s", pairs, outcomeSummary(counts))
	nLoS, nConflict, nClear, nEmpty, nAmbiguous := counts[outLoS], counts[outConflict], counts[outClear], counts[outEmpty], counts[outAmbiguous]
	// The generator must exercise every outcome, and the boundary cases the
	// sampling cannot decide must stay rare, or the test proves little.
	if nLoS < pairs/50 || nConflict < pairs/20 || nClear < pairs/10 || nEmpty < pairs/100 {
		t.Errorf("outcome mix too thin: LoS %d, conflict %d, clear %d, empty %d of %d",
			nLoS, nConflict, nClear, nEmpty, pairs)
	}
	if nAmbiguous > pairs/20 {
		t.Errorf("%d of %d pairs too close to call", nAmbiguous, pairs)
	}
}

// Outcomes of checkContract.
const (
	outEmpty     = iota // empty window
	outLoS              // in loss of separation now
	outConflict         // entry inside the window
	outClear            // clear of the zone over the window
	outAmbiguous        // too close to the boundary for the sampling to decide
	nOutcomes
)

func outcomeSummary(c [nOutcomes]int) string {
	return fmt.Sprintf("LoS now %d, conflict %d, clear %d, empty window %d, too close to call %d",
		c[outLoS], c[outConflict], c[outClear], c[outEmpty], c[outAmbiguous])
}

// checkContract scores a, b and checks the result against the brute force:
// the output invariants, symmetry, then by the sampled outcome LoS now ->
// risk 1; entry inside the window -> risk in [0.5, 1), TIn and TOut at the
// sampled entry and exit, the risk value from the sampled entry and depth;
// clear -> risk 0.5*MinRisk/n² < MinRisk; and TCA, DMin against the sampled
// distance. fail reports a violation.
func checkContract(t *testing.T, a, b *abi.Vehicle, p abi.Params, failr func(abi.Result, string, ...any)) int {
	t.Helper()
	r := builtin.ScorePair(a, b, p)
	fail := func(format string, args ...any) { t.Helper(); failr(r, format, args...) }
	out := outAmbiguous
	checkSane(t, a, b, p, r, fail)
	if r != builtin.ScorePair(b, a, p) {
		fail("not symmetric: B, A gives %+v", builtin.ScorePair(b, a, p))
	}
	s := newRelState(a, b, p.Horizon)
	if s.window < 0 {
		if r.Risk != 0 || r.Flags != 0 || r.TCA != 0 {
			fail("empty window (W = %v) must score 0", s.window)
		}
		if _, _, d := s.at(0); math.Abs(d-r.DMin) > 1e-6*(1+d) {
			fail("empty window: DMin = %v, distance now %v", r.DMin, d)
		}
		return outEmpty
	}
	v := brute(s)
	checkCPA(s, v, r, fail)
	if r.Flags&abi.ResultConflict != 0 {
		// Analytic cross-check: the middle of [TIn, TOut] is in LoS.
		mid := (r.TIn + r.TOut) / 2
		hd, dz, _ := s.at(mid)
		tol := 1e-9 * (1 + s.r + s.v)
		if !(hd < s.r+tol && math.Abs(dz) < s.v+tol) {
			fail("conflict, but at the middle of [TIn, TOut], %v s, h = %v, dz = %v", mid, hd, dz)
		}
	}
	switch {
	case v.losNow:
		out = outLoS
		if r.Risk != 1 || r.Flags != abi.ResultConflict|abi.ResultLoS || r.TIn != 0 {
			fail("in LoS now: want risk 1, flags Conflict|LoS, TIn 0")
		}
		checkTOut(s, v, r, fail)
	case v.clearNow && v.entered:
		out = outConflict
		if !(r.Risk >= 0.5 && r.Risk < 1) || r.Flags != abi.ResultConflict {
			fail("entry at %v inside the %v s window: want risk in [0.5, 1), flags Conflict", v.first, s.window)
		}
		// The entry lies between the sample before the first LoS sample and it.
		tol := 1e-6 * (1 + v.first)
		if !(r.TIn > v.first-bruteStep-tol && r.TIn <= v.first+tol) {
			fail("TIn = %v, sampled entry in (%v, %v]", r.TIn, v.first-bruteStep, v.first)
		}
		checkTOut(s, v, r, fail)
		// The risk value from the sampled entry and least horizontal distance.
		depth := 0.0
		if s.r > 0 {
			depth = math.Min(1, math.Max(0, 1-v.hmin/s.r))
		}
		want := 1 - 0.5*(v.first/p.Horizon)*(1-0.5*depth)
		tolR := 0.5*bruteStep/p.Horizon + 1e-9
		if s.r > 0 {
			tolR += 0.25 * s.speed * bruteStep / s.r
		}
		if math.Abs(r.Risk-want) > tolR {
			fail("risk = %v, sampled entry %v and least distance %v give %v (tol %v)",
				r.Risk, v.first, v.hmin, want, tolR)
		}
	case v.clear:
		out = outClear
		if !(r.Risk < p.MinRisk) || r.Risk > 0.5*p.MinRisk || r.Flags != 0 {
			fail("clear of the zone over the window: want risk <= MinRisk/2 and no flags")
		}
		// Risk 0.5*MinRisk/n², n the separation at TCA in zone units.
		hd, dz, _ := s.at(r.TCA)
		hn, vn := math.Inf(1), math.Inf(1) // no zone: never in LoS, risk 0
		if s.r > 0 {
			hn = hd / s.r
		}
		if s.v > 0 {
			vn = math.Abs(dz) / s.v
		}
		n := math.Max(1, math.Max(hn, vn))
		if want := 0.5 * p.MinRisk / (n * n); math.Abs(r.Risk-want) > 1e-6*want+1e-12 {
			fail("clear: risk = %v, separation at TCA (h %v, dz %v) gives %v", r.Risk, hd, dz, want)
		}
	}
	return out
}

// checkCPA compares TCA and DMin with the sampled distance.
func checkCPA(s relState, v bruteVerdict, r abi.Result, fail func(string, ...any)) {
	if r.TCA < 0 || r.TCA > s.window {
		fail("TCA = %v outside [0, %v]", r.TCA, s.window)
	}
	_, _, d := s.at(r.TCA)
	if math.Abs(d-r.DMin) > 1e-6*(1+d) {
		fail("DMin = %v, but the distance at TCA = %v is %v", r.DMin, r.TCA, d)
	}
	if r.DMin > v.dmin+1e-6*(1+v.dmin) || r.DMin < v.dmin-s.speed*bruteStep-1e-6*(1+v.dmin) {
		fail("DMin = %v, sampled least distance %v", r.DMin, v.dmin)
	}
}

// checkTOut compares TOut with the last sample in LoS.
func checkTOut(s relState, v bruteVerdict, r abi.Result, fail func(string, ...any)) {
	tol := 1e-6 * (1 + s.window)
	if v.sampledTOutAtLimit {
		if math.Abs(r.TOut-s.window) > tol {
			fail("TOut = %v, LoS lasts to the window's end %v", r.TOut, s.window)
		}
		return
	}
	if !(r.TOut >= v.last-tol && r.TOut <= v.last+bruteStep+tol) {
		fail("TOut = %v, sampled exit in [%v, %v)", r.TOut, v.last, v.last+bruteStep)
	}
}

// checkSane checks the invariants every result must meet.
func checkSane(t *testing.T, a, b *abi.Vehicle, p abi.Params, r abi.Result, fail func(string, ...any)) {
	t.Helper()
	w := math.Min(a.T, b.T) + p.Horizon - math.Max(a.T, b.T)
	for _, f := range []float64{r.Risk, r.TCA, r.DMin, r.TIn, r.TOut} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			fail("non-finite field")
			return
		}
	}
	if r.Risk < 0 || r.Risk > 1 {
		fail("risk outside [0, 1]")
	}
	if r.DMin < 0 {
		fail("negative DMin")
	}
	if r.TCA < 0 || r.TCA > math.Max(w, 0) {
		fail("TCA outside [0, max(W, 0)] with W = %v", w)
	}
	switch r.Flags {
	case 0:
		if r.TIn != -1 || r.TOut != -1 {
			fail("no conflict: want TIn = TOut = -1")
		}
		if p.MinRisk > 0 && !(r.Risk < p.MinRisk) {
			fail("no conflict: want risk < MinRisk")
		}
	case abi.ResultConflict:
		if !(r.TIn > 0 && r.TIn <= r.TOut && r.TOut <= w) {
			fail("conflict: want 0 < TIn <= TOut <= W = %v", w)
		}
		if !(r.Risk >= 0.5) {
			fail("conflict: want risk >= 0.5")
		}
	case abi.ResultConflict | abi.ResultLoS:
		if r.TIn != 0 || !(r.TOut >= 0 && r.TOut <= w) || r.Risk != 1 {
			fail("LoS: want TIn 0, 0 <= TOut <= W = %v, risk 1", w)
		}
	default:
		fail("unknown flags")
	}
}

// TestOutputSanity feeds degenerate inputs: zero and tiny velocities,
// identical positions, zero zones, speeds at the 1e-12 thresholds, far-apart
// state times, a zero horizon.
func TestOutputSanity(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pick := func(vals ...float64) float64 { return vals[rng.IntN(len(vals))] }
	vel := func() float64 {
		return pick(0, 0, 1e-6, -1e-6, 1e-7, 7.071067811865476e-7, rng.NormFloat64()*30, rng.NormFloat64()*1e-3)
	}
	pos := func() float64 { return pick(0, 0, 1, -1, rng.NormFloat64()*50, rng.NormFloat64()*5000) }
	zone := func() float32 { return float32(pick(0, 0, 1e-3, 1, 25, 50, 1852)) }
	for i := range 200000 {
		p := abi.Params{Horizon: pick(0, 1e-9, 1, 30, 120), MinRisk: pick(0.3, 1, 0.01)}
		var vs [2]abi.Vehicle
		for j := range vs {
			v := &vs[j]
			v.X, v.Y, v.Z = pos(), pos(), pos()
			v.VX, v.VY, v.VZ = vel(), vel(), vel()
			v.Alt, v.VRate = v.Z, v.VZ
			if rng.IntN(3) == 0 { // an altitude inconsistent with the frame
				v.Alt, v.VRate = pos(), vel()
			}
			v.T = t0 - pick(0, 0, 1e-6, 1, 29.999999, 30, 31, 1e4)
			v.HSep, v.VSep, v.Radius = zone(), zone(), zone()
		}
		if rng.IntN(4) == 0 { // identical states
			vs[1] = vs[0]
		}
		r := builtin.ScorePair(&vs[0], &vs[1], p)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Errorf("case %d: "+format+"\n A=%+v\n B=%+v\n params=%+v\n result=%+v",
				append(append([]any{i}, args...), vs[0], vs[1], p, r)...)
		}
		checkSane(t, &vs[0], &vs[1], p, r, fail)
		if t.Failed() {
			return
		}
	}
}

// TestDeterminism: the same input gives the same bits, in a batch, alone,
// in another order and from concurrent goroutines.
func TestDeterminism(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 0))
	vs, ps := randomBatch(rng, 2000, 4000, 30)
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	ref := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(context.Background(), p, vs, ps, ref); err != nil {
		t.Fatal(err)
	}
	// Reversed order, scored concurrently by four goroutines.
	rev := make([]abi.Pair, len(ps))
	for i, pr := range ps {
		rev[len(ps)-1-i] = pr
	}
	outs := make([][]abi.Result, 4)
	done := make(chan error)
	for g := range outs {
		outs[g] = make([]abi.Result, len(rev))
		go func() { done <- (builtin.Scorer{}).Score(context.Background(), p, vs, rev, outs[g]) }()
	}
	for range outs {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for i := range ps {
		alone := builtin.ScorePair(&vs[ps[i].A], &vs[ps[i].B], p)
		for g := range outs {
			if !sameBits(outs[g][len(ps)-1-i], ref[i]) || !sameBits(alone, ref[i]) {
				t.Fatalf("pair %d: batch %+v, reversed %+v, alone %+v", i, ref[i], outs[g][len(ps)-1-i], alone)
			}
		}
	}
}

func sameBits(x, y abi.Result) bool {
	b := math.Float64bits
	return b(x.Risk) == b(y.Risk) && b(x.TCA) == b(y.TCA) && b(x.DMin) == b(y.DMin) &&
		b(x.TIn) == b(y.TIn) && b(x.TOut) == b(y.TOut) && x.Flags == y.Flags
}

// TestRiskGrowsWithUrgency: the same encounter flown faster (every velocity
// scaled by k > 1, so entry comes at tin/k) scores strictly higher.
func TestRiskGrowsWithUrgency(t *testing.T) {
	checked := 0
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 0xface))
		for i := range 500 {
			p := abi.Params{Horizon: 30, MinRisk: 0.3}
			a, b := randomPair(rng, pairKinds[i%len(pairKinds)], p.Horizon)
			b.T = a.T // scaling velocities must not move the reference positions
			r := builtin.ScorePair(&a, &b, p)
			if r.Flags != abi.ResultConflict {
				continue
			}
			k := 1.05 + rng.Float64()*2
			fa, fb := scaleVelocity(a, k), scaleVelocity(b, k)
			r2 := builtin.ScorePair(&fa, &fb, p)
			checked++
			if r2.Flags&abi.ResultConflict == 0 || !(r2.Risk > r.Risk) || math.Abs(r2.TIn-r.TIn/k) > 1e-6*(1+r.TIn) {
				t.Errorf("seed %d pair %d: velocities x%v: risk %v -> %v, TIn %v -> %v (want higher, TIn/k)",
					seed, i, k, r.Risk, r2.Risk, r.TIn, r2.TIn)
			}
		}
	}
	if checked < 500 {
		t.Errorf("only %d conflicts checked", checked)
	}
}

func scaleVelocity(v abi.Vehicle, k float64) abi.Vehicle {
	v.VX, v.VY, v.VZ, v.VRate = v.VX*k, v.VY*k, v.VZ*k, v.VRate*k
	return v
}

// TestRiskGrowsWithDepth: with the entry time held fixed, a pass closer to the
// centre of the zone scores strictly higher; and outside the zone, a wider
// miss scores lower.
func TestRiskGrowsWithDepth(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range 2000 {
		z := zones[rng.IntN(3)]
		r := float64(z[0]) + 2*float64(z[2]) // same class: R = HSep + 2 Radius
		speed := 1 + rng.Float64()*300
		tin := 0.5 + rng.Float64()*25
		p := abi.Params{Horizon: 30, MinRisk: 0.3}
		prev := -1.0
		// Lateral offsets from just inside the zone to the centre line.
		for j := 19; j >= 0; j-- {
			y := r * float64(j) / 20
			x0 := math.Sqrt(r*r-y*y) + speed*tin // entry exactly at tin
			a := abi.Vehicle{T: t0, HSep: z[0], VSep: z[1], Radius: z[2]}
			b := a
			b.X, b.Y, b.VX = x0, y, -speed
			res := builtin.ScorePair(&a, &b, p)
			if res.Flags != abi.ResultConflict || math.Abs(res.TIn-tin) > 1e-6*(1+tin) {
				t.Fatalf("case %d offset %v of R = %v: want conflict at %v, got %+v", i, y, r, tin, res)
			}
			if !(res.Risk > prev) {
				t.Fatalf("case %d: offset %v of R = %v scores %v, not above the wider pass's %v", i, y, r, res.Risk, prev)
			}
			prev = res.Risk
		}
		// Misses outside the zone: wider scores lower.
		prev = 2.0
		for j := range 20 {
			y := r * (1.01 + float64(j)/5)
			a := abi.Vehicle{T: t0, HSep: z[0], VSep: z[1], Radius: z[2]}
			b := a
			b.X, b.Y, b.VX = speed*tin, y, -speed
			res := builtin.ScorePair(&a, &b, p)
			if res.Flags != 0 || !(res.Risk < prev) {
				t.Fatalf("case %d: miss at %v of R = %v: %+v, want no conflict below %v", i, y, r, res, prev)
			}
			prev = res.Risk
		}
	}
}

func TestScoreErrors(t *testing.T) {
	ctx := context.Background()
	vs := make([]abi.Vehicle, 2)
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	s := builtin.Scorer{}
	if err := s.Score(ctx, p, vs, []abi.Pair{{A: 0, B: 1}}, nil); !builtin.IsShortOutput(err) {
		t.Errorf("short results: %v", err)
	}
	var pe *builtin.PairIndexError
	err := s.Score(ctx, p, vs, []abi.Pair{{A: 0, B: 1}, {A: 1, B: 2}}, make([]abi.Result, 2))
	if !builtin.IsPairIndex(err) || !errors.As(err, &pe) || pe.Pair != 1 {
		t.Errorf("pair index: %v", err)
	}
	for _, bad := range []abi.Params{{Horizon: -1}, {Horizon: math.Copysign(0, -1)}, {Horizon: math.NaN()}, {Horizon: math.Inf(1)}, {Horizon: 1, MinRisk: math.NaN()}} {
		if err := s.Score(ctx, bad, vs, nil, nil); !builtin.IsParams(err) {
			t.Errorf("params %+v: %v", bad, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Score(cctx, p, vs, []abi.Pair{{A: 0, B: 1}}, make([]abi.Result, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	if m := s.Model(); m != (abi.ModelID{Name: "builtin-cpa", Version: "1.0.0", SHA256: "builtin"}) {
		t.Errorf("Model() = %+v", m)
	}
}

func TestScoreAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vs, ps := randomBatch(rng, 256, 512, 30)
	res := make([]abi.Result, len(ps))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	n := testing.AllocsPerRun(100, func() {
		if err := (builtin.Scorer{}).Score(ctx, p, vs, ps, res); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("Score allocates %v times per batch", n)
	}
}
