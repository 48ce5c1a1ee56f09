package api_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// loadBatch is one pre-built 1000-record body whose timestamps are rewritten
// in place before each send (fixed-width digits), so that every send is a
// new state for its vehicles and the engine does real work.
type loadBatch struct {
	body  []byte
	tOffs []int // offsets of the 14-byte timestamps
}

const tWidth = 14 // "1700000000.000"

func makeLoadBatches(nBatches, perBatch int, t0 float64) []*loadBatch {
	out := make([]*loadBatch, nBatches)
	ts := strconv.FormatFloat(t0, 'f', 3, 64)
	for k := range out {
		lb := &loadBatch{}
		var b bytes.Buffer
		b.WriteByte('[')
		for i := range perBatch {
			v := k*perBatch + i
			if i > 0 {
				b.WriteByte(',')
			}
			// 100,000 drones on a 316 x 316 lattice 1 km apart (about
			// 300 km x 300 km around the frame origin): busy airspace where
			// conflicts are the exception, as in real traffic.
			lat := 50.1 + float64(v%316)*0.009
			lon := -2.4 + float64(v/316)*0.0145
			fmt.Fprintf(&b, `{"id":"veh-%07d","t":`, v)
			lb.tOffs = append(lb.tOffs, b.Len())
			b.WriteString(ts)
			fmt.Fprintf(&b, `,"lat":%.6f,"lon":%.6f,"alt":%.1f,"speed":%.1f,"track":%.1f,"vrate":0}`,
				lat, lon, 60+float64(v%80), 8+float64(v%15), float64(v*37%360))
		}
		b.WriteByte(']')
		lb.body = b.Bytes()
		out[k] = lb
	}
	return out
}

func (lb *loadBatch) stamp(t float64, scratch []byte) {
	scratch = strconv.AppendFloat(scratch[:0], t, 'f', 3, 64)
	if len(scratch) != tWidth {
		panic("timestamp width")
	}
	for _, off := range lb.tOffs {
		copy(lb.body[off:off+tWidth], scratch)
	}
}

// BenchmarkRESTIngestLoopback is REST ingest over loopback as a user runs it:
// the engine ticking every 100 ms (engine.Run) with the builtin models, the
// API on a real listener, and the load generator in the same process sending
// 1000-record WGS84 batches (100,000 drones) over 4 keep-alive connections.
// Beside the load, a probe sends a conflicting pair far from the traffic at a
// random phase of the tick and times its "opened" event on a live stream. It
// reports accepted records/s (what the API acknowledged), applied/s (what the
// engine applied by the end, the drain included), the 429s seen (engine queue
// full: backpressure), and the probe's p50/p99 from sending the pair to
// receiving its event. CDP_BENCH_NO_TICK=1 measures the API alone (the engine
// accepts but does not tick).
func BenchmarkRESTIngestLoopback(b *testing.B) {
	const perBatch, conns, world = 1000, 4, 100
	noTick := os.Getenv("CDP_BENCH_NO_TICK") != ""
	h := newHarness(b, nil, func(c *engine.Config) {
		if noTick { // nothing drains the queue: let it hold the whole run
			c.MaxPending = b.N*perBatch + 1000
		}
	})
	eng := h.eng
	addr := strings.TrimPrefix(h.base, "http://")
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	if !noTick {
		go func() { _ = eng.Run(ctx); close(runDone) }()
	} else {
		close(runDone)
	}

	t0 := float64(time.Now().Unix() - 25)
	batches := makeLoadBatches(world, perBatch, t0)
	url := h.base + "/api/v1/locations"
	var next, throttled atomic.Int64

	// The probe: a pair far from the load (x >= 2000 km in the frame), timed
	// from sending to its "opened" event on a stream filtered by its vehicle
	// (opened before the send, so setup is not timed).
	var (
		probeLat  []time.Duration
		probeStop = make(chan struct{})
		probeWG   sync.WaitGroup
	)
	probeWG.Add(1)
	go func() {
		defer probeWG.Done()
		if noTick {
			return // no tick, no event
		}
		c := &fasthttp.HostClient{Addr: addr, MaxConns: 1}
		for i := 0; ; i++ {
			select {
			case <-probeStop:
				return
			case <-time.After(time.Duration(rand.Int64N(100)) * time.Millisecond):
			}
			a, bb := fmt.Sprintf("probe-%d-a", i), fmt.Sprintf("probe-%d-b", i)
			stream := h.stream("?vehicle=" + a)
			x, t := 2000000+float64(i)*5000, nowUnix()-1
			body := "[" + rec(a, t, x, 0, 100, 10, 0) + "," + rec(bb, t, x+400, 0, 100, -10, 0) + "]"
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			req.SetRequestURI(url)
			req.Header.SetMethod("POST")
			req.Header.SetContentType("application/json")
			req.SetBodyString(body)
			sent := time.Now()
			err := c.Do(req, resp)
			ok := err == nil && resp.StatusCode() == 202
			fasthttp.ReleaseRequest(req)
			fasthttp.ReleaseResponse(resp)
			for ok {
				ev, got := stream.next(b, 10*time.Second)
				if !got {
					break
				}
				if ev.name == "opened" {
					probeLat = append(probeLat, time.Since(sent))
					break
				}
			}
			stream.resp.Body.Close()
		}
	}()

	b.SetBytes(int64(len(batches[0].body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	locks := make([]sync.Mutex, world) // a body is stamped and copied by one connection at a time
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fasthttp.HostClient{Addr: addr, MaxConns: 1}
			req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
			defer fasthttp.ReleaseRequest(req)
			defer fasthttp.ReleaseResponse(resp)
			var scratch [32]byte
			for {
				n := next.Add(1) - 1
				if n >= int64(b.N) {
					return
				}
				k := int(n % world)
				locks[k].Lock()
				batches[k].stamp(t0+float64(n/world+1)*1e-3, scratch[:])
				req.Reset()
				req.SetRequestURI(url)
				req.Header.SetMethod("POST")
				req.Header.SetContentType("application/json")
				req.SetBody(batches[k].body)
				locks[k].Unlock()
				for {
					if err := c.Do(req, resp); err != nil {
						b.Error(err)
						return
					}
					if resp.StatusCode() == 202 {
						break
					}
					if resp.StatusCode() != 429 {
						b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
						return
					}
					throttled.Add(1)
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(probeStop)
	probeWG.Wait()
	cancel()
	<-runDone
	drained := time.Since(start)
	h.stop()
	st := eng.Stats()
	b.ReportMetric(float64(b.N*perBatch)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(st.Applied)/drained.Seconds(), "applied/s")
	b.ReportMetric(float64(throttled.Load()), "429s")
	b.ReportMetric(float64(st.Opened), "risks-opened")
	if len(probeLat) > 0 {
		sort.Slice(probeLat, func(i, j int) bool { return probeLat[i] < probeLat[j] })
		b.ReportMetric(float64(probeLat[len(probeLat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(probeLat[len(probeLat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(probeLat)), "probes")
	}
	if want := uint64(b.N * perBatch); st.Accepted < want {
		b.Fatalf("engine accepted %d, want at least %d", st.Accepted, want)
	}
}

// BenchmarkStreamLatency measures the time from sending a conflicting pair to
// receiving its "opened" event on the live stream, with the engine ticking
// every 100 ms (so about half a tick plus the tick's work is expected).
func BenchmarkStreamLatency(b *testing.B) {
	h := newHarness(b, nil, func(c *engine.Config) { c.ProcessingInterval = 100 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { _ = h.eng.Run(ctx); close(runDone) }()
	defer func() { cancel(); <-runDone }()
	s := h.stream("")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// Send at a random phase of the tick: back to back, every send would
		// land just after a tick and wait a whole interval.
		b.StopTimer()
		time.Sleep(time.Duration(rand.Int64N(int64(100 * time.Millisecond))))
		b.StartTimer()
		t := nowUnix() - 1
		sent := time.Now()
		a, bb := fmt.Sprintf("p%d-a", i), fmt.Sprintf("p%d-b", i)
		x := float64(i) * 10000 // pairs far apart: each opens one risk
		h.ingest("[" + rec(a, t, x, 0, 100, 10, 0) + "," + rec(bb, t, x+400, 0, 100, -10, 0) + "]")
		for {
			ev, ok := s.next(b, 5*time.Second)
			if !ok {
				b.Fatal("no event")
			}
			if ev.name == "opened" && strings.Contains(ev.data, `"vehicle_a":"`+a+`"`) {
				break
			}
		}
		lat = append(lat, time.Since(sent))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	h.stop()
}
