package grid

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func mustNew(t testing.TB, cfg Config) *Grid {
	t.Helper()
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestNewDefaults(t *testing.T) {
	g := mustNew(t, Config{})
	want := Config{100, 10, 1000, 0.8, 0.5, 4, 64}
	if g.cfg != want {
		t.Fatalf("defaults = %+v, want %+v", g.cfg, want)
	}
	if g.CellSize() != 100 || g.Len() != 0 {
		t.Fatalf("CellSize %g Len %d", g.CellSize(), g.Len())
	}
}

func TestNewRejectsBadValuesNamingTheKey(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		key string
	}{
		{Config{MinSize: -1}, "grid.min_size"},
		{Config{MaxSize: math.Inf(1)}, "grid.max_size"},
		{Config{InitialSize: math.NaN()}, "grid.initial_size"},
		{Config{MinSize: 200, InitialSize: 100}, "grid.initial_size"},
		{Config{InitialSize: 5000}, "grid.initial_size"},
		{Config{MinSize: 50, MaxSize: 20, InitialSize: 30}, "grid.min_size"},
		{Config{AdjustmentThreshold: 1.5}, "grid.adjustment_threshold"},
		{Config{AdjustmentFactor: 1}, "grid.adjustment_factor"},
		{Config{AdjustmentFactor: -0.5}, "grid.adjustment_factor"},
		{Config{TargetOccupancy: -4}, "grid.target_occupancy"},
		{Config{Shards: -1}, "grid.shards"},
		{Config{Shards: 1 << 20}, "grid.shards"},
	} {
		_, err := New(tc.cfg)
		if err == nil {
			t.Errorf("New(%+v) = nil error, want one naming %s", tc.cfg, tc.key)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != tc.key || !IsInvalidConfig(err) || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("New(%+v) = %v, want a ConfigError naming %s", tc.cfg, err, tc.key)
		}
	}
}

// TestInvalidInputIsIgnored: NaN, infinite and inverted boxes and ids beyond
// Grow leave the grid as it was, and queries stay exact.
func TestInvalidInputIsIgnored(t *testing.T) {
	g := mustNew(t, Config{})
	g.Grow(4)
	o := newOracle(4)
	good := Box{0, 0, 0, 10, 10, 10}
	g.Set(0, good)
	o.set(0, good)
	nan := math.NaN()
	inf := math.Inf(1)
	for _, b := range []Box{
		{nan, 0, 0, 1, 1, 1}, {0, 0, 0, 1, 1, nan}, {-inf, 0, 0, 1, 1, 1},
		{0, 0, 0, inf, 1, 1}, {5, 0, 0, 1, 1, 1}, {0, 0, 5, 1, 1, 1},
	} {
		g.Set(0, b) // keeps the previous box
		g.Set(1, b) // stays absent
		if got := g.QueryAppend(nil, b, math.MaxUint32); len(got) != 0 {
			t.Errorf("query with invalid %+v returned %v", b, got)
		}
	}
	g.Set(99, good)
	g.Delete(99)
	if st := g.Stats(); st.Invalid != 13 || st.Boxes != 1 {
		t.Fatalf("Invalid = %d Boxes = %d, want 13 and 1", st.Invalid, st.Boxes)
	}
	checkAll(t, g, o, rand.New(rand.NewPCG(1, 2)), Box{-100, -100, -100, 100, 100, 100})
}

// TestHugeBoxes: boxes too large or too far for every level go to the
// oversize list; huge queries finish and stay exact.
func TestHugeBoxes(t *testing.T) {
	g := mustNew(t, Config{MinSize: 1, InitialSize: 1})
	const n = 200
	g.Grow(n)
	o := newOracle(n)
	rng := rand.New(rand.NewPCG(3, 4))
	world := Box{-5000, -5000, -5000, 5000, 5000, 5000}
	for id := range uint32(n) {
		var b Box
		switch id % 10 {
		case 0:
			b = Box{-1e300, -1e300, -1e300, 1e300, 1e300, 1e300}
		case 1:
			b = Box{1e12, 0, 0, 1e12 + 10, 10, 10} // far beyond every level's range
		case 2:
			b = Box{-1e9, -5, -5, 1e9, 5, 5} // 2e6 km long
		default:
			b = randomBox(rng, world, 0, 500)
		}
		g.Set(id, b)
		o.set(id, b)
	}
	if st := g.Stats(); st.Oversize < n/10 {
		t.Fatalf("Oversize = %d, want at least %d", st.Oversize, n/10)
	}
	checkAll(t, g, o, rng, world)
	var buf []uint32
	for _, q := range []Box{
		{-1e300, -1e300, -1e300, 1e300, 1e300, 1e300},
		{-math.MaxFloat64, -math.MaxFloat64, -math.MaxFloat64, math.MaxFloat64, math.MaxFloat64, math.MaxFloat64},
		{1e12, 1, 1, 1e12 + 1, 2, 2},
		{-1e9, -1e9, -1e9, 0, 0, 0},
	} {
		buf = checkQuery(t, g, o, q, 0, buf)
	}
	// Moving between oversize, levelled and absent keeps the oracle.
	for id := range uint32(n) {
		if id%3 == 0 {
			g.Delete(id)
			o.del(id)
		} else {
			b := Box{-1e300, 0, 0, 1e300, 1, 1}
			if id%2 == 0 {
				b = randomBox(rng, world, 0, 50)
			}
			g.Set(id, b)
			o.set(id, b)
		}
	}
	g.rebuild(1)
	checkAll(t, g, o, rng, world)
}

// fill stores n random boxes of the given edge range in world.
func fill(g *Grid, o *oracle, rng *rand.Rand, n int, world Box, minEdge, maxEdge float64) {
	g.Grow(n)
	for id := range uint32(n) {
		b := randomBox(rng, world, minEdge, maxEdge)
		g.Set(id, b)
		if o != nil {
			o.set(id, b)
		}
	}
}

// adjustUntilStable calls Adjust until it reports no change, failing if it
// keeps changing (oscillation) or leaves the bounds.
func adjustUntilStable(t *testing.T, g *Grid) int {
	t.Helper()
	changes := 0
	for range 40 {
		if !g.Adjust() {
			// A stable grid stays stable.
			for range 3 {
				if g.Adjust() {
					t.Fatalf("Adjust changed the size again at %g after reporting no change", g.CellSize())
				}
			}
			return changes
		}
		changes++
		if s := g.CellSize(); s < g.cfg.MinSize || s > g.cfg.MaxSize {
			t.Fatalf("cell size %g outside [%g, %g]", s, g.cfg.MinSize, g.cfg.MaxSize)
		}
	}
	t.Fatalf("Adjust did not settle after 40 calls: cell size %g", g.CellSize())
	return 0
}

func TestAdjustShrinksForADenseCluster(t *testing.T) {
	g := mustNew(t, Config{})
	o := newOracle(3000)
	rng := rand.New(rand.NewPCG(5, 6))
	fill(g, o, rng, 3000, Box{0, 0, 0, 200, 200, 200}, 1, 5)
	before := g.Stats().Occupancy
	if n := adjustUntilStable(t, g); n == 0 || g.CellSize() >= 100 {
		t.Fatalf("dense cluster: %d resizes, cell size %g, want smaller than 100", n, g.CellSize())
	}
	st := g.Stats()
	if st.Occupancy >= before || st.Resizes == 0 {
		t.Fatalf("occupancy %g -> %g, resizes %d", before, st.Occupancy, st.Resizes)
	}
	checkAll(t, g, o, rng, Box{0, 0, 0, 200, 200, 200})
}

func TestAdjustShrinksNoFurtherThanMinSize(t *testing.T) {
	g := mustNew(t, Config{MinSize: 30})
	o := newOracle(2000)
	rng := rand.New(rand.NewPCG(7, 8))
	fill(g, o, rng, 2000, Box{0, 0, 0, 50, 50, 50}, 0, 1)
	adjustUntilStable(t, g)
	if g.CellSize() != 30 {
		t.Fatalf("cell size %g, want the 30 m floor", g.CellSize())
	}
	checkAll(t, g, o, rng, Box{0, 0, 0, 50, 50, 50})
}

func TestAdjustGrowsForSparseTraffic(t *testing.T) {
	g := mustNew(t, Config{MaxSize: 800})
	o := newOracle(500)
	rng := rand.New(rand.NewPCG(9, 10))
	world := Box{-500000, -500000, 0, 500000, 500000, 10000}
	fill(g, o, rng, 500, world, 10, 50)
	if n := adjustUntilStable(t, g); n == 0 || g.CellSize() != 800 {
		t.Fatalf("sparse traffic: %d resizes, cell size %g, want the 800 m ceiling", n, g.CellSize())
	}
	checkAll(t, g, o, rng, world)
}

// TestAdjustSettlesBetweenSizes builds traffic whose occupancy jumps across
// the band when the size halves: the rule must pick one size and stay.
func TestAdjustSettlesBetweenSizes(t *testing.T) {
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 11))
		g := mustNew(t, Config{})
		world := Box{0, 0, 0, 3000 + rng.Float64()*5000, 3000 + rng.Float64()*5000, 100}
		fill(g, nil, rng, 2000+rng.IntN(4000), world, 5, 120)
		adjustUntilStable(t, g)
	}
}

// TestResizeKeepsEverything: after many resizes every box is still stored
// and queries are exact (a resize rebuilds from the stored boxes).
func TestResizeKeepsEverything(t *testing.T) {
	g := mustNew(t, Config{Shards: 7})
	o := newOracle(2000)
	rng := rand.New(rand.NewPCG(12, 13))
	world := Box{-3000, -3000, 0, 3000, 3000, 3000}
	fill(g, o, rng, 2000, world, 0, 700)
	for _, s := range []float64{10, 1000, 37.5, 100, 4096, 0.5} {
		g.rebuild(s)
		if st := g.Stats(); st.Boxes != 2000 || st.CellSize != s {
			t.Fatalf("after rebuild(%g): %+v", s, st)
		}
		checkAll(t, g, o, rng, world)
	}
}

func TestAdjustKeepsTheSizeOfAnEmptyGrid(t *testing.T) {
	g := mustNew(t, Config{})
	g.Grow(10)
	for range 5 {
		if g.Adjust() || g.CellSize() != 100 {
			t.Fatalf("empty grid resized to %g", g.CellSize())
		}
	}
}

func TestStatsCountsQueries(t *testing.T) {
	g := mustNew(t, Config{})
	g.Grow(3)
	g.Set(0, Box{0, 0, 0, 10, 10, 10})
	g.Set(1, Box{10, 10, 10, 20, 20, 20}) // touches 0
	g.Set(2, Box{500, 500, 500, 510, 510, 510})
	got := g.QueryAppend(nil, Box{0, 0, 0, 10, 10, 10}, 0)
	if len(got) != 1 || got[0] != 1 {
		t.Fatalf("touching box: got %v, want [1]", got)
	}
	st := g.Stats()
	if st.Queries != 1 || st.PairHits != 1 || st.PairTests < 1 || st.Cells == 0 || st.Entries < 3 ||
		st.Levels != 1 || st.Boxes != 3 || st.Bytes <= 0 {
		t.Fatalf("stats after one query: %+v", st)
	}
	g.Adjust()
	if st2 := g.Stats(); st2.Queries != 0 || st2.PairTests != 0 || st2.PairHits != 0 ||
		st2.PrevQueries != st.Queries || st2.PrevPairTests != st.PairTests || st2.PrevPairHits != st.PairHits {
		t.Fatalf("Adjust did not close the query interval: before %+v, after %+v", st, st2)
	}
}

// TestTouchingLattice stores a 6×6×6 lattice of boxes whose faces coincide
// with each other and with cell faces (at every level size), then checks that
// each box finds exactly its face, edge and corner neighbours.
func TestTouchingLattice(t *testing.T) {
	for _, edge := range []float64{25, 50, 100, 200, 400, 100.0 / 3} {
		for _, cell := range []float64{25, 50, 100, 400, 1000} {
			g := mustNew(t, Config{MinSize: 1, InitialSize: cell})
			const k = 6
			g.Grow(k * k * k)
			o := newOracle(k * k * k)
			for i := range uint32(k * k * k) {
				x, y, z := float64(i%k)*edge, float64(i/k%k)*edge, float64(i/(k*k))*edge-edge*2
				b := Box{x, y, z, x + edge, y + edge, z + edge}
				g.Set(i, b)
				o.set(i, b)
			}
			var buf []uint32
			for i := range uint32(k * k * k) {
				buf = checkQuery(t, g, o, o.boxes[i], i, buf)
				inner := i%k > 0 && i%k < k-1 && i/k%k > 0 && i/k%k < k-1 && i/(k*k) > 0 && i/(k*k) < k-1
				// x·edge + edge is (x+1)·edge exactly for these edges but
				// not for 100/3, whose boxes need not touch in float64.
				if inner && edge == math.Trunc(edge) && len(buf) != 26 {
					t.Fatalf("edge %g cell %g: inner box %d touches %d boxes, want 26", edge, cell, i, len(buf))
				}
			}
		}
	}
}

func TestBoxReturnsTheStoredBox(t *testing.T) {
	g := mustNew(t, Config{})
	g.Grow(3)
	b := Box{1, 2, 3, 4, 5, 6}
	huge := Box{-1e300, 0, 0, 1e300, 1, 1}
	g.Set(0, b)
	g.Set(1, huge)
	g.Set(0, Box{math.NaN(), 0, 0, 1, 1, 1}) // ignored: 0 keeps b
	for _, tc := range []struct {
		id   uint32
		want Box
		ok   bool
	}{{0, b, true}, {1, huge, true}, {2, Box{}, false}, {99, Box{}, false}} {
		if got, ok := g.Box(tc.id); got != tc.want || ok != tc.ok {
			t.Errorf("Box(%d) = %v, %v; want %v, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
	g.Delete(0)
	if _, ok := g.Box(0); ok {
		t.Error("Box(0) after Delete reports a box")
	}
}

// TestAddressableEdge puts boxes around the edge of the addressable cell
// range (±2^20 cells) of several levels, where they move up a level or to
// the oversize list, and checks queries across that edge.
func TestAddressableEdge(t *testing.T) {
	g := mustNew(t, Config{MinSize: 10, InitialSize: 10})
	const n = 400
	g.Grow(n)
	o := newOracle(n)
	rng := rand.New(rand.NewPCG(21, 22))
	edge := func() float64 {
		lim := float64(coordLim) * 10 * math.Ldexp(1, rng.IntN(4)) // levels 0..3
		if rng.IntN(2) == 0 {
			lim = -lim
		}
		return lim + (rng.Float64()-0.5)*200
	}
	for id := range uint32(n) {
		x, y, z := edge(), rng.Float64()*100, edge()
		e := rng.Float64() * 80
		b := Box{x, y, z, x + e, y + e, z + e}
		if id%7 == 0 {
			b = Box{-x, y, -z, -x + e, y + e, -z + e} // the mirror edge
		}
		g.Set(id, b)
		o.set(id, b)
	}
	var buf []uint32
	for range 300 {
		x, z := edge(), edge()
		e := rng.Float64() * 3000
		buf = checkQuery(t, g, o, Box{x - e, -10, z - e, x + e, 200, z + e}, math.MaxUint32, buf)
	}
	checkAll(t, g, o, rng, Box{-1.1e8, 0, -1.1e8, 1.1e8, 100, 1.1e8})
	if st := g.Stats(); st.Levels < 2 {
		t.Fatalf("edge boxes used %d levels, want the edge to push some up", st.Levels)
	}
}
