package sim

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// benchWorld steps a world of n vehicles at 10 reports per vehicle per
// second in 100 ms steps, so that every step reports every vehicle once.
func benchWorld(b *testing.B, n int, ndjson bool) {
	s, err := New(Config{N: n, Seed: 1, Rate: 10, Start: testStart})
	if err != nil {
		b.Fatal(err)
	}
	now := testStart
	recs := make([]ingest.Record, 0, n*2)
	buf := make([]byte, 0, n*256)
	// Warm up: the first step sizes the Sim's scratch.
	now = now.Add(100 * time.Millisecond)
	buf = s.AppendNDJSON(buf[:0], now)
	reports, bytes := 0, 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		now = now.Add(100 * time.Millisecond)
		if ndjson {
			buf = s.AppendNDJSON(buf[:0], now)
			bytes += len(buf)
			reports += len(s.scratch)
		} else {
			recs = s.Step(now, recs[:0])
			reports += len(recs)
		}
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(reports)/sec, "reports/s")
	b.ReportMetric(sec*1e9/float64(max(reports, 1)), "ns/report")
	if ndjson {
		b.SetBytes(int64(bytes / max(b.N, 1)))
		b.ReportMetric(float64(bytes)/float64(max(reports, 1)), "bytes/report")
	}
}

// BenchmarkStep measures reports generated as ingest records.
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchWorld(b, n, false) })
	}
}

// BenchmarkAppendNDJSON measures reports generated as wire NDJSON, the
// load generator's path.
func BenchmarkAppendNDJSON(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) { benchWorld(b, n, true) })
	}
}

// BenchmarkNew measures building a world and the memory it keeps.
func BenchmarkNew(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			var s *Sim
			for i := 0; i < b.N; i++ {
				var err error
				if s, err = New(Config{N: n, Seed: uint64(i)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vehicles/s")
			b.StopTimer()
			var before, after runtime.MemStats
			s = nil
			runtime.GC()
			runtime.ReadMemStats(&before)
			s, _ = New(Config{N: n, Seed: 1})
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/vehicle")
			runtime.KeepAlive(s)
		})
	}
}
