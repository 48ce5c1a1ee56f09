package builtin_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// tightCPA is the performance reference for Scorer.Score: the same scoring
// math (with the builtin min and max, as the scorer) written inline in one
// loop over the same vehicles and pairs, with no interface, no context, no
// validation and no function call per pair. The Scorer must stay within 2x of
// it (BenchmarkScore vs BenchmarkTightCPA, BenchmarkScoreVsTight);
// TestTightCPAMatchesScorer proves both compute the same bits.
func tightCPA(vs []abi.Vehicle, ps []abi.Pair, out []abi.Result, horizon, minRisk float64) {
	out = out[:len(ps)]
	for i := range ps {
		a, b := &vs[ps[i].A], &vs[ps[i].B]
		t := max(a.T, b.T)
		dtA, dtB := t-a.T, t-b.T
		w := min(a.T, b.T) + horizon - t
		dx := (b.X + float64(b.VX*dtB)) - (a.X + float64(a.VX*dtA))
		dy := (b.Y + float64(b.VY*dtB)) - (a.Y + float64(a.VY*dtA))
		dw := (b.Z + float64(b.VZ*dtB)) - (a.Z + float64(a.VZ*dtA))
		dz := (b.Alt + float64(b.VRate*dtB)) - (a.Alt + float64(a.VRate*dtA))
		vx, vy, vw, vz := b.VX-a.VX, b.VY-a.VY, b.VZ-a.VZ, b.VRate-a.VRate
		dd := float64(dx*dx) + float64(dy*dy) + float64(dw*dw)
		dv := float64(dx*vx) + float64(dy*vy) + float64(dw*vw)
		vv := float64(vx*vx) + float64(vy*vy) + float64(vw*vw)
		qa := max(0, vv-float64(vz*vz))
		qb := dv - float64(dz*vz)
		c0 := dd - float64(dz*dz)
		if w < 0 {
			out[i] = abi.Result{DMin: math.Sqrt(dd), TIn: -1, TOut: -1}
			continue
		}
		tca := 0.0
		if vv > 1e-12 {
			tca = min(max(-dv/vv, 0), w)
		}
		ex, ey, ew := dx+float64(vx*tca), dy+float64(vy*tca), dw+float64(vw*tca)
		dmin := math.Sqrt(float64(ex*ex) + float64(ey*ey) + float64(ew*ew))
		rA, rB := float64(a.Radius), float64(b.Radius)
		zr := max(float64(a.HSep), float64(b.HSep)) + rA + rB
		zv := max(float64(a.VSep), float64(b.VSep)) + rA + rB
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
		v1, v2 := math.Inf(-1), math.Inf(1)
		if math.Abs(vz) <= 1e-12 {
			open = open && math.Abs(dz) < zv
		} else {
			t1, t2 := (-zv-dz)/vz, (zv-dz)/vz
			v1, v2 = min(t1, t2), max(t1, t2)
		}
		tin, tout := max(h1, v1), min(h2, v2)
		if open && tin < tout && tout > 0 && tin <= w {
			end := min(tout, w)
			if tin <= 0 {
				out[i] = abi.Result{Risk: 1, TCA: tca, DMin: dmin, TIn: 0, TOut: end, Flags: abi.ResultConflict | abi.ResultLoS}
				continue
			}
			th := tin
			if qa > 1e-12 {
				th = min(max(-qb/qa, tin), end)
			}
			hmin := math.Sqrt(max(0, c0+float64(2*qb*th)+float64(qa*th*th)))
			depth := 0.0
			if zr > 0 {
				depth = min(max(1-hmin/zr, 0), 1)
			}
			out[i] = abi.Result{Risk: 1 - float64(0.5*(tin/horizon)*(1-float64(0.5*depth))), TCA: tca, DMin: dmin,
				TIn: tin, TOut: end, Flags: abi.ResultConflict}
			continue
		}
		hn, vn := math.Inf(1), math.Inf(1)
		if zr > 0 {
			hn = math.Sqrt(max(0, c0+float64(2*qb*tca)+float64(qa*tca*tca))) / zr
		}
		if zv > 0 {
			vn = math.Abs(dz+float64(vz*tca)) / zv
		}
		n := max(max(hn, vn), 1)
		out[i] = abi.Result{Risk: 0.5 * minRisk / (n * n), TCA: tca, DMin: dmin, TIn: -1, TOut: -1}
	}
}

func TestTightCPAMatchesScorer(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 0))
	vs, ps := randomBatch(rng, 5000, 20000, 30)
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	got := make([]abi.Result, len(ps))
	want := make([]abi.Result, len(ps))
	if err := (builtin.Scorer{}).Score(context.Background(), p, vs, ps, got); err != nil {
		t.Fatal(err)
	}
	tightCPA(vs, ps, want, p.Horizon, p.MinRisk)
	for i := range ps {
		if !sameBits(got[i], want[i]) {
			t.Fatalf("pair %d: Scorer %+v, tight loop %+v", i, got[i], want[i])
		}
	}
}

var batchSizes = []int{64, 1024, 16384}

func benchBatch(np int) ([]abi.Vehicle, []abi.Pair, []abi.Result) {
	rng := rand.New(rand.NewPCG(uint64(np), 1))
	vs, ps := randomBatch(rng, max(np, 64), np, 30)
	return vs, ps, make([]abi.Result, np)
}

// BenchmarkScore measures the builtin Scorer per scored pair, scoring one
// batch repeatedly (see BenchmarkScoreVsTight for fresh batches). Like every
// benchmark here it reports thread CPU time on Linux (cpu-ns/pair), which a
// loaded machine does not inflate; ns/op stays wall time.
func BenchmarkScore(b *testing.B) {
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	ctx := context.Background()
	for _, np := range batchSizes {
		b.Run(fmt.Sprintf("pairs=%d", np), func(b *testing.B) {
			vs, ps, res := benchBatch(np)
			var s abi.Scorer = builtin.Scorer{} // through the interface, as the engine calls it
			defer lockThread()()
			b.ReportAllocs()
			b.ResetTimer()
			start := threadCPU()
			for range b.N {
				if err := s.Score(ctx, p, vs, ps, res); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((threadCPU()-start).Nanoseconds())/float64(b.N*np), cpuClock+"-ns/pair")
		})
	}
}

// BenchmarkTightCPA measures the inline reference loop on the same batches.
func BenchmarkTightCPA(b *testing.B) {
	for _, np := range batchSizes {
		b.Run(fmt.Sprintf("pairs=%d", np), func(b *testing.B) {
			vs, ps, res := benchBatch(np)
			defer lockThread()()
			b.ReportAllocs()
			b.ResetTimer()
			start := threadCPU()
			for range b.N {
				tightCPA(vs, ps, res, 30, 0.3)
			}
			b.ReportMetric(float64((threadCPU()-start).Nanoseconds())/float64(b.N*np), cpuClock+"-ns/pair")
		})
	}
}

// BenchmarkPredict measures the builtin Predictor per vehicle, with and
// without trajectory samples.
func BenchmarkPredict(b *testing.B) {
	const nv = 4096
	rng := rand.New(rand.NewPCG(9, 9))
	vs := make([]abi.Vehicle, nv)
	for i := range vs {
		vs[i] = randomState(rng, 30)
	}
	boxes := make([]abi.Box, nv)
	samples := make([]abi.Point, nv*10)
	ctx := context.Background()
	for _, ns := range []uint32{0, 10} {
		b.Run(fmt.Sprintf("vehicles=%d/samples=%d", nv, ns), func(b *testing.B) {
			var pr abi.Predictor = builtin.Predictor{}
			p := abi.Params{Horizon: 30, MinRisk: 0.3, Samples: ns}
			defer lockThread()()
			b.ReportAllocs()
			b.ResetTimer()
			start := threadCPU()
			for range b.N {
				if err := pr.Predict(ctx, p, vs, boxes, samples); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((threadCPU()-start).Nanoseconds())/float64(b.N*nv), cpuClock+"-ns/vehicle")
		})
	}
}

// BenchmarkScoreVsTight runs Scorer.Score and the inline reference loop
// alternately on the same batches and reports both costs per pair and their
// ratio. It times with the thread's CPU clock on Linux, so the comparison
// holds on a loaded machine (time spent waiting for a CPU is not counted).
//
// "repeat" scores one batch over and over, as BenchmarkScore does: the CPU's
// branch predictor learns a small batch's outcomes by heart, which flatters
// 64 and 1024 pairs. "fresh" cycles through 65536 different pairs over a
// 4096-vehicle table (512 KiB, cache-resident), so that every batch is new to
// the predictor, as in the engine: its ns/pair is the cost to plan with.
func BenchmarkScoreVsTight(b *testing.B) {
	p := abi.Params{Horizon: 30, MinRisk: 0.3}
	ctx := context.Background()
	for _, np := range batchSizes {
		for _, mode := range []string{"repeat", "fresh"} {
			b.Run(fmt.Sprintf("pairs=%d/%s", np, mode), func(b *testing.B) {
				var vs []abi.Vehicle
				var batches [][]abi.Pair
				if mode == "repeat" {
					var ps []abi.Pair
					vs, ps, _ = benchBatch(np)
					batches = [][]abi.Pair{ps}
				} else {
					var all []abi.Pair
					vs, all = randomBatch(rand.New(rand.NewPCG(uint64(np), 2)), 4096, 65536, 30)
					for i := 0; i+np <= len(all); i += np {
						batches = append(batches, all[i:i+np])
					}
				}
				res := make([]abi.Result, np)
				var s abi.Scorer = builtin.Scorer{}
				reps := max(1, 16384/np) // time blocks of at least 16384 pairs
				var ts, tt time.Duration
				k := 0
				defer lockThread()()
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					k0 := k
					start := threadCPU()
					for range reps {
						if err := s.Score(ctx, p, vs, batches[k%len(batches)], res); err != nil {
							b.Fatal(err)
						}
						k++
					}
					mid := threadCPU()
					for j := range reps {
						tightCPA(vs, batches[(k0+j)%len(batches)], res, p.Horizon, p.MinRisk)
					}
					ts += mid - start
					tt += threadCPU() - mid
				}
				n := float64(b.N * reps * np)
				b.ReportMetric(float64(ts.Nanoseconds())/n, "scorer-"+cpuClock+"-ns/pair")
				b.ReportMetric(float64(tt.Nanoseconds())/n, "tight-"+cpuClock+"-ns/pair")
				b.ReportMetric(float64(ts)/float64(tt), "ratio")
			})
		}
	}
}
