package engine

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// benchWorld builds n vehicles at two per km² (uniform) so that a drone's
// swept box overlaps a handful of others, as in a busy low-level airspace.
// Hotspot traffic puts 70 % of them in clusters of 1,400 vehicles each, 2 km
// in spread: about 25 per km² there, twelve times the background.
func benchWorld(kind string, n int) *traffic {
	area := math.Sqrt(float64(n)/2) * 1000
	return newTrafficSigma(kind, n, 42, area, 2000, max(1, n/2000))
}

// BenchmarkEngine measures the whole pipeline (apply, predict, grid, query,
// score, track) with every vehicle reporting at 1 Hz: one op is one second of
// traffic, fed in ticks of 100 ms. It reports updates/s, candidate pairs per
// update, bytes per live vehicle and allocations per update.
func BenchmarkEngine(b *testing.B) {
	for _, kind := range []string{"uniform", "hotspot"} {
		for _, n := range []int{10_000, 100_000, 1_000_000} {
			b.Run(fmt.Sprintf("%s/vehicles=%d", kind, n), func(b *testing.B) {
				if n >= 1_000_000 && testing.Short() {
					b.Skip("1M vehicles in -short")
				}
				benchEngine(b, kind, n)
			})
		}
	}
}

func benchEngine(b *testing.B, kind string, n int) {
	benchEngineModels(b, kind, n, builtinModels())
}

func benchEngineModels(b *testing.B, kind string, n int, models Models) {
	w := benchWorld(kind, n)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cfg := Default()
	cfg.MaxPending = n
	cfg.BatchSize = 1024
	e, err := New(cfg, models)
	if err != nil {
		b.Fatal(err)
	}
	const ticksPerSecond = 10
	per := (n + ticksPerSecond - 1) / ticksPerSecond
	ups := make([]Update, 0, per)
	second := func() {
		for lo := 0; lo < n; lo += per {
			ups = ups[:0]
			for i := lo; i < min(lo+per, n); i++ {
				w.step(i, 1)
				ups = append(ups, w.update(i))
			}
			if err := e.TrySubmit(ups); err != nil {
				b.Fatal(err)
			}
			e.Tick()
		}
	}
	// Warm up: every vehicle in, buffers at their steady size.
	second()
	second()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	bytesPerVehicle := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)

	pairs0 := e.Stats().PairsScored
	e.stats.phaseNanos = [5]atomic.Int64{}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for i := 0; i < b.N; i++ {
		second()
	}
	runtime.ReadMemStats(&m1)
	el := time.Since(start)
	b.StopTimer()
	updates := float64(n) * float64(b.N)
	b.ReportMetric(updates/el.Seconds(), "updates/s")
	b.ReportMetric(float64(e.Stats().PairsScored-pairs0)/updates, "pairs/update")
	b.ReportMetric(bytesPerVehicle, "heap-B/vehicle")
	mem := e.Memory()
	b.ReportMetric(float64(mem.State+mem.Grid)/float64(n), "state+grid-B/vehicle")
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/updates, "allocs/update")
	b.ReportMetric(e.grid.CellSize(), "cell-m")
	st := e.Stats()
	b.Logf("phase totals (apply, predict, score, track, adjust): %v; ticks %d", st.PhaseTotals, st.Ticks)
}
