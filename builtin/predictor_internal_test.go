package builtin

import (
	"math"
	"testing"
)

// TestCAAxisRangeTurningPoint checks the constant-acceleration part of the
// box on its own (through the union, the constant-velocity range always
// covers the turning point, so the public API cannot show it).
func TestCAAxisRangeTurningPoint(t *testing.T) {
	for _, c := range []struct{ x, v, a, h, lo, hi float64 }{
		{0, 10, -9.81, 2.5, 10*2.5 - 9.81*2.5*2.5/2, 100 / (2 * 9.81)}, // up, top at t* = 1.02 s, back down
		{5, -10, 9.81, 2.5, 5 - 100/(2*9.81), 5 - 10*2.5 + 9.81*2.5*2.5/2},
		{0, 10, -1, 5, 0, 10*5 - 12.5}, // t* = 10 s beyond the horizon: end points only
		{0, 0, 2, 3, 0, 9},
	} {
		lo, hi := caAxisRange(c.x, c.x, c.x, c.v, c.a, c.h)
		if math.Abs(lo-c.lo) > 1e-9 || math.Abs(hi-c.hi) > 1e-9 {
			t.Errorf("%+v: range [%v, %v]", c, lo, hi)
		}
	}
}
