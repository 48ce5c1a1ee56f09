package sim

import (
	"math"
	"testing"
)

// TestStagedGeometry checks each staged group's meetings (each spell of
// lost separation: within 50 m horizontally and 25 m vertically, the
// "default" zone) for the geometry of its kind at the closest point, on the
// simulator's own map: tracks crossing at 60-120 degrees, head-on at 180,
// overtaking parallel, 10-30 m abeam and at least 5 m/s faster, stacked
// parallel and 10-20 m apart vertically. The first group of each kind
// meets within earlyMax seconds.
func TestStagedGeometry(t *testing.T) {
	s := mustNew(t, Config{N: 1000, Seed: geometrySeed})
	type member struct {
		v    *vehicle
		info Info
	}
	groups := map[[2]int][]member{}
	for i, in := range s.info {
		if in.Kind >= KindCrossing && in.Kind <= KindStacked {
			key := [2]int{int(in.Kind), in.Group}
			groups[key] = append(groups[key], member{&s.veh[i], in})
		}
	}
	if len(groups) != 4*10 {
		t.Fatalf("%d staged groups, want 40", len(groups))
	}
	// closest is the state of a pair at the closest point of a meeting.
	type closest struct {
		t, h, dz, angle, va, vb float64
		start                   float64 // when the spell began
	}
	const dt, end = 0.1, 900.0
	for key, ms := range groups {
		kind := Kind(key[0])
		a, b := ms[0], ms[1] // stacked: the lowest two
		var meets []closest
		apart := 0 // meetings short of a pass or a stack
		firstLoS := math.Inf(1)
		cur := closest{h: math.Inf(1)}
		for tt := 0.0; tt <= end; tt += dt {
			ax, ay, aalt, avx, avy, _ := a.v.state(tt)
			bx, by, balt, bvx, bvy, _ := b.v.state(tt)
			h, dz := math.Hypot(bx-ax, by-ay), balt-aalt
			if h < 50 && math.Abs(dz) < 25 {
				firstLoS = min(firstLoS, tt)
				if math.IsInf(cur.h, 1) {
					cur.start = tt
				}
				if h < cur.h {
					va, vb := math.Hypot(avx, avy), math.Hypot(bvx, bvy)
					angle := math.Acos(max(-1, min(1, (avx*bvx+avy*bvy)/(va*vb)))) * 180 / math.Pi
					cur = closest{tt, h, dz, angle, va, vb, cur.start}
				}
			} else if !math.IsInf(cur.h, 1) {
				if cur.start > 0 { // not one already under way at time zero
					meets = append(meets, cur)
				}
				cur = closest{h: math.Inf(1)}
			}
		}
		for _, c := range meets {
			ok := true
			switch kind {
			case KindCrossing:
				ok = c.angle >= 59 && c.angle <= 121 && c.h <= 20.5 && math.Abs(c.dz) <= 8
			case KindHeadOn:
				ok = c.angle >= 178 && c.h <= 20.5 && math.Abs(c.dz) <= 8
			case KindOvertaking:
				// Passing abeam; in a half turn the outer drone is slower
				// in angle and may only brush past within 50 m.
				ok = c.h >= 9.9 && (c.angle <= 2 && c.vb-c.va >= 4.9 && c.h <= 30.1 || c.h > 30.1)
				if c.h > 30.1 {
					apart++
				}
			case KindStacked:
				// Stacked exactly when the lag returns to zero; on the
				// way, a half turn can bring the pair within 50 m.
				ok = math.Abs(c.dz) >= 9.9 && math.Abs(c.dz) <= 20.1 && (c.h >= 1 || c.angle <= 2)
				if c.h >= 1 {
					apart++
				}
			}
			if !ok {
				t.Errorf("%s/%s at %.1f s: not a %s meeting: tracks at %.1f deg, %.1f m apart, %.1f m above, at %.1f and %.1f m/s",
					a.info.ID, b.info.ID, c.t, kind, c.angle, c.h, c.dz, c.va, c.vb)
			}
		}
		want := 2
		if kind == KindOvertaking || kind == KindStacked {
			want = 1 // every 3-6 minutes
		}
		if len(meets)-apart < want {
			t.Errorf("%s/%s: %d meetings in %v s", a.info.ID, b.info.ID, len(meets), end)
		}
		// The first group is staged to meet at earlyMin..earlyMax s.
		if key[1] == 1 && firstLoS > earlyMax {
			t.Errorf("%s/%s: first loss of separation at %v s, want by %v s", a.info.ID, b.info.ID, firstLoS, earlyMax)
		}
	}
}

var geometrySeed uint64 = 17
