package api_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/collision-detection-platform/distributed-platform/api"
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
			// A 100 km x 100 km area around the frame origin, 150 m apart on
			// average: a busy drone airspace.
			lat := 51.05 + float64(v%670)*0.0013
			lon := -0.85 + float64(v/670)*0.0021
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
// 1000-record WGS84 batches over 4 keep-alive connections. It reports
// accepted records/s (what the API acknowledged), applied/s (what the engine
// applied by the end, the drain included) and the 429s seen.
func BenchmarkRESTIngestLoopback(b *testing.B) {
	const perBatch, conns, world = 1000, 4, 100
	eng := newEngine(b, nil)
	srv, err := api.New(api.Options{Engine: eng, Frame: testFrame, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	if os.Getenv("CDP_BENCH_NO_TICK") == "" {
		go func() { _ = eng.Run(ctx); close(runDone) }()
	} else {
		close(runDone)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		_ = srv.Shutdown(sctx)
		c()
	}()

	t0 := float64(time.Now().Unix() - 25)
	batches := makeLoadBatches(world, perBatch, t0)
	url := "http://" + ln.Addr().String() + "/api/v1/locations"
	var next, throttled atomic.Int64
	b.SetBytes(int64(len(batches[0].body)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	locks := make([]sync.Mutex, world) // a body is stamped and copied by one connection at a time
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &fasthttp.HostClient{Addr: ln.Addr().String(), MaxConns: 1}
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
	cancel()
	<-runDone
	drained := time.Since(start)
	st := eng.Stats()
	b.ReportMetric(float64(b.N*perBatch)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(st.Applied)/drained.Seconds(), "applied/s")
	b.ReportMetric(float64(throttled.Load()), "429s")
	if st.Accepted != uint64(b.N*perBatch) {
		b.Fatalf("engine accepted %d of %d", st.Accepted, b.N*perBatch)
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
