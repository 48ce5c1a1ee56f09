package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// benchEngine is an engine ticking every 50 ms on data time, with the
// builtin models.
func benchEngine(b *testing.B) (*engine.Engine, *ingest.Validator, *geo.Frame, func()) {
	e, err := engine.New(engine.Config{ProcessingInterval: 50 * time.Millisecond, MaxDistance: 200, MaxPending: 1 << 21},
		engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		b.Fatal(err)
	}
	val, _ := ingest.NewValidator(ingest.Options{}, nil)
	frame, _ := geo.New(geo.Config{Lat: 51.5, Lon: -0.12})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	return e, val, frame, func() { cancel(); <-done }
}

// BenchmarkConsumeIntoEngine measures records/s from vehicle-locations (kfake,
// 4 partitions, one record per message, or 100 per message as a JSON array)
// into the engine: accepted (decoded, validated, normalised, submitted) and
// applied to the state table. The messages are produced before the timer
// starts.
func BenchmarkConsumeIntoEngine(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("records_per_message=%d", per), func(b *testing.B) {
			n := max(b.N, 200_000)
			n -= n % per
			c := NewCluster(b, 4)
			k := ClusterConfig(c, "bench")
			eng, val, frame, stop := benchEngine(b)
			defer stop()
			const vehicles = 50_000
			rng := rand.New(rand.NewPCG(3, 4))
			t0 := float64(time.Now().Unix() - 7200)
			keys := make([][]byte, 0, n/per)
			values := make([][]byte, 0, n/per)
			var msg []byte
			for i := range n {
				v := i % vehicles
				rec := fmt.Appendf(nil, `{"id":"v%05d","t":%.1f,"x":%.1f,"y":%.1f,"z":%.1f,"vx":%.2f,"vy":%.2f,"vz":0}`,
					v, t0+float64(i/vehicles), rng.Float64()*200_000, rng.Float64()*200_000, 100+rng.Float64()*1000,
					rng.Float64()*40-20, rng.Float64()*40-20)
				if per == 1 {
					keys, values = append(keys, fmt.Appendf(nil, "v%05d", v)), append(values, rec)
					continue
				}
				if len(msg) == 0 {
					msg = append(msg, '[')
				} else {
					msg = append(msg, ',')
				}
				msg = append(msg, rec...)
				if (i+1)%per == 0 {
					keys, values = append(keys, fmt.Appendf(nil, "b%d", i)), append(values, append(msg, ']'))
					msg = nil
				}
			}
			ProduceAll(b, c.ListenAddrs(), k.Topics.VehicleLocations, keys, values)
			cons, err := NewConsumer(ConsumerOptions{Kafka: k, Engine: eng, Validator: val, Frame: frame})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			stopC := runConsumer(b, cons)
			for cons.Stats().Submitted < uint64(n) {
				time.Sleep(time.Millisecond)
			}
			accepted := time.Since(start)
			if err := eng.WaitApplied(context.Background()); err != nil {
				b.Fatal(err)
			}
			applied := time.Since(start)
			b.StopTimer()
			_ = stopC()
			if s := cons.Stats(); s.Rejected != 0 {
				b.Fatalf("%d records rejected", s.Rejected)
			}
			b.ReportMetric(float64(n)/accepted.Seconds(), "records/s_accepted")
			b.ReportMetric(float64(n)/applied.Seconds(), "records/s_applied")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkEndToEnd produces traffic at a steady rate (converging pairs, one
// data second of every vehicle per 100 ms of wall time) to vehicle-locations
// and reads the risk events from collision-risks, through a Bridge and a
// running engine (ticking every 50 ms). It reports the records/s carried and
// the time from producing a data second's last record to reading a risk
// event of that data time (p50, p99).
func BenchmarkEndToEnd(b *testing.B) {
	const pairs = 5_000 // 10,000 vehicles, 100,000 records/s
	steps := max(b.N, 60)
	c := NewCluster(b, 4)
	k := ClusterConfig(c, "e2e")
	eng, val, frame, stop := benchEngine(b)
	defer stop()
	br, err := New(Options{Kafka: k, Node: "bench", Engine: eng, Validator: val, Frame: frame})
	if err != nil {
		b.Fatal(err)
	}
	eng.AddSink(br)

	// Pair i: two vehicles on one line, 2,000..42,000 m apart, closing at
	// 40 m/s, so that conflicts open all along the run; pairs 10 km apart.
	t0 := float64(time.Now().Unix() - 3600)
	type veh struct {
		id   string
		x, y float64
		vx   float64
	}
	vs := make([]veh, 0, 2*pairs)
	for i := range pairs {
		gx, gy := float64(i%70)*10_000, float64(i/70)*60_000
		d := 2_000 + float64(i%40)*1_000
		vs = append(vs, veh{id: fmt.Sprintf("p%da", i), x: gx, y: gy, vx: 20}, veh{id: fmt.Sprintf("p%db", i), x: gx + d, y: gy, vx: -20})
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	read, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(k.Topics.CollisionRisks),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer read.Close()

	var mu sync.Mutex
	producedAt := map[float64]time.Time{} // data second -> its last record produced
	var lat []time.Duration
	events := 0
	rctx, stopRead := context.WithCancel(context.Background())
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for rctx.Err() == nil {
			fs := read.PollFetches(rctx)
			now := time.Now()
			fs.EachRecord(func(r *kgo.Record) {
				var ev struct {
					Time float64 `json:"time"`
				}
				if json.Unmarshal(r.Value, &ev) != nil {
					return
				}
				mu.Lock()
				events++
				if at, ok := producedAt[math.Floor(ev.Time)]; ok {
					lat = append(lat, now.Sub(at))
				}
				mu.Unlock()
			})
		}
	}()

	br.Start(nil)
	b.ResetTimer()
	start := time.Now()
	var buf []byte
	for s := range steps {
		due := start.Add(time.Duration(s) * 100 * time.Millisecond)
		time.Sleep(time.Until(due))
		t := t0 + float64(s)
		var wg sync.WaitGroup
		for i := range vs {
			v := &vs[i]
			buf = fmt.Appendf(buf[:0], `{"id":%q,"t":%.1f,"x":%.1f,"y":%.1f,"z":100,"vx":%.1f,"vy":0}`, v.id, t, v.x+v.vx*float64(s), v.y, v.vx)
			wg.Add(1)
			prod.Produce(context.Background(), &kgo.Record{Topic: k.Topics.VehicleLocations, Key: []byte(v.id), Value: append([]byte(nil), buf...)},
				func(*kgo.Record, error) { wg.Done() })
		}
		wg.Wait()
		mu.Lock()
		producedAt[t] = time.Now()
		mu.Unlock()
	}
	total := steps * len(vs)
	for br.Stats().Submitted < uint64(total) {
		time.Sleep(time.Millisecond)
	}
	_ = eng.WaitApplied(context.Background())
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond) // the last events reach the reader
	b.StopTimer()
	stopRead()
	<-readDone
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = br.StopConsuming(ctx)
	stop()
	_ = br.Close(ctx, nil)

	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no risk event read")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(total)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(events), "risk_events")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(0, "ns/op")
}
