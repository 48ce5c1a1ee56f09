package builtin_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// specCPA is the specification (abi/SPEC.md 5.4) written literally: every
// min, max and clamp is the specification's compare-and-select
// (x > y ? x : y), independently of the scorer's code. The scorer, which uses
// Go's builtin min and max, must match it bit for bit.
func specCPA(vs []abi.Vehicle, ps []abi.Pair, out []abi.Result, horizon, minRisk float64) {
	out = out[:len(ps)]
	for i := range ps {
		a, b := &vs[ps[i].A], &vs[ps[i].B]
		t, tmin := a.T, b.T
		if b.T > a.T {
			t, tmin = b.T, a.T
		}
		dtA, dtB := t-a.T, t-b.T
		w := tmin + horizon - t
		dx := (b.X + float64(b.VX*dtB)) - (a.X + float64(a.VX*dtA))
		dy := (b.Y + float64(b.VY*dtB)) - (a.Y + float64(a.VY*dtA))
		dw := (b.Z + float64(b.VZ*dtB)) - (a.Z + float64(a.VZ*dtA))
		dz := (b.Alt + float64(b.VRate*dtB)) - (a.Alt + float64(a.VRate*dtA))
		vx, vy, vw, vz := b.VX-a.VX, b.VY-a.VY, b.VZ-a.VZ, b.VRate-a.VRate
		dd := float64(dx*dx) + float64(dy*dy) + float64(dw*dw)
		dv := float64(dx*vx) + float64(dy*vy) + float64(dw*vw)
		vv := float64(vx*vx) + float64(vy*vy) + float64(vw*vw)
		qa := vv - float64(vz*vz)
		if !(qa > 0) {
			qa = 0
		}
		qb := dv - float64(dz*vz)
		c0 := dd - float64(dz*dz)
		if w < 0 {
			out[i] = abi.Result{DMin: math.Sqrt(dd), TIn: -1, TOut: -1}
			continue
		}
		tca := 0.0
		if vv > 1e-12 {
			tca = -dv / vv
			if !(tca > 0) {
				tca = 0
			}
			if tca > w {
				tca = w
			}
		}
		ex, ey, ew := dx+float64(vx*tca), dy+float64(vy*tca), dw+float64(vw*tca)
		dmin := math.Sqrt(float64(ex*ex) + float64(ey*ey) + float64(ew*ew))
		rA, rB := float64(a.Radius), float64(b.Radius)
		hs, vsp := a.HSep, a.VSep
		if b.HSep > hs {
			hs = b.HSep
		}
		if b.VSep > vsp {
			vsp = b.VSep
		}
		zr := float64(hs) + rA + rB
		zv := float64(vsp) + rA + rB
		open := true
		h1, h2 := math.Inf(-1), math.Inf(1)
		c := c0 - float64(zr*zr)
		if qa <= 1e-12 {
			open = c < 0
		} else if disc := float64(qb*qb) - float64(qa*c); disc <= 0 {
			open = false
		} else {
			s := math.Sqrt(disc)
			h1, h2 = (-qb-s)/qa, (-qb+s)/qa
		}
		tin, tout := h1, h2
		if math.Abs(vz) <= 1e-12 {
			open = open && math.Abs(dz) < zv
		} else {
			t1, t2 := (-zv-dz)/vz, (zv-dz)/vz
			if t1 > t2 {
				t1, t2 = t2, t1
			}
			if t1 > tin {
				tin = t1
			}
			if t2 < tout {
				tout = t2
			}
		}
		if open && tin < tout && tout > 0 && tin <= w {
			end := tout
			if w < end {
				end = w
			}
			if tin <= 0 {
				out[i] = abi.Result{Risk: 1, TCA: tca, DMin: dmin, TIn: 0, TOut: end, Flags: abi.ResultConflict | abi.ResultLoS}
				continue
			}
			th := tin
			if qa > 1e-12 {
				th = -qb / qa
				if !(th > tin) {
					th = tin
				}
				if th > end {
					th = end
				}
			}
			hm := c0 + float64(2*qb*th) + float64(qa*th*th)
			if !(hm > 0) {
				hm = 0
			}
			depth := 0.0
			if zr > 0 {
				depth = 1 - math.Sqrt(hm)/zr
				if !(depth > 0) {
					depth = 0
				}
				if depth > 1 {
					depth = 1
				}
			}
			out[i] = abi.Result{Risk: 1 - float64(0.5*(tin/horizon)*(1-float64(0.5*depth))), TCA: tca, DMin: dmin,
				TIn: tin, TOut: end, Flags: abi.ResultConflict}
			continue
		}
		n := 1.0
		if zr > 0 {
			hm := c0 + float64(2*qb*tca) + float64(qa*tca*tca)
			if !(hm > 0) {
				hm = 0
			}
			n = math.Sqrt(hm) / zr
		} else {
			n = math.Inf(1)
		}
		if zv > 0 {
			if vn := math.Abs(dz+float64(vz*tca)) / zv; vn > n {
				n = vn
			}
		} else {
			n = math.Inf(1)
		}
		if !(n > 1) {
			n = 1
		}
		out[i] = abi.Result{Risk: 0.5 * minRisk / (n * n), TCA: tca, DMin: dmin, TIn: -1, TOut: -1}
	}
}

// TestScorerMatchesSpecLiteral: the scorer (builtin min and max) and the
// literal specification (compare-and-select) give the same bits, on realistic
// batches and on inputs made of signed zeros, ones and tiny values, where the
// two definitions of min and max disagree on the sign of zeros.
func TestScorerMatchesSpecLiteral(t *testing.T) {
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	check := func(name string, vs []abi.Vehicle, ps []abi.Pair, p abi.Params) {
		t.Helper()
		got := make([]abi.Result, len(ps))
		want := make([]abi.Result, len(ps))
		if err := (builtin.Scorer{}).Score(context.Background(), p, vs, ps, got); err != nil {
			t.Fatal(err)
		}
		specCPA(vs, ps, want, p.Horizon, p.MinRisk)
		for i := range ps {
			if !sameBits(got[i], want[i]) {
				t.Fatalf("%s pair %d: scorer %+v, specification %+v\n A=%+v\n B=%+v",
					name, i, got[i], want[i], vs[ps[i].A], vs[ps[i].B])
			}
		}
	}
	rng := rand.New(rand.NewPCG(31, 0))
	vs, ps := randomBatch(rng, 5000, 20000, 30)
	check("random", vs, ps, p)

	negZero := math.Copysign(0, -1)
	pick := func(vals ...float64) float64 { return vals[rng.IntN(len(vals))] }
	num := func() float64 { return pick(0, negZero, 0, negZero, 1, -1, 0.5, 1e-7, -1e-6) }
	zone := func() float32 { return float32(pick(0, negZero, 0, 1, 2)) }
	vs = make([]abi.Vehicle, 20000)
	for i := range vs {
		v := &vs[i]
		v.X, v.Y, v.Z, v.VX, v.VY, v.VZ = num(), num(), num(), num(), num(), num()
		v.Alt, v.VRate, v.T = num(), num(), pick(0, negZero, 1, 0.5)
		v.HSep, v.VSep, v.Radius = zone(), zone(), zone()
	}
	ps = make([]abi.Pair, 100000)
	for i := range ps {
		ps[i] = abi.Pair{A: uint32(rng.IntN(len(vs))), B: uint32(rng.IntN(len(vs)))}
	}
	for _, h := range []float64{0, 1e-300, 1, 30} { // -0 is refused (checkHorizon)
		check("zeros", vs, ps, abi.Params{Horizon: h, MinRisk: 0.3})
	}
}
