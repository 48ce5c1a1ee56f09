package engine

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
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

// BenchmarkOpenRiskMemory measures the heap an open risk holds: 460 drones at
// one spot open 105,570 risks (the cap raised above that); B/risk is the live
// heap after GC, less the same drones without risks, per open risk.
func BenchmarkOpenRiskMemory(b *testing.B) {
	const n = 460
	t0 := 1_700_000_000.0
	ups := make([]Update, n)
	for i := range ups {
		ups[i] = Update{ID: []byte(fmt.Sprintf("d%04d", i)), V: drone(float64(i%20), 0, t0)}
		ups[i].V.Y = float64(i / 20)
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var perRisk, reported float64
	for i := 0; i < b.N; i++ {
		cfg := Default()
		cfg.MaxOpenRisks = 1 << 20
		far := make([]Update, n) // the same drones, 1 km apart: no risk
		for j := range far {
			far[j] = ups[j]
			far[j].V.X, far[j].V.T = float64(j)*1000, t0
		}
		e, err := New(cfg, builtinModels())
		if err != nil {
			b.Fatal(err)
		}
		e.AddSink(SinkFunc(func([]Event) {}))
		_ = e.TrySubmit(far)
		e.Tick()
		h0 := heap()
		for j := range ups {
			ups[j].V.T = t0 + 1
		}
		_ = e.TrySubmit(ups)
		e.Tick()
		// Two quiet ticks let the tick's scratch buffers (the burst of
		// 105,570 events, the scored pairs) go, as they do in service.
		e.Tick()
		e.Tick()
		h1 := heap()
		open := e.Stats().OpenRisks
		if open != n*(n-1)/2 {
			b.Fatalf("%d risks open, want %d", open, n*(n-1)/2)
		}
		perRisk = float64(h1-h0) / float64(open)
		reported = float64(e.Memory().Risks) / float64(open)
		runtime.KeepAlive(e)
	}
	b.ReportMetric(perRisk, "heap-B/risk")
	b.ReportMetric(reported, "accounted-B/risk")
}

// BenchmarkDenseSpot is the 2,000 drones reported at one spot in one request
// (1,999,000 pairs in conflict) at the default bounds: one op is one tick of
// the whole request. It reports the tick time, the open and untracked risks
// and the live heap after the tick.
func BenchmarkDenseSpot(b *testing.B) {
	const n = 2000
	e, err := New(Default(), builtinModels())
	if err != nil {
		b.Fatal(err)
	}
	e.AddSink(SinkFunc(func([]Event) {}))
	t0 := 1_700_000_000.0
	ups := make([]Update, n)
	for i := range ups {
		ups[i] = Update{ID: []byte(fmt.Sprintf("show-%04d", i)), V: drone(float64(i%45), 0, t0)}
		ups[i].V.Y = float64(i / 45)
	}
	var worst time.Duration
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for j := range ups {
			ups[j].V.T = t0 + float64(i)
		}
		if err := e.TrySubmit(ups); err != nil {
			b.Fatal(err)
		}
		ts := e.Tick()
		worst = max(worst, ts.Duration)
	}
	b.StopTimer()
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/tick")
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	st := e.Stats()
	b.ReportMetric(float64(worst.Milliseconds()), "worst-tick-ms")
	b.ReportMetric(float64(st.OpenRisks), "open-risks")
	b.ReportMetric(float64(st.Untracked)/float64(b.N), "untracked/tick")
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MB")
}

// BenchmarkShow is a 10,000-drone light show (a 100 x 100 grid at 2 m
// spacing, one group) with 100 intruders crossing it, every vehicle reporting
// at 1 Hz in ticks of 100 ms: one op is one second. It reports updates/s,
// the worst tick, pairs scored per update (the show's 50 million internal
// pairs are never formed), the open risks (all the intruders' conflicts),
// those left untracked (must be 0: every conflict within its tick) and the
// live heap.
func BenchmarkShow(b *testing.B) {
	const side, intruders = 100, 100
	n := side*side + intruders
	cfg := Default()
	// Each intruder inside the show conflicts with the ~2,000 drones within
	// its 50 m zone: room for all of them, so that none is left untracked.
	cfg.MaxOpenRisks = 1_000_000
	e, err := New(cfg, builtinModels())
	if err != nil {
		b.Fatal(err)
	}
	e.AddSink(SinkFunc(func([]Event) {}))
	t0 := 1_700_000_000.0
	ups := make([]Update, n)
	for i := range side * side {
		ups[i] = Update{ID: []byte(fmt.Sprintf("show-%05d", i)), Group: []byte("show"),
			V: abi.Vehicle{X: float64(i%side) * 2, Y: float64(i/side) * 2, Z: 100, Alt: 100, HSep: 1, VSep: 1, T: t0}}
	}
	for k := range intruders { // crossing the show at 10 m/s, spread over the square
		v := drone(-300+float64(k)*7, 10, t0)
		v.Y = float64(k) * 2
		ups[side*side+k] = Update{ID: []byte(fmt.Sprintf("intruder-%03d", k)), V: v}
	}
	second := func(s int) time.Duration {
		var worst time.Duration
		for tick := range 10 {
			batch := ups[:0:0]
			for i := tick; i < n; i += 10 {
				u := &ups[i]
				u.V.T = t0 + float64(s) + float64(tick)/10
				if u.Group == nil {
					u.V.X = -300 + float64(i-side*side)*7 + 10*(u.V.T-t0)
				}
				batch = append(batch, *u)
			}
			if err := e.TrySubmit(batch); err != nil {
				b.Fatal(err)
			}
			worst = max(worst, e.Tick().Duration)
		}
		return worst
	}
	second(0)
	st0 := e.Stats()
	var worst time.Duration
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		worst = max(worst, second(i+1))
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	// On a shared machine the wall clock counts other processes' time too:
	// CPU seconds per second of traffic say what the show costs.
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	st := e.Stats()
	updates := float64(n) * float64(b.N)
	b.ReportMetric(updates/el.Seconds(), "updates/s")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-tick-ms")
	b.ReportMetric(float64(st.PairsScored-st0.PairsScored)/updates, "pairs/update")
	b.ReportMetric(float64(st.OpenRisks), "open-risks")
	b.ReportMetric(float64(st.Untracked), "untracked")
	b.ReportMetric(float64(m.HeapAlloc)/(1<<20), "heap-MB")
}
