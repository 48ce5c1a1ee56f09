package models

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// BenchmarkSwap measures a hot swap under load: the engine runs on its own
// ticker while 2,000 vehicles and a stream of probe pairs (two vehicles 30 m
// apart, new ids each time, so each opens a risk at once) are submitted;
// each iteration activates the C or the Go CPA example in turn. It reports
// the time from the Activate call to the end of the first batch scored by
// the new model (p50, p99), and the ingest-to-risk latency of the probes
// (submit to "opened" event) in steady state and while swapping. The swap
// waits for the next tick, so the tick interval bounds it: the sub-benchmarks
// run at 20 ms and at the default 100 ms.
func BenchmarkSwap(b *testing.B) {
	for _, iv := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond} {
		b.Run("interval="+iv.String(), func(b *testing.B) { benchSwap(b, iv) })
	}
}

func benchSwap(b *testing.B, interval time.Duration) {
	ccpa, gocpa := example(b, "c-cpa"), example(b, "go-cpa")
	eng := newEngine(b, func(c *engine.Config) { c.ProcessingInterval = interval })
	m := newManager(b, eng, "", func(c *Config) { c.CloseDelay = time.Second })
	ids := []string{mustUpload(b, m, ccpa, "scorer").ID, mustUpload(b, m, gocpa, "scorer").ID}

	var (
		mu       sync.Mutex
		sent     = map[string]time.Time{}
		swapping bool
		steady   []time.Duration
		during   []time.Duration
	)
	eng.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			if e.Type != engine.EventOpened || !strings.HasPrefix(e.VehicleA, "p") {
				continue
			}
			id := strings.TrimSuffix(e.VehicleA, "a")
			id = strings.TrimSuffix(id, "b")
			if t0, ok := sent[id]; ok {
				delete(sent, id)
				if swapping {
					during = append(during, now.Sub(t0))
				} else {
					steady = append(steady, now.Sub(t0))
				}
			}
		}
	}))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); eng.Run(ctx) }()
	go func() { // the feeder
		defer wg.Done()
		const n = 2000
		ups := make([]engine.Update, 0, n+2)
		tk := time.NewTicker(interval / 2)
		defer tk.Stop()
		for probe := 0; ; probe++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			t := float64(time.Now().UnixNano()) / 1e9
			ups = ups[:0]
			for i := 0; i < n; i++ {
				// pairs 40 m apart along a line, 5 km between pairs: one open risk per pair
				x := float64(i/2)*5000 + 40*float64(i%2)
				ups = append(ups, engine.Update{ID: []byte("v" + strconv.Itoa(i)),
					V: abi.Vehicle{X: x, Y: 1000, Z: 100, Alt: 100, VX: 3, T: t, HSep: 50, VSep: 25, Radius: 1}})
			}
			pid := "p" + strconv.Itoa(probe)
			px := float64(probe%1000) * 5000
			for j, suffix := range []string{"a", "b"} {
				ups = append(ups, engine.Update{ID: []byte(pid + suffix),
					V: abi.Vehicle{X: px + 30*float64(j), Y: -1000, Z: 100, Alt: 100, T: t, HSep: 50, VSep: 25, Radius: 1}})
			}
			mu.Lock()
			sent[pid] = time.Now()
			mu.Unlock()
			if err := eng.TrySubmit(ups); err != nil {
				b.Error(err)
				return
			}
		}
	}()
	time.Sleep(40 * interval) // steady state
	mu.Lock()
	swapping = true
	mu.Unlock()

	lat := make([]time.Duration, 0, b.N)
	var callLat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := ids[i%2]
		ta := time.Now()
		if _, err := m.Activate(ctx, id, Actor{}); err != nil {
			b.Fatal(err)
		}
		callLat = append(callLat, time.Since(ta))
		deadline := time.Now().Add(10 * time.Second)
		for {
			in, err := m.Get(id)
			if err != nil {
				b.Fatal(err)
			}
			if in.Metrics.SwapLatencyMS > 0 {
				lat = append(lat, time.Duration(in.Metrics.SwapLatencyMS*1e6))
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the new model scored no batch within 10 s")
			}
			time.Sleep(time.Millisecond)
		}
		// Sleep a random part of an interval too, so that the activations do
		// not lock onto the ticker's phase.
		time.Sleep(3*interval + rand.N(interval))
	}
	b.StopTimer()
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	pct := func(d []time.Duration, p float64) float64 {
		if len(d) == 0 {
			return 0
		}
		s := slices.Clone(d)
		slices.Sort(s)
		return float64(s[min(len(s)-1, int(p*float64(len(s))))]) / 1e6
	}
	b.ReportMetric(pct(lat, 0.5), "swap-p50-ms")
	b.ReportMetric(pct(lat, 0.99), "swap-p99-ms")
	b.ReportMetric(pct(callLat, 0.99), "activate-call-p99-ms")
	b.ReportMetric(pct(steady, 0.99), "risk-p99-steady-ms")
	b.ReportMetric(pct(during, 0.99), "risk-p99-swapping-ms")
	b.ReportMetric(pct(during, 1), "risk-max-swapping-ms")
	if testing.Verbose() {
		fmt.Printf("interval %v: %d swaps, %d steady probes, %d probes while swapping\n", interval, len(lat), len(steady), len(during))
	}
}
