package grid

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmark traffic. Drone-like: boxes of 500-700 m horizontally and 200 m
// vertically, their bottoms between 0 and 400 m of altitude, spread uniformly
// at a density where each box overlaps about 5 others. Hotspot: 80% of the
// boxes are 100-300 m boxes in 20 Gaussian clusters (σ 1.5 km), the rest
// drone-like. Mixed: drone-like with 1% aircraft (see mixedTraffic).
type benchTraffic struct {
	name string
	gen  func(n int) []Box
}

var benchTraffics = []benchTraffic{
	{"uniform", droneTraffic},
	{"hotspot", hotspotTraffic},
	{"mixed", mixedTraffic},
}

var benchSizes = []int{100_000, 1_000_000}

// droneSide returns the side of the square over which n drone boxes overlap
// about 5 others each: a pair overlaps when its centres are within 600 m on
// x and y (1.44 km²) and its bottoms within 200 m (probability 3/4 for two
// uniform in [0, 400]).
func droneSide(n int) float64 { return math.Sqrt(float64(n)*1.44*0.75/5) * 1000 }

func droneBox(rng *rand.Rand, side float64) Box {
	x, y, z := rng.Float64()*side, rng.Float64()*side, rng.Float64()*400
	ex, ey := 500+rng.Float64()*200, 500+rng.Float64()*200
	return Box{x - ex/2, y - ey/2, z, x + ex/2, y + ey/2, z + 200}
}

func droneTraffic(n int) []Box {
	rng := rand.New(rand.NewPCG(uint64(n), 1))
	side := droneSide(n)
	out := make([]Box, n)
	for i := range out {
		out[i] = droneBox(rng, side)
	}
	return out
}

func hotspotTraffic(n int) []Box {
	rng := rand.New(rand.NewPCG(uint64(n), 2))
	side := droneSide(n)
	var centres [20][2]float64
	for i := range centres {
		centres[i] = [2]float64{rng.Float64() * side, rng.Float64() * side}
	}
	out := make([]Box, n)
	for i := range out {
		if i%5 == 0 {
			out[i] = droneBox(rng, side)
			continue
		}
		c := centres[rng.IntN(len(centres))]
		x, y, z := c[0]+rng.NormFloat64()*1500, c[1]+rng.NormFloat64()*1500, rng.Float64()*150
		e := 100 + rng.Float64()*200
		out[i] = Box{x - e/2, y - e/2, z, x + e/2, y + e/2, z + 50}
	}
	return out
}

// mixedTraffic is drone-like traffic where 1 box in 100 is an aircraft's:
// 250 m/s for 30 s on a random track at 1-12 km of altitude, grown by 115 m,
// so a drone's query also visits the aircraft's coarse levels.
func mixedTraffic(n int) []Box {
	rng := rand.New(rand.NewPCG(uint64(n), 3))
	side := droneSide(n)
	out := make([]Box, n)
	for i := range out {
		if i%100 != 0 {
			out[i] = droneBox(rng, side)
			continue
		}
		x, y, z := rng.Float64()*side, rng.Float64()*side, 1000+rng.Float64()*11000
		a := rng.Float64() * 2 * math.Pi
		x2, y2 := x+7500*math.Cos(a), y+7500*math.Sin(a)
		z2 := z + (rng.Float64()-0.5)*600
		const m = 115
		out[i] = Box{min(x, x2) - m, min(y, y2) - m, min(z, z2) - m, max(x, x2) + m, max(y, y2) + m, max(z, z2) + m}
	}
	return out
}

var trafficCache sync.Map // name/n -> []Box

func cachedTraffic(tr benchTraffic, n int) []Box {
	key := fmt.Sprint(tr.name, n)
	if v, ok := trafficCache.Load(key); ok {
		return v.([]Box)
	}
	boxes := tr.gen(n)
	trafficCache.Store(key, boxes)
	return boxes
}

// buildGrid inserts the boxes and lets Adjust settle, as a running engine would.
func buildGrid(tb testing.TB, boxes []Box) *Grid {
	g := mustNew(tb, Config{})
	g.Grow(len(boxes))
	for id, b := range boxes {
		g.Set(uint32(id), b)
	}
	for i := 0; i < 40 && g.Adjust(); i++ {
	}
	return g
}

func forEachCase(b *testing.B, f func(b *testing.B, boxes []Box)) {
	for _, tr := range benchTraffics {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%dk", tr.name, n/1000), func(b *testing.B) {
				f(b, cachedTraffic(tr, n))
			})
		}
	}
}

// shift moves a box by d on x and y.
func shift(b Box, d float64) Box {
	return Box{b.MinX + d, b.MinY + d, b.MinZ, b.MaxX + d, b.MaxY + d, b.MaxZ}
}

// BenchmarkSet measures the engine's update: every call moves a box back or
// forth by 5 m (a drone in a 0.3 s tick: mostly within its cells) or by 100 m
// (an aircraft in 0.4 s: often across a cell border).
func BenchmarkSet(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		for _, d := range []float64{5, 100} {
			b.Run(fmt.Sprintf("move%gm", d), func(b *testing.B) {
				g := buildGrid(b, boxes)
				n := len(boxes)
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				for i := range b.N {
					id := i % n
					g.Set(uint32(id), shift(boxes[id], float64((i/n+1)%2)*d))
				}
				reportCPU(b, cpu)
			})
		}
	})
}

// BenchmarkSetParallel is BenchmarkSet with GOMAXPROCS workers updating
// distinct ids, as the engine's ingest workers do.
func BenchmarkSetParallel(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		g := buildGrid(b, boxes)
		n := len(boxes)
		var worker atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := int(worker.Add(1) - 1)
			p := runtime.GOMAXPROCS(0)
			id, round := w, 0
			for pb.Next() {
				g.Set(uint32(id), shift(boxes[id], float64((round+1)%2)*5))
				if id += p; id >= n {
					id, round = w, round+1
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	})
}

// BenchmarkQueryAppend queries each stored box (excluding itself), as the
// engine does for every updated vehicle.
func BenchmarkQueryAppend(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		g := buildGrid(b, boxes)
		g.Adjust() // start the query counters
		n := len(boxes)
		dst := make([]uint32, 0, 4096)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		for i := range b.N {
			id := i % n
			dst = g.QueryAppend(dst[:0], boxes[id], uint32(id))
		}
		b.StopTimer()
		reportCPU(b, cpu)
		reportQueries(b, g)
	})
}

// BenchmarkQueryAppendParallel runs the queries on GOMAXPROCS goroutines.
func BenchmarkQueryAppendParallel(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		g := buildGrid(b, boxes)
		g.Adjust()
		n := len(boxes)
		var seed atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]uint32, 0, 4096)
			id := int(seed.Add(7919)) % n
			for pb.Next() {
				dst = g.QueryAppend(dst[:0], boxes[id], uint32(id))
				if id++; id == n {
					id = 0
				}
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		reportQueries(b, g)
	})
}

// reportCPU reports the process CPU time per op since cpu (serial
// benchmarks only: parallel ones would add up every worker's time).
func reportCPU(b *testing.B, cpu time.Duration) {
	if d := cpuTime() - cpu; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func reportQueries(b *testing.B, g *Grid) {
	st := g.Stats()
	b.ReportMetric(float64(st.PairTests)/float64(st.Queries), "candidates/query")
	b.ReportMetric(float64(st.PairHits)/float64(st.Queries), "hits/query")
	b.ReportMetric(st.CellSize, "cell-m")
}

// BenchmarkBytesPerBox measures the heap the grid holds per stored box
// (runtime.MemStats before and after building it; run with -benchtime=1x).
func BenchmarkBytesPerBox(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		var g *Grid
		var before, after runtime.MemStats
		for range b.N {
			g = nil
			runtime.GC()
			runtime.ReadMemStats(&before)
			g = buildGrid(b, boxes)
			runtime.GC()
			runtime.ReadMemStats(&after)
		}
		n := float64(len(boxes))
		st := g.Stats()
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "bytes/box")
		b.ReportMetric(float64(st.Bytes)/n, "est-bytes/box")
		b.ReportMetric(float64(st.Entries)/n, "entries/box")
		b.ReportMetric(float64(st.Cells)/n, "cells/box")
		b.ReportMetric(st.Occupancy, "occupancy")
		b.ReportMetric(st.CellSize, "cell-m")
		runtime.KeepAlive(g)
	})
}

// BenchmarkRebuild measures what an adopted resize costs inside Adjust.
func BenchmarkRebuild(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		g := buildGrid(b, boxes)
		s := g.CellSize()
		b.ResetTimer()
		for i := range b.N {
			g.rebuild(s * float64(1+i%2))
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/rebuild")
	})
}

// BenchmarkAdjustEvaluate measures an Adjust that evaluates a candidate size
// and rejects it (both traffics settle above the band, where shrinking
// would empty level 0): the pass over the boxes that the hold rule keeps
// from repeating every tick.
func BenchmarkAdjustEvaluate(b *testing.B) {
	forEachCase(b, func(b *testing.B, boxes []Box) {
		g := buildGrid(b, boxes)
		s := g.CellSize()
		b.ResetTimer()
		for range b.N {
			g.hold.active = false
			if g.Adjust() || g.CellSize() != s {
				b.Fatalf("Adjust resized %g -> %g", s, g.CellSize())
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/evaluation")
	})
}
