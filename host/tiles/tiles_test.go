package tiles_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

const (
	horizon     = 30.0
	maxDistance = 200.0
)

// sweptBox is the box the engine puts in its grid: the builtin predictor's
// trajectory box with the position, grown by √2·radius + max_distance/2.
func sweptBox(v *abi.Vehicle) abi.Box {
	b := builtin.TrajectoryBox(v, horizon)
	b.MinX, b.MaxX = math.Min(b.MinX, v.X), math.Max(b.MaxX, v.X)
	b.MinY, b.MaxY = math.Min(b.MinY, v.Y), math.Max(b.MaxY, v.Y)
	b.MinZ, b.MaxZ = math.Min(b.MinZ, v.Z), math.Max(b.MaxZ, v.Z)
	return b.Grow(math.Sqrt2*float64(v.Radius) + maxDistance/2)
}

func layout(t testing.TB, size float64, parts int) tiles.Layout {
	t.Helper()
	l, err := tiles.New(size, parts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func router(t testing.TB, l tiles.Layout) *tiles.Router {
	t.Helper()
	r, err := tiles.NewRouter(tiles.RouterConfig{Layout: l, Horizon: horizon, MaxDistance: maxDistance, VehicleTTL: 30})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// cluster applies routed states to per-partition holdings, as the compute
// nodes do: home and ghost copies hold the vehicle, a leave forgets it.
type cluster struct {
	held []map[string]abi.Vehicle
}

func newCluster(parts int) *cluster {
	c := &cluster{held: make([]map[string]abi.Vehicle, parts)}
	for i := range c.held {
		c.held[i] = map[string]abi.Vehicle{}
	}
	return c
}

func (c *cluster) apply(id string, v abi.Vehicle, ts []tiles.Target) {
	for _, tg := range ts {
		if tg.Kind == tiles.Leave {
			delete(c.held[tg.Partition], id)
		} else {
			c.held[tg.Partition][id] = v
		}
	}
}

// checkPairs asserts, for every pair whose swept boxes overlap, that exactly
// one partition reports it (holds both current states and owns the
// reference tile), and that no partition holds a state the latest routing
// no longer sends there.
func (c *cluster) checkPairs(t *testing.T, l tiles.Layout, ids []string, vs []abi.Vehicle) (pairs int) {
	t.Helper()
	halos := make([]tiles.Halo, len(vs))
	for i := range vs {
		halos[i] = tiles.HaloOf(&vs[i], horizon, maxDistance)
		b := sweptBox(&vs[i])
		h := halos[i]
		if b.MinX < h.MinX || b.MinY < h.MinY || b.MaxX > h.MaxX || b.MaxY > h.MaxY {
			t.Fatalf("%s: swept box %+v outside its halo %+v", ids[i], b, h)
		}
		span := l.SpanOf(h)
		want := l.AppendPartitions(nil, l.TileOf(vs[i].X, vs[i].Y), span)
		for p := range c.held {
			hv, ok := c.held[p][ids[i]]
			in := false
			for _, q := range want {
				in = in || q == int32(p)
			}
			if ok != in || (ok && hv != vs[i]) {
				t.Fatalf("%s: partition %d holds=%v (current=%v), halo reaches it=%v", ids[i], p, ok, hv == vs[i], in)
			}
		}
	}
	for i := range vs {
		bi := sweptBox(&vs[i])
		for j := i + 1; j < len(vs); j++ {
			if !bi.Overlaps(sweptBox(&vs[j])) {
				continue
			}
			pairs++
			rt, ok := l.RefTile(halos[i], halos[j])
			if !ok {
				t.Fatalf("%s-%s: swept boxes overlap, halos do not", ids[i], ids[j])
			}
			reporters := 0
			for p := range c.held {
				_, hi := c.held[p][ids[i]]
				_, hj := c.held[p][ids[j]]
				if hi && hj && l.Partition(rt) == int32(p) {
					reporters++
				}
			}
			if reporters != 1 {
				t.Fatalf("%s-%s: reported by %d partitions (ref tile %v)", ids[i], ids[j], reporters, rt)
			}
		}
	}
	return pairs
}

// Random dense traffic crossing tile borders all the time (small tiles, fast
// and slow vehicles, turns): every overlapping pair is reported by exactly
// one partition, which holds both current states; leaves leave no stale copy.
func TestEveryPairReportedOnce(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			size := []float64{300, 1000, 2500}[seed%3]
			l := layout(t, size, 1+int(seed%7))
			r := router(t, l)
			c := newCluster(l.Partitions)
			n := 120
			ids := make([]string, n)
			vs := make([]abi.Vehicle, n)
			for i := range vs {
				ids[i] = fmt.Sprintf("v%03d", i)
				speed := 5 + rng.Float64()*30
				if i%10 == 0 {
					speed = 250 // aircraft among drones
				}
				a := rng.Float64() * 2 * math.Pi
				vs[i] = abi.Vehicle{X: rng.Float64()*6000 - 3000, Y: rng.Float64()*6000 - 3000, Z: 100,
					VX: speed * math.Cos(a), VY: speed * math.Sin(a), Radius: float32(rng.Float64() * 20)}
				if i%7 == 0 {
					vs[i].Flags |= abi.FlagHasAccel
					vs[i].AX, vs[i].AY = rng.NormFloat64(), rng.NormFloat64()
				}
			}
			var dst []tiles.Target
			pairs := 0
			for step := 1; step <= 40; step++ {
				for i := range vs {
					v := &vs[i]
					v.T = float64(step)
					v.X += v.VX
					v.Y += v.VY
					if math.Abs(v.X) > 3500 {
						v.VX = -v.VX
					}
					if math.Abs(v.Y) > 3500 {
						v.VY = -v.VY
					}
					var ok bool
					dst, ok = r.Route([]byte(ids[i]), v, dst[:0])
					if !ok {
						t.Fatal("a newer state was dropped")
					}
					c.apply(ids[i], *v, dst)
				}
				pairs += c.checkPairs(t, l, ids, vs)
			}
			st := r.Stats()
			if st.Leaves == 0 || st.Ghosts == 0 || pairs == 0 {
				t.Fatalf("traffic too tame to test anything: %+v, %d pairs", st, pairs)
			}
			t.Logf("tile %g m, %d partitions: %d states, %d ghosts, %d leaves, %d pair-ticks", size, l.Partitions, st.States, st.Ghosts, st.Leaves, pairs)
		})
	}
}

// An aircraft at 250 m/s crosses a tile border between two states: the new
// home partition has it, the partition it no longer reaches gets a leave.
func TestFastAircraftCrossesBorderBetweenTicks(t *testing.T) {
	l := layout(t, 10_000, 64)
	r := router(t, l)
	c := newCluster(l.Partitions)
	// Tile 0 spans x in [-5, 5) km. Halo ≈ 30 × 250 + 100 = 7.6 km: at
	// x = -13 km it reaches -20.6 .. -5.4 km (tiles -2 and -1); 10 s later at
	// x = -3 km, -10.6 .. 4.6 (tiles -1 and 0); then at 7 km, -0.6 .. 14.6
	// (tiles 0 and 1): each step crosses a border and leaves a tile.
	id := []byte("AIR1")
	v := abi.Vehicle{X: -13000, Y: 0, VX: 250, T: 1}
	states := []float64{-13000, -3000, 7000}
	var prev []int32
	for i, x := range states {
		v.X, v.T = x, float64(1+10*i)
		ts, ok := r.Route(id, &v, nil)
		if !ok {
			t.Fatal("dropped")
		}
		c.apply(string(id), v, ts)
		home := l.Partition(l.TileOf(v.X, v.Y))
		if ts[0].Kind != tiles.Home || ts[0].Partition != home {
			t.Fatalf("state %d: first target %+v, want home %d", i, ts[0], home)
		}
		if _, ok := c.held[home][string(id)]; !ok {
			t.Fatalf("state %d: home partition %d does not hold it", i, home)
		}
		cur := l.AppendPartitions(nil, l.TileOf(v.X, v.Y), l.SpanOf(tiles.HaloOf(&v, horizon, maxDistance)))
		for _, p := range prev {
			gone := true
			for _, q := range cur {
				gone = gone && p != q
			}
			left := false
			for _, tg := range ts {
				left = left || (tg.Kind == tiles.Leave && tg.Partition == p)
			}
			if gone != left {
				t.Fatalf("state %d: partition %d no longer reached=%v, leave sent=%v (%+v)", i, p, gone, left, ts)
			}
		}
		prev = cur
	}
	// A drone hovering ahead of the aircraft at x = 14 km (tile 1, where the
	// aircraft arrived): the pair is reported once, where both are held.
	drone := abi.Vehicle{X: 14000, Y: 0, T: 21}
	ts, _ := r.Route([]byte("DRONE"), &drone, nil)
	c.apply("DRONE", drone, ts)
	if n := c.checkPairs(t, l, []string{"AIR1", "DRONE"}, []abi.Vehicle{v, drone}); n != 1 {
		t.Fatalf("%d overlapping pairs, want 1", n)
	}
}

// A vehicle at a tile corner: its halo touches four tiles, whose partitions
// all hold it; a pair around that corner is reported by exactly one of them.
func TestBoxSpanningFourTiles(t *testing.T) {
	l := layout(t, 5_000, 4096) // enough partitions for four distinct ones
	r := router(t, l)
	c := newCluster(l.Partitions)
	a := abi.Vehicle{X: 2_500 - 50, Y: 2_500 - 50, VX: 5, VY: 5, T: 1} // tile corner (2.5, 2.5) km
	ts, _ := r.Route([]byte("a"), &a, nil)
	span := l.SpanOf(tiles.HaloOf(&a, horizon, maxDistance))
	if span.Tiles() != 4 {
		t.Fatalf("halo spans %d tiles, want 4", span.Tiles())
	}
	parts := map[int32]bool{}
	for _, tg := range ts {
		parts[tg.Partition] = true
	}
	if len(parts) != 4 || len(ts) != 4 {
		t.Fatalf("routed to %+v, want four partitions", ts)
	}
	c.apply("a", a, ts)
	b := abi.Vehicle{X: 2_500 + 60, Y: 2_500 + 40, VX: -5, VY: -5, T: 1}
	ts, _ = r.Route([]byte("b"), &b, nil)
	c.apply("b", b, ts)
	if n := c.checkPairs(t, l, []string{"a", "b"}, []abi.Vehicle{a, b}); n != 1 {
		t.Fatalf("%d overlapping pairs, want 1", n)
	}
}

// Two identical halos whose minimum corner is exactly on a tile corner: the
// reference tile is the one above and to the right of the corner,
// which both halos touch; exactly one partition reports the pair.
func TestReferencePointOnTileCorner(t *testing.T) {
	l := layout(t, 1_000, 4096)
	cx, cy := l.Corner(tiles.Tile{X: 2, Y: 3})
	if cx != 1_500 || cy != 2_500 {
		t.Fatalf("corner of tile {2 3} at (%v, %v), want (1500, 2500)", cx, cy)
	}
	a := abi.Vehicle{VX: 3, VY: -4, T: 1}
	// Place the vehicle so that its halo's minimum corner is exactly the
	// tile corner (the reach depends a little on the position).
	a.X, a.Y = cornerAt(&a, cx, cy)
	ha := tiles.HaloOf(&a, horizon, maxDistance)
	if ha.MinX != cx || ha.MinY != cy {
		t.Fatalf("halo corner %v, %v not on the tile corner", ha.MinX, ha.MinY)
	}
	b := a
	b.T = 1
	x, y, ok := tiles.RefPoint(ha, tiles.HaloOf(&b, horizon, maxDistance))
	if !ok || x != cx || y != cy {
		t.Fatalf("reference point (%v, %v, %v), want the corner (%v, %v)", x, y, ok, cx, cy)
	}
	if rt, _ := l.RefTile(ha, ha); rt != (tiles.Tile{X: 2, Y: 3}) {
		t.Fatalf("reference tile %v, want {2 3}", rt)
	}
	r := router(t, l)
	c := newCluster(l.Partitions)
	for _, p := range []struct {
		id string
		v  abi.Vehicle
	}{{"a", a}, {"b", b}} {
		ts, _ := r.Route([]byte(p.id), &p.v, nil)
		c.apply(p.id, p.v, ts)
	}
	if n := c.checkPairs(t, l, []string{"a", "b"}, []abi.Vehicle{a, b}); n != 1 {
		t.Fatalf("%d pairs, want 1", n)
	}
}

// A state not newer than the vehicle's last is dropped, as the engine drops
// it; a vehicle silent for vehicle_ttl is forgotten.
func TestRouterStaleAndExpiry(t *testing.T) {
	l := layout(t, 1_000, 8)
	r := router(t, l)
	v := abi.Vehicle{X: 10, Y: 10, T: 100}
	if _, ok := r.Route([]byte("x"), &v, nil); !ok {
		t.Fatal("first state dropped")
	}
	v.T = 99
	if ts, ok := r.Route([]byte("x"), &v, nil); ok || len(ts) != 0 {
		t.Fatalf("older state routed: %+v", ts)
	}
	v.T = 100
	if _, ok := r.Route([]byte("x"), &v, nil); ok {
		t.Fatal("duplicate state routed")
	}
	w := abi.Vehicle{X: 10, Y: 10, T: 161} // more than 2 × vehicle_ttl later
	r.Route([]byte("y"), &w, nil)
	if st := r.Stats(); st.Stale != 2 || st.Expired != 1 || st.Tracked != 1 {
		t.Fatalf("stats %+v, want 2 stale, 1 expired, 1 tracked", st)
	}
}

func TestLayoutStringRoundTripAndErrors(t *testing.T) {
	l := layout(t, 20_000, 16)
	got, err := tiles.ParseLayout(l.String())
	if err != nil || got != l {
		t.Fatalf("ParseLayout(%q) = %+v, %v", l.String(), got, err)
	}
	for _, bad := range []string{"", "v2/s10/p3", "v1/s0/p3", "v1/s10/p0", "x1/s10/p3", "v1/sten/p3"} {
		if _, err := tiles.ParseLayout(bad); !tiles.IsLayoutError(err) {
			t.Errorf("ParseLayout(%q) = %v, want a layout error", bad, err)
		}
	}
	if _, err := tiles.New(0, 4); err == nil || !tiles.IsLayoutError(err) {
		t.Fatalf("tile size 0: %v", err)
	}
}

// The map spreads tiles over partitions evenly.
func TestPartitionSpread(t *testing.T) {
	l := layout(t, 1000, 12)
	count := make([]int, 12)
	for x := int32(-50); x < 50; x++ {
		for y := int32(-50); y < 50; y++ {
			count[l.Partition(tiles.Tile{X: x, Y: y})]++
		}
	}
	for p, n := range count {
		if n < 10000/12*8/10 || n > 10000/12*12/10 {
			t.Fatalf("partition %d has %d of 10000 tiles: %v", p, n, count)
		}
	}
}

// cornerAt returns a position for v whose halo's minimum corner is (x, y).
func cornerAt(v *abi.Vehicle, x, y float64) (float64, float64) {
	w := *v
	w.X, w.Y = x+tiles.Reach(v, horizon, maxDistance), y+tiles.Reach(v, horizon, maxDistance)
	for i := range 400 {
		h := tiles.HaloOf(&w, horizon, maxDistance)
		if h.MinX == x && h.MinY == y {
			break
		}
		if i < 20 { // coarse steps, then ulps
			w.X += x - h.MinX
			w.Y += y - h.MinY
			continue
		}
		if h.MinX != x {
			w.X = math.Nextafter(w.X, w.X+(x-h.MinX))
		}
		if h.MinY != y {
			w.Y = math.Nextafter(w.Y, w.Y+(y-h.MinY))
		}
	}
	return w.X, w.Y
}
