package builtin_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// TestSweptBoxesCoverConflicts checks, at the model level, the engine's
// no-missed-conflict rule: with the host's growth (sqrt2*Radius +
// max_distance/2 on every side, max_distance >= sqrt(HSep² + VSep²) for every
// class), the swept boxes of every pair that the scorer reports (risk >=
// MinRisk) overlap, whatever the accelerations, tilts and state times.
func TestSweptBoxesCoverConflicts(t *testing.T) {
	maxDist := 0.0
	for _, z := range zones {
		maxDist = math.Max(maxDist, math.Hypot(float64(z[0]), float64(z[1])))
	}
	swept := func(v *abi.Vehicle, h float64) abi.Box {
		return builtin.TrajectoryBox(v, h).Grow(math.Sqrt2*float64(v.Radius) + maxDist/2)
	}
	reported := 0
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 0x5ee7))
		for i := range 3000 {
			h := 5 + rng.Float64()*55
			p := abi.Params{Horizon: h, MinRisk: 0.05 + rng.Float64()*0.9}
			a, b := randomPair(rng, pairKinds[i%len(pairKinds)], h)
			if rng.IntN(3) == 0 { // B brakes, turns or climbs: the scorer does not know
				b.AX, b.AY, b.AZ = rng.NormFloat64()*5, rng.NormFloat64()*5, rng.NormFloat64()
				b.Flags |= abi.FlagHasAccel
			}
			r := builtin.ScorePair(&a, &b, p)
			if r.Risk < p.MinRisk {
				continue
			}
			reported++
			if ba, bb := swept(&a, h), swept(&b, h); !ba.Overlaps(bb) {
				t.Fatalf("seed %d pair %d: reported (%+v) but swept boxes do not overlap:\n A=%+v\n B=%+v\n boxes %+v %+v",
					seed, i, r, a, b, ba, bb)
			}
		}
	}
	if reported < 3000 {
		t.Errorf("only %d reported pairs checked", reported)
	}
}
