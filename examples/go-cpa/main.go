//go:build wasip1

// Command go-cpa is the builtin closest-point-of-approach scorer
// (builtin.ScorePair) as a Go Wasm plugin, operation for operation, so its
// results are bit-identical to the host's.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o cpa.wasm .
package main

import (
	"math"

	cdp "github.com/collision-detection-platform/distributed-platform/sdk/go"
)

func init() {
	cdp.Register(cdp.Plugin{
		Manifest: cdp.Manifest{
			Name:           "cpa-go",
			Version:        "1.0.0",
			Description:    "closest point of approach, the builtin scorer ported to the Go SDK",
			MatchesBuiltin: true,
		},
		Score: score,
	})
}

func main() {}

const eps = 1e-12

var (
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

// fmax, fmin, fclamp are the specification's comparisons (math.Max and
// math.Min are calls in Go's wasm output and treat -0 and NaN differently).
func fmax(x, y float64) float64 {
	if x > y {
		return x
	}
	return y
}

func fmin(x, y float64) float64 {
	if x < y {
		return x
	}
	return y
}

func fclamp(x, lo, hi float64) float64 { return fmin(fmax(x, lo), hi) }

func score(pr *cdp.Pair) cdp.Result {
	a, b, p := pr.A, pr.B, pr.Params
	// 1. Reference time; propagate both states to it.
	t := fmax(a.T, b.T)
	dtA := t - a.T
	dtB := t - b.T
	// 2. Window.
	w := fmin(a.T, b.T) + p.Horizon - t
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
	qa := fmax(0, vv-float64(vz*vz))
	qb := dv - float64(dz*vz)
	c0 := dd - float64(dz*dz)
	if w < 0 {
		return cdp.Result{Risk: 0, TCA: 0, DMin: math.Sqrt(dd), TIn: -1, TOut: -1}
	}
	tca := 0.0
	if vv > eps {
		tca = fclamp(-dv/vv, 0, w)
	}
	ex := dx + float64(vx*tca)
	ey := dy + float64(vy*tca)
	ew := dw + float64(vw*tca)
	dmin := math.Sqrt(float64(ex*ex) + float64(ey*ey) + float64(ew*ew))

	// 4. Protected zone of the pair.
	rA := float64(a.Radius)
	rB := float64(b.Radius)
	zr := fmax(float64(a.HSep), float64(b.HSep)) + rA + rB
	zv := fmax(float64(a.VSep), float64(b.VSep)) + rA + rB

	// 5. Loss-of-separation windows.
	open := true
	h1, h2 := negInf, posInf
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
	v1, v2 := negInf, posInf
	if math.Abs(vz) <= eps {
		open = open && math.Abs(dz) < zv
	} else {
		t1 := (-zv - dz) / vz
		t2 := (zv - dz) / vz
		v1 = fmin(t1, t2)
		v2 = fmax(t1, t2)
	}
	tin := fmax(h1, v1)
	tout := fmin(h2, v2)

	// 6. Risk.
	if open && tin < tout && tout > 0 && tin <= w {
		end := fmin(tout, w)
		if tin <= 0 {
			return cdp.Result{Risk: 1, TCA: tca, DMin: dmin, TIn: 0, TOut: end,
				Flags: cdp.ResultConflict | cdp.ResultLoS}
		}
		u := tin / p.Horizon
		th := tin
		if qa > eps {
			th = fclamp(-qb/qa, tin, end)
		}
		hmin := math.Sqrt(fmax(0, c0+float64(2*qb*th)+float64(qa*th*th)))
		depth := 0.0
		if zr > 0 {
			depth = fclamp(1-hmin/zr, 0, 1)
		}
		risk := 1 - float64(0.5*u*(1-float64(0.5*depth)))
		return cdp.Result{Risk: risk, TCA: tca, DMin: dmin, TIn: tin, TOut: end, Flags: cdp.ResultConflict}
	}
	hn := posInf
	if zr > 0 {
		hn = math.Sqrt(fmax(0, c0+float64(2*qb*tca)+float64(qa*tca*tca))) / zr
	}
	vn := posInf
	if zv > 0 {
		vn = math.Abs(dz+float64(vz*tca)) / zv
	}
	n := fmax(fmax(hn, vn), 1)
	return cdp.Result{Risk: 0.5 * p.MinRisk / (n * n), TCA: tca, DMin: dmin, TIn: -1, TOut: -1}
}
