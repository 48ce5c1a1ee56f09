package plugins

import (
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

// TestImplausibleBoxesFail: a predictor whose boxes are finite and hold
// the vehicle and its samples, but reach farther than the horizon times a
// plausible speed (+-1e30 m, a hemisphere), fails every batch as malformed:
// the builtin predicts instead, the failure is counted, and conformance
// refuses it. A tight box passes.
func TestImplausibleBoxesFail(t *testing.T) {
	vs, _ := traffic(3, 64, 1, 3000)
	prm := abi.Params{Horizon: 30, Samples: 6}
	r := mustRuntime(t)
	for _, c := range []struct {
		name string
		half float64
		fail bool
	}{{"tight", 50, false}, {"huge", 1e30, true}, {"hemisphere", 6.4e6, true}, {"just-past-the-bound", 30*DefaultMaxSpeed + 500, true}} {
		t.Run(c.name, func(t *testing.T) {
			mod := wasmtest.BoxPredictor(c.name, c.half)
			p := mustLoad(t, r, mod, Options{Instances: 1, FallbackPredictor: builtin.Predictor{}, Logger: discardLogger()})
			boxes, samples := make([]abi.Box, len(vs)), make([]abi.Point, 6*len(vs))
			id, err := p.PredictModel(ctx, prm, vs, boxes, samples)
			if err != nil {
				t.Fatal(err)
			}
			s := p.Stats()
			if !c.fail {
				if id != p.Model() || s.Failures != 0 {
					t.Fatalf("tight boxes: model %+v, stats %+v", id, s)
				}
				return
			}
			if id != (builtin.Predictor{}).Model() || s.FailuresByReason.Malformed != 1 ||
				!strings.Contains(s.LastFailures[0].Error, "box reaches farther than") {
				t.Fatalf("model %+v, stats %+v", id, s)
			}
			for i := range vs {
				if w := boxes[i].MaxX - boxes[i].MinX; w > 2*30*DefaultMaxSpeed {
					t.Fatalf("vehicle %d kept a box %v m wide", i, w)
				}
			}
			rep := r.Conformance(ctx, mod, Options{Logger: discardLogger()})
			if rep.Pass {
				t.Fatal("conformance passed")
			}
		})
	}
}

// TestMaxSpeedsPerClass: the bound follows the class's plausible speed, and
// never refuses a box a vehicle faster than its class needs.
func TestMaxSpeedsPerClass(t *testing.T) {
	r := mustRuntime(t)
	p := mustLoad(t, r, wasmtest.BoxPredictor("km", 1000), Options{Instances: 1, MaxSpeeds: []float64{0, 10}, Logger: discardLogger()})
	prm := abi.Params{Horizon: 30, Samples: 1}
	for _, c := range []struct {
		class uint32
		vx    float64
		ok    bool
	}{{0, 0, true}, {1, 0, false}, {1, 40, true}, {2, 0, true}} {
		vs := []abi.Vehicle{{X: 5, Y: 5, Z: 100, VX: c.vx, Class: c.class, Radius: 2}}
		err := p.Predict(ctx, prm, vs, make([]abi.Box, 1), make([]abi.Point, 1))
		if (err == nil) != c.ok {
			t.Fatalf("class %d at %v m/s: err %v, want ok=%v", c.class, c.vx, err, c.ok)
		}
	}
	if _, err := r.Load(ctx, wasmtest.BoxPredictor("x", 1), Options{MaxSpeeds: []float64{-1}}); err == nil || !strings.Contains(err.Error(), "MaxSpeeds[0]") {
		t.Fatalf("negative speed: %v", err)
	}
}
