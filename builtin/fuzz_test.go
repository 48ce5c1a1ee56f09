package builtin_test

import (
	"math"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
)

// FuzzScorePair checks the output invariants (checkSane) and symmetry on
// arbitrary finite states.
func FuzzScorePair(f *testing.F) {
	for _, sc := range builtin.Scenarios() {
		a, b := sc.A, sc.B
		f.Add(a.X, a.Y, a.Z, a.VX, a.VY, a.VZ, a.Alt, a.VRate, b.X-a.X, b.Y-a.Y, b.Z-a.Z,
			b.VX, b.VY, b.VZ, b.Alt-a.Alt, b.VRate, b.T-a.T, a.HSep, a.VSep, a.Radius, b.HSep, 30.0)
	}
	f.Fuzz(func(t *testing.T, ax, ay, az, avx, avy, avz, aalt, avr, dx, dy, dz, bvx, bvy, bvz, dalt, bvr, dt float64,
		hsepA, vsepA, radA, hsepB float32, h float64) {
		in := []float64{ax, ay, az, avx, avy, avz, aalt, avr, dx, dy, dz, bvx, bvy, bvz, dalt, bvr, dt, h}
		for _, x := range in {
			if math.IsNaN(x) || math.Abs(x) > 1e7 { // ingest refuses non-finite states; keep squares finite
				t.Skip()
			}
		}
		for _, x := range []float32{hsepA, vsepA, radA, hsepB} {
			if !(x >= 0 && x <= 1e5) {
				t.Skip()
			}
		}
		if h < 0 {
			t.Skip()
		}
		a := abi.Vehicle{X: ax, Y: ay, Z: az, VX: avx, VY: avy, VZ: avz, Alt: aalt, VRate: avr, T: t0,
			HSep: hsepA, VSep: vsepA, Radius: radA}
		b := abi.Vehicle{X: ax + dx, Y: ay + dy, Z: az + dz, VX: bvx, VY: bvy, VZ: bvz, Alt: aalt + dalt,
			VRate: bvr, T: t0 + dt, HSep: hsepB, VSep: vsepA, Radius: radA}
		p := abi.Params{Horizon: h, MinRisk: 0.3}
		r := builtin.ScorePair(&a, &b, p)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf(format+"\n A=%+v\n B=%+v\n params=%+v\n result=%+v", append(args, a, b, p, r)...)
		}
		checkSane(t, &a, &b, p, r, fail)
		if r2 := builtin.ScorePair(&b, &a, p); !sameBits(r, r2) {
			fail("not symmetric: B, A gives %+v", r2)
		}
	})
}

// FuzzTrajectoryBox checks that the box holds the current position and the
// constant-velocity and constant-acceleration positions at 65 times over
// [0, H], for arbitrary finite states.
func FuzzTrajectoryBox(f *testing.F) {
	f.Add(0.0, 0.0, 0.0, 20.0, 0.0, 10.0, -2.0, 0.0, -9.81, 30.0, true)
	f.Add(4.0e6, 3.0e5, 4.9e6, -250.0, 1.0, 0.0, 0.5, 0.5, 0.0, 120.0, true)
	f.Add(1.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, false)
	f.Fuzz(func(t *testing.T, x, y, z, vx, vy, vz, ax, ay, az, h float64, accel bool) {
		for _, q := range []float64{x, y, z, vx, vy, vz, ax, ay, az, h} {
			if math.IsNaN(q) || math.Abs(q) > 1e7 {
				t.Skip()
			}
		}
		if h < 0 {
			t.Skip()
		}
		v := abi.Vehicle{X: x, Y: y, Z: z, VX: vx, VY: vy, VZ: vz, AX: ax, AY: ay, AZ: az}
		if accel {
			v.Flags = abi.FlagHasAccel
		}
		b := builtin.TrajectoryBox(&v, h)
		if !b.Contains(x, y, z) {
			t.Fatalf("box %+v misses the current position", b)
		}
		for k := 0; k <= 64; k++ {
			tk := h * float64(k) / 64
			for _, ca := range []bool{accel, false} {
				q := truePosition(&v, tk, ca)
				if !b.Contains(q[0], q[1], q[2]) {
					t.Fatalf("accel %v: position at %v s %v outside box %+v", ca, tk, q, b)
				}
			}
		}
	})
}
