package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// restWorld pre-renders the NDJSON bodies of a load: vehicles drones spread at
// two per km² around the origin, in batches of batch records, over rounds
// seconds of traffic at 1 Hz. Each round also carries probes: pairs of drones
// 30 m apart, new ids every round, so that each opens a risk at once; the time
// from sending a probe's batch to its "opened" event on the stream is the
// ingest-to-risk latency.
type restWorld struct {
	bodies [][][]byte // [round][batch]
	probes [][]string // [round][batch] probe id carried by the batch ("" none)
	total  int
}

func newRestWorld(vehicles, batch, rounds int, lat0, lon0 float64) *restWorld {
	w := &restWorld{}
	side := math.Sqrt(float64(vehicles)/2) * 1000 // metres
	mPerDegLat := 111_320.0
	mPerDegLon := 111_320.0 * math.Cos(lat0*math.Pi/180)
	t0 := float64(time.Now().Unix()) - float64(rounds)
	for r := 0; r < rounds; r++ {
		var bodies [][]byte
		var probes []string
		t := t0 + float64(r)
		for lo := 0; lo < vehicles; lo += batch {
			var b []byte
			rec := func(id string, x, y, alt, vx, vy float64) {
				b = append(b, `{"id":"`...)
				b = append(b, id...)
				b = append(b, `","t":`...)
				b = strconv.AppendFloat(b, t, 'f', 3, 64)
				b = append(b, `,"lat":`...)
				b = strconv.AppendFloat(b, lat0+y/mPerDegLat, 'f', 7, 64)
				b = append(b, `,"lon":`...)
				b = strconv.AppendFloat(b, lon0+x/mPerDegLon, 'f', 7, 64)
				b = append(b, `,"alt":`...)
				b = strconv.AppendFloat(b, alt, 'f', 1, 64)
				b = append(b, `,"vx":`...)
				b = strconv.AppendFloat(b, vx, 'f', 2, 64)
				b = append(b, `,"vy":`...)
				b = strconv.AppendFloat(b, vy, 'f', 2, 64)
				b = append(b, `,"vz":0}`...)
				b = append(b, '\n')
			}
			n := min(batch, vehicles-lo)
			probe := ""
			if (lo/batch)%10 == 0 { // a probe pair in every tenth batch
				probe = fmt.Sprintf("p%d-%d", r, lo/batch)
				x := float64((lo*7919)%int(side)) - side/2
				rec(probe+"a", x, -side/2-5000, 100, 0, 0)
				rec(probe+"b", x+30, -side/2-5000, 100, 0, 0)
				n -= 2
			}
			for i := lo; i < lo+n; i++ {
				// a fixed pseudo-random position and heading per vehicle
				h := uint64(i)*0x9e3779b97f4a7c15 + 1
				x := float64(h%uint64(side)) - side/2
				y := float64((h>>20)%uint64(side)) - side/2
				hdg := float64(h>>40%360) * math.Pi / 180
				vx, vy := 12*math.Sin(hdg), 12*math.Cos(hdg)
				rec("d"+strconv.Itoa(i), x+vx*float64(r), y+vy*float64(r), 50+float64(h%100), vx, vy)
			}
			bodies = append(bodies, b)
			probes = append(probes, probe)
			w.total += strings.Count(string(b), "\n")
		}
		w.bodies = append(w.bodies, bodies)
		w.probes = append(w.probes, probes)
	}
	return w
}

// BenchmarkRESTIngest measures REST ingest over loopback: 1,000-record NDJSON
// batches posted by 4 concurrent clients (the load generator, on the same
// 2-core machine as the server) with 100,000 live vehicles reporting at 1 Hz.
// It reports updates/s (records accepted and applied) and the p50/p99 time
// from posting a record to its risk event arriving on the SSE stream.
func BenchmarkRESTIngest(b *testing.B) {
	// rate 0: as fast as the clients can (throughput; latency then includes
	// the queue the load builds). A paced rate measures latency below
	// saturation.
	for _, rate := range []int{0, 200_000} {
		name := "rate=max"
		if rate > 0 {
			name = "rate=" + strconv.Itoa(rate)
		}
		b.Run(name, func(b *testing.B) { benchRESTIngest(b, 100_000, 1000, rate) })
	}
	// Light load: 10,000 vehicles paced at 20,000 updates/s in batches of
	// 100. A tick starts as soon as updates wait, so the latency is a tick's
	// compute time, not the processing interval.
	b.Run("vehicles=10000/rate=20000", func(b *testing.B) { benchRESTIngest(b, 10_000, 100, 20_000) })
}

func benchRESTIngest(b *testing.B, vehicles, batch, rate int) {
	const clients = 4
	cfg := config.Default()
	cfg.System.MaxTPS = 100_000_000
	cfg.System.ThrottlingThreshold = 1
	cfg.Compute.MaxWorkers = 2
	cfg.Compute.BatchSize = 1024
	cfg.System.Frame.Origin = config.Origin{Lat: 51.5, Lon: -0.12}
	n, err := NewNode(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := n.API(api.Version{Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, nil) }()
	defer func() { cancel(); <-done }()

	world := newRestWorld(vehicles, batch, 3+b.N, 51.5, -0.12)

	// The stream: record when each probe's risk opens.
	var (
		mu       sync.Mutex
		sent     = map[string]time.Time{}
		latency  []time.Duration
		streamOK = make(chan struct{})
		streamed atomic.Int64
	)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	go func() {
		req, _ := http.NewRequestWithContext(sctx, http.MethodGet, base+"/api/v1/risks/stream", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			close(streamOK)
			return
		}
		defer resp.Body.Close()
		close(streamOK)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data: ")) {
				continue
			}
			streamed.Add(1)
			var ev struct {
				Type     string `json:"type"`
				VehicleA string `json:"vehicle_a"`
				VehicleB string `json:"vehicle_b"`
			}
			if json.Unmarshal(line[6:], &ev) != nil || ev.Type != "opened" || !strings.HasPrefix(ev.VehicleA, "p") {
				continue
			}
			now := time.Now()
			mu.Lock()
			// Only the pair of one probe: probes of successive rounds stand
			// at the same places and also meet each other.
			probe := strings.TrimSuffix(ev.VehicleA, "a")
			if t0, ok := sent[probe]; ok && ev.VehicleB == probe+"b" {
				latency = append(latency, now.Sub(t0))
			}
			mu.Unlock()
		}
	}()
	<-streamOK

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	post := func(body []byte) error {
		for {
			resp, err := client.Post(base+"/api/v1/locations", "application/x-ndjson", bytes.NewReader(body))
			if err != nil {
				return err
			}
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusAccepted:
				return nil
			case http.StatusTooManyRequests:
				time.Sleep(5 * time.Millisecond)
			default:
				return fmt.Errorf("POST: %s", resp.Status)
			}
		}
	}
	var paceStart time.Time
	sentBatches := 0
	round := func(r int) {
		var next atomic.Int64
		base := sentBatches
		sentBatches += len(world.bodies[r])
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= len(world.bodies[r]) {
						return
					}
					if rate > 0 {
						due := paceStart.Add(time.Duration(float64(base+i) * float64(batch) / float64(rate) * float64(time.Second)))
						if d := time.Until(due); d > 0 {
							time.Sleep(d)
						}
					}
					if p := world.probes[r][i]; p != "" {
						mu.Lock()
						sent[p] = time.Now()
						mu.Unlock()
					}
					if err := post(world.bodies[r][i]); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	// Warm up: every vehicle known, buffers grown.
	paceStart = time.Now()
	for r := 0; r < 3; r++ {
		round(r)
	}
	waitApplied(b, n, uint64(3*vehicles))
	mu.Lock()
	latency = latency[:0]
	mu.Unlock()
	applied0 := n.Engine.Stats().Applied
	b.ResetTimer()
	start := time.Now()
	paceStart, sentBatches = start, 0
	for i := 0; i < b.N; i++ {
		round(3 + i)
	}
	waitApplied(b, n, applied0+uint64(b.N*len(world.bodies[0])*batch))
	el := time.Since(start)
	b.StopTimer()
	time.Sleep(300 * time.Millisecond) // the last probes' events
	applied := n.Engine.Stats().Applied - applied0
	b.ReportMetric(float64(applied)/el.Seconds(), "updates/s")
	mu.Lock()
	defer mu.Unlock()
	if len(latency) > 0 {
		slices.Sort(latency)
		b.ReportMetric(float64(latency[len(latency)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latency[len(latency)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(latency)), "probes")
	}
	b.ReportMetric(float64(streamed.Load())/el.Seconds(), "stream-events/s")
	st := n.Engine.Stats()
	b.Logf("ticks %d, last tick %v, pending %d, events %d, hist %v, phases %v", st.Ticks, st.LastTick, st.Pending, st.Opened+st.Updated+st.Resolved, st.TickHistogram, st.PhaseTotals)
}

// waitApplied waits until the engine has applied at least want updates.
func waitApplied(b *testing.B, n *Node, want uint64) {
	deadline := time.Now().Add(60 * time.Second)
	for n.Engine.Stats().Applied+n.Engine.Stats().Stale+n.Engine.Stats().Duplicates < want {
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d updates applied after 60 s", n.Engine.Stats().Applied, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
