package grid

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// oracle is the brute-force reference: a box per present id.
type oracle struct {
	boxes []Box
	ok    []bool
}

func newOracle(n int) *oracle { return &oracle{boxes: make([]Box, n), ok: make([]bool, n)} }

func (o *oracle) set(id uint32, b Box) {
	if int(id) < len(o.ok) && b.Valid() {
		o.boxes[id], o.ok[id] = b, true
	}
}

func (o *oracle) del(id uint32) {
	if int(id) < len(o.ok) {
		o.ok[id] = false
	}
}

func (o *oracle) query(q Box, exclude uint32) []uint32 {
	var out []uint32
	if !q.Valid() {
		return out
	}
	for id, b := range o.boxes {
		if o.ok[id] && uint32(id) != exclude && b.Overlaps(q) {
			out = append(out, uint32(id))
		}
	}
	return out
}

func (o *oracle) len() int {
	n := 0
	for _, ok := range o.ok {
		if ok {
			n++
		}
	}
	return n
}

// checkQuery compares one query with the oracle; duplicates fail too.
func checkQuery(t testing.TB, g *Grid, o *oracle, q Box, exclude uint32, buf []uint32) []uint32 {
	t.Helper()
	got := g.QueryAppend(buf[:0], q, exclude)
	slices.Sort(got)
	want := o.query(q, exclude)
	if !slices.Equal(got, want) {
		t.Fatalf("query %+v exclude %d at cell size %g: got %d ids %v, want %d ids %v\nmissing %v\nextra %v",
			q, exclude, g.CellSize(), len(got), head(got), len(want), head(want), diff(want, got), diff(got, want))
	}
	return got
}

// checkAll queries every stored box (excluding itself) and some random boxes.
func checkAll(t testing.TB, g *Grid, o *oracle, rng *rand.Rand, world Box) {
	t.Helper()
	if g.Len() != o.len() {
		t.Fatalf("Len = %d, oracle holds %d", g.Len(), o.len())
	}
	checkInvariants(t, g)
	var buf []uint32
	for id, ok := range o.ok {
		if ok {
			buf = checkQuery(t, g, o, o.boxes[id], uint32(id), buf)
		}
	}
	for range 50 {
		buf = checkQuery(t, g, o, randomBox(rng, world, 1, 3000), math.MaxUint32, buf)
	}
}

func head(s []uint32) []uint32 { return s[:min(len(s), 20)] }

// diff returns the elements of a (sorted) missing from b (sorted).
func diff(a, b []uint32) []uint32 {
	var out []uint32
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return head(out)
}

func randomBox(rng *rand.Rand, world Box, minEdge, maxEdge float64) Box {
	e := func() float64 { return minEdge + rng.Float64()*(maxEdge-minEdge) }
	x := world.MinX + rng.Float64()*(world.MaxX-world.MinX)
	y := world.MinY + rng.Float64()*(world.MaxY-world.MinY)
	z := world.MinZ + rng.Float64()*(world.MaxZ-world.MinZ)
	return Box{x, y, z, x + e(), y + e(), z + e()}
}

// scenario generates the box of an id for one round of traffic.
type scenario struct {
	name  string
	world Box
	box   func(rng *rand.Rand, id uint32, round int) Box
}

func scenarios() []scenario {
	uniform := Box{-10000, -10000, 0, 10000, 10000, 1000}
	return []scenario{
		{"uniform", uniform, func(rng *rand.Rand, _ uint32, _ int) Box {
			return randomBox(rng, uniform, 50, 600)
		}},
		{"hotspot", uniform, func(rng *rand.Rand, _ uint32, _ int) Box {
			if rng.IntN(5) == 0 {
				return randomBox(rng, uniform, 50, 600)
			}
			return randomBox(rng, Box{0, 0, 0, 300, 300, 100}, 1, 40)
		}},
		{"aircraft-among-drones", Box{-20000, -20000, 0, 20000, 20000, 12000}, func(rng *rand.Rand, _ uint32, _ int) Box {
			if rng.IntN(8) == 0 { // a fast aircraft: ~7.5 km swept box at cruise
				x, y := rng.Float64()*30000-15000, rng.Float64()*30000-15000
				z := 9000 + rng.Float64()*3000
				dx, dy := rng.Float64()*7500-3750, rng.Float64()*7500-3750
				return Box{min(x, x+dx), min(y, y+dy), z - 150, max(x, x+dx) + 200, max(y, y+dy) + 200, z + 150}
			}
			return randomBox(rng, Box{-15000, -15000, 0, 15000, 15000, 400}, 300, 600)
		}},
		{"stacked-altitude", uniform, func(rng *rand.Rand, id uint32, _ int) Box {
			x, y := float64(id%5)*150, float64(id%3)*150
			z := rng.Float64() * 12000
			return Box{x, y, z, x + 400, y + 400, z + 50 + rng.Float64()*300}
		}},
		{"cell-borders", uniform, func(rng *rand.Rand, _ uint32, _ int) Box {
			// Corners on multiples of 10 m (a multiple of every power-of-two
			// cell edge the tests force, and of the defaults), so boxes touch
			// each other and cell faces exactly.
			sizes := []float64{10, 25, 50, 100, 200, 400, 800, 1600}
			s := sizes[rng.IntN(len(sizes))]
			x := float64(rng.IntN(40)-20) * s
			y := float64(rng.IntN(40)-20) * s
			z := float64(rng.IntN(8)) * s
			n := func() float64 { return float64(rng.IntN(3)) * s }
			return Box{x, y, z, x + n(), y + n(), z + n()}
		}},
	}
}

// TestOracle runs every scenario over several seeds: rounds of inserts, moves,
// deletes and id reuse, Adjust and forced cell sizes, each checked against the
// brute-force oracle.
func TestOracle(t *testing.T) {
	const n = 600
	for _, sc := range scenarios() {
		for seed := range uint64(12) {
			t.Run(fmt.Sprintf("%s/seed%d", sc.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 0x9d))
				g, err := New(Config{Shards: 1 + rng.IntN(16)})
				if err != nil {
					t.Fatal(err)
				}
				g.Grow(n)
				o := newOracle(n)
				for round := range 12 {
					for range n {
						id := uint32(rng.IntN(n))
						switch rng.IntN(10) {
						case 0:
							g.Delete(id)
							o.del(id)
						case 1, 2: // a small move: usually the same cells
							if o.ok[id] {
								b := o.boxes[id]
								d := rng.Float64()*20 - 10
								b = Box{b.MinX + d, b.MinY + d, b.MinZ, b.MaxX + d, b.MaxY + d, b.MaxZ}
								g.Set(id, b)
								o.set(id, b)
							}
						default:
							b := sc.box(rng, id, round)
							g.Set(id, b)
							o.set(id, b)
						}
					}
					switch round % 3 {
					case 0:
						g.Adjust()
					case 1:
						g.rebuild(math.Ldexp(1, rng.IntN(14))) // 1 m .. 8 km
					case 2:
						g.rebuild(1 + rng.Float64()*3000) // not a power of two
					}
					checkAll(t, g, o, rng, sc.world)
				}
			})
		}
	}
}
