package builtin

import (
	"context"
	"fmt"
	"math"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Identity of the builtin scorer.
const (
	// ScorerName is the ModelID name of Scorer.
	ScorerName = "builtin-cpa"
	// ScorerVersion is the ModelID version of Scorer. It changes whenever a
	// result of ScorePair could change by one bit.
	ScorerVersion = "1.0.0"
	// BuiltinSHA256 stands in ModelID.SHA256 for the native models, which have
	// no Wasm module to hash.
	BuiltinSHA256 = "builtin"
)

// eps is the threshold below which a squared speed or a vertical rate counts
// as zero (1e-12 in the specification).
const eps = 1e-12

// Scorer is the builtin closest-point-of-approach scorer: every pair is scored
// by ScorePair. The zero value is ready to use and safe for concurrent use.
type Scorer struct{}

// Model returns {ScorerName, ScorerVersion, BuiltinSHA256}.
func (Scorer) Model() abi.ModelID {
	return abi.ModelID{Name: ScorerName, Version: ScorerVersion, SHA256: BuiltinSHA256}
}

// Score writes ScorePair(&vehicles[pairs[i].A], &vehicles[pairs[i].B], p) to
// results[i] for every pair. It checks ctx once, before the batch, and does
// not allocate. It fails with a *ParamsError when p.Horizon is negative (or
// -0) or not finite or p.MinRisk is not finite, a *ShortOutputError when results is
// shorter than pairs, and a *PairIndexError at the first pair that indexes
// outside vehicles; after an error the contents of results are unspecified.
func (Scorer) Score(ctx context.Context, p abi.Params, vehicles []abi.Vehicle, pairs []abi.Pair, results []abi.Result) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("builtin: score: %w", err)
	}
	if err := checkParams(p); err != nil {
		return err
	}
	if len(results) < len(pairs) {
		return &ShortOutputError{Slice: "results", Have: len(results), Need: len(pairs)}
	}
	// Reslicing lets the compiler drop the bounds check on results[i]; the
	// explicit index test below drops the ones on vehicles[pr.A] and [pr.B].
	results = results[:len(pairs)]
	n := uint64(len(vehicles))
	for i := range pairs {
		pr := &pairs[i]
		if uint64(pr.A) >= n || uint64(pr.B) >= n {
			return &PairIndexError{Pair: i, A: pr.A, B: pr.B, Vehicles: len(vehicles)}
		}
		scoreInto(&results[i], &vehicles[pr.A], &vehicles[pr.B], p.Horizon, p.MinRisk)
	}
	return nil
}

// checkParams refuses the parameters under which the scorer has no meaning.
func checkParams(p abi.Params) error {
	if err := checkHorizon(p.Horizon); err != nil {
		return err
	}
	if math.IsNaN(p.MinRisk) || math.IsInf(p.MinRisk, 0) {
		return &ParamsError{Field: "MinRisk", Value: p.MinRisk}
	}
	return nil
}

// checkHorizon refuses a negative, -0, NaN or infinite horizon. -0 goes with
// the negatives: it is the one horizon for which the builtin min and max and
// the specification's would differ in the sign of a zero TCA or TOut (see
// clamp).
func checkHorizon(h float64) error {
	if !(h >= 0) || math.Signbit(h) || math.IsInf(h, 1) {
		return &ParamsError{Field: "Horizon", Value: h}
	}
	return nil
}

// ScorePair scores one pair by the builtin scoring semantics (abi/SPEC.md,
// section 5.4). It is the reference that the C, Go (Wasm),
// AssemblyScript and Rust CPA examples mirror bit for bit, so its body
// (scoreInto, which writes through a pointer so that the batch loop stores
// results in place: 4-15% faster than returning them) is one straight
// function whose operations a port copies in the same order.
//
// Notation. All arithmetic is IEEE-754 binary64 with round-to-nearest-even;
// float32 fields are widened to float64 first. Expressions evaluate left to
// right as written ("x + y + z" is (x + y) + z; "a*t*t" is (a*t)*t) and no
// multiply-add is fused (Go: an explicit float64() around each product that
// is added; C: -ffp-contract=off; Wasm has no fused multiply-add). u.w is
// u.x*w.x + u.y*w.y + u.z*w.z; |u| is sqrt(u.u);
// max(x, y) = x > y ? x : y; min(x, y) = x < y ? x : y;
// clamp(x, lo, hi) = min(max(x, lo), hi); sqrt is the correctly rounded square
// root; abs clears the sign bit. H = p.Horizon, m = p.MinRisk. (The Go code
// uses the builtin min and max, which are branch-free and give the same bits
// here; see RATIONALE.md.)
//
//	1: T = max(A.T, B.T); dtA = T - A.T; dtB = T - B.T
//	   pA = (A.X + A.VX*dtA, A.Y + A.VY*dtA, A.Z + A.VZ*dtA); altA = A.Alt + A.VRate*dtA
//	   pB, altB likewise (the scorer ignores acceleration)
//	2: W = min(A.T, B.T) + H - T
//	3: d = pB - pA (per component); v = (B.VX - A.VX, B.VY - A.VY, B.VZ - A.VZ)
//	   dz = altB - altA; vz = B.VRate - A.VRate
//	   a = max(0, v.v - vz*vz); b = d.v - dz*vz; c0 = d.d - dz*dz
//	   (horizontal distance h(t) = sqrt(max(0, c0 + 2*b*t + a*t*t)))
//	   if W < 0: {Risk 0, TCA 0, DMin sqrt(d.d), TIn -1, TOut -1, Flags 0}, done
//	   tca = v.v > 1e-12 ? clamp(-(d.v) / v.v, 0, W) : 0
//	   e = (d.x + v.x*tca, d.y + v.y*tca, d.z + v.z*tca); DMin = sqrt(e.e)
//	4: R = max(A.HSep, B.HSep) + A.Radius + B.Radius
//	   V = max(A.VSep, B.VSep) + A.Radius + B.Radius
//	5: horizontal window (h < R): c = c0 - R*R
//	     a <= 1e-12: c < 0 ? (-Inf, +Inf) : empty
//	     else: disc = b*b - a*c; disc <= 0 ? empty :
//	           s = sqrt(disc); h1 = (-b - s) / a; h2 = (-b + s) / a
//	   vertical window (abs(dz + vz*t) < V):
//	     abs(vz) <= 1e-12: abs(dz) < V ? (-Inf, +Inf) : empty
//	     else: t1 = (-V - dz) / vz; t2 = (V - dz) / vz; v1 = min(t1, t2); v2 = max(t1, t2)
//	   tin = max(h1, v1); tout = min(h2, v2)
//	   conflict iff neither window is empty and tin < tout and tout > 0 and tin <= W
//	6: conflict, tin <= 0 (loss of separation now):
//	     {Risk 1, TIn 0, TOut min(tout, W), Flags Conflict|LoS}
//	   conflict, tin > 0:
//	     u = tin / H
//	     th = a > 1e-12 ? clamp(-b / a, tin, min(tout, W)) : tin
//	     hmin = sqrt(max(0, c0 + 2*b*th + a*th*th))
//	     depth = R > 0 ? clamp(1 - hmin / R, 0, 1) : 0
//	     {Risk 1 - 0.5*u*(1 - 0.5*depth), TIn tin, TOut min(tout, W), Flags Conflict}
//	   no conflict:
//	     hn = R > 0 ? sqrt(max(0, c0 + 2*b*tca + a*tca*tca)) / R : +Inf
//	     vn = V > 0 ? abs(dz + vz*tca) / V : +Inf
//	     n = max(max(hn, vn), 1)
//	     {Risk 0.5*m / (n*n), TIn -1, TOut -1, Flags 0}
//	   TCA and DMin are those of step 3 in every case.
//
// The result is a pure function of its inputs: no state, no allocation.
func ScorePair(a, b *abi.Vehicle, p abi.Params) abi.Result {
	var r abi.Result
	scoreInto(&r, a, b, p.Horizon, p.MinRisk)
	return r
}

// scoreInto is ScorePair writing through a pointer, so that the batch loop
// stores each result in place instead of copying it out of a return value.
func scoreInto(r *abi.Result, a, b *abi.Vehicle, horizon, minRisk float64) {
	// 1. Reference time; propagate both states to it.
	t := max(a.T, b.T)
	dtA := t - a.T
	dtB := t - b.T
	// 2. Window.
	w := min(a.T, b.T) + horizon - t
	// 3. Relative motion, B minus A.
	dx := (b.X + float64(b.VX*dtB)) - (a.X + float64(a.VX*dtA))
	dy := (b.Y + float64(b.VY*dtB)) - (a.Y + float64(a.VY*dtA))
	dw := (b.Z + float64(b.VZ*dtB)) - (a.Z + float64(a.VZ*dtA))
	dz := (b.Alt + float64(b.VRate*dtB)) - (a.Alt + float64(a.VRate*dtA))
	vx := b.VX - a.VX
	vy := b.VY - a.VY
	vw := b.VZ - a.VZ
	vz := b.VRate - a.VRate
	dd := float64(dx*dx) + float64(dy*dy) + float64(dw*dw)
	dv := float64(dx*vx) + float64(dy*vy) + float64(dw*vw)
	vv := float64(vx*vx) + float64(vy*vy) + float64(vw*vw)
	qa := max(0, vv-float64(vz*vz))
	qb := dv - float64(dz*vz)
	c0 := dd - float64(dz*dz)
	if w < 0 {
		*r = abi.Result{Risk: 0, TCA: 0, DMin: math.Sqrt(dd), TIn: -1, TOut: -1}
		return
	}
	tca := 0.0
	if vv > eps {
		tca = clamp(-dv/vv, 0, w)
	}
	ex := dx + float64(vx*tca)
	ey := dy + float64(vy*tca)
	ew := dw + float64(vw*tca)
	dmin := math.Sqrt(float64(ex*ex) + float64(ey*ey) + float64(ew*ew))

	// 4. Protected zone of the pair.
	rA := float64(a.Radius)
	rB := float64(b.Radius)
	zr := max(float64(a.HSep), float64(b.HSep)) + rA + rB
	zv := max(float64(a.VSep), float64(b.VSep)) + rA + rB

	// 5. Loss-of-separation windows.
	open := true
	h1, h2 := math.Inf(-1), math.Inf(1)
	c := c0 - float64(zr*zr)
	if qa <= eps {
		open = c < 0
	} else {
		disc := float64(qb*qb) - float64(qa*c)
		if disc <= 0 {
			open = false
		} else {
			s := math.Sqrt(disc)
			h1 = (-qb - s) / qa
			h2 = (-qb + s) / qa
		}
	}
	v1, v2 := math.Inf(-1), math.Inf(1)
	if math.Abs(vz) <= eps {
		open = open && math.Abs(dz) < zv
	} else {
		t1 := (-zv - dz) / vz
		t2 := (zv - dz) / vz
		v1 = min(t1, t2)
		v2 = max(t1, t2)
	}
	tin := max(h1, v1)
	tout := min(h2, v2)

	// 6. Risk.
	if open && tin < tout && tout > 0 && tin <= w {
		end := min(tout, w)
		if tin <= 0 {
			*r = abi.Result{Risk: 1, TCA: tca, DMin: dmin, TIn: 0, TOut: end,
				Flags: abi.ResultConflict | abi.ResultLoS}
			return
		}
		u := tin / horizon
		th := tin
		if qa > eps {
			th = clamp(-qb/qa, tin, end)
		}
		hmin := math.Sqrt(max(0, c0+float64(2*qb*th)+float64(qa*th*th)))
		depth := 0.0
		if zr > 0 {
			depth = clamp(1-hmin/zr, 0, 1)
		}
		risk := 1 - float64(0.5*u*(1-float64(0.5*depth)))
		*r = abi.Result{Risk: risk, TCA: tca, DMin: dmin, TIn: tin, TOut: end,
			Flags: abi.ResultConflict}
		return
	}
	hn := math.Inf(1)
	if zr > 0 {
		hn = math.Sqrt(max(0, c0+float64(2*qb*tca)+float64(qa*tca*tca))) / zr
	}
	vn := math.Inf(1)
	if zv > 0 {
		vn = math.Abs(dz+float64(vz*tca)) / zv
	}
	n := max(max(hn, vn), 1)
	*r = abi.Result{Risk: 0.5 * minRisk / (n * n), TCA: tca, DMin: dmin, TIn: -1, TOut: -1}
}

// clamp is the specification's clamp(x, lo, hi) = min(max(x, lo), hi).
//
// The scorer uses Go's builtin min and max, which compile to branch-free
// MINSD/MAXSD sequences: the specification's min and max are compare-and-
// branch, and on fresh batches those branches are coin flips (the builtins
// score about 23% faster; see RATIONALE.md). The builtins differ from the
// specification's x > y ? x : y only for a NaN operand, which finite inputs
// cannot produce (every division is guarded; squares of engine-frame values
// stay finite), and for the sign of a zero, which reaches an output (TCA,
// TOut) only through a horizon of -0, which Score refuses;
// TestScorerMatchesSpecLiteral checks the equivalence bit for bit.
func clamp(x, lo, hi float64) float64 { return min(max(x, lo), hi) }

var _ abi.Scorer = Scorer{}
