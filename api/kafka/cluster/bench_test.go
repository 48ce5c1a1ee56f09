package cluster_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api/kafka/cluster"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

// BenchmarkIngest routes uniform 100k-drone traffic (2 per km², 1 Hz, 3 s)
// through the ingest stage into an in-process Kafka (kfake) with 8
// partitions, default tile size and hold time, and reports records/s from
// Add to delivered (ghosts included in the bytes, not in the count).
func BenchmarkIngest(b *testing.B) {
	const n, seconds = 100_000, 3
	rng := rand.New(rand.NewPCG(3, 4))
	side := math.Sqrt(float64(n)/2) * 1000
	ids := make([][]byte, n)
	vs := make([]abi.Vehicle, n)
	for i := range vs {
		sp, hd := 5+rng.Float64()*15, rng.Float64()*2*math.Pi
		vs[i] = abi.Vehicle{X: (rng.Float64() - 0.5) * side, Y: (rng.Float64() - 0.5) * side, Z: 100,
			VX: sp * math.Cos(hd), VY: sp * math.Sin(hd), Radius: 1, HSep: 50, VSep: 25}
		ids[i] = []byte("d" + strconv.Itoa(i))
	}
	_, k := newKafka(b)
	layout, err := tiles.New(tiles.DefaultTileSize, partitions)
	if err != nil {
		b.Fatal(err)
	}
	var st cluster.IngestStats
	var elapsed time.Duration
	for range b.N {
		r, err := tiles.NewRouter(tiles.RouterConfig{Layout: layout, Horizon: 30, MaxDistance: 200, VehicleTTL: 30, HoldTime: 70})
		if err != nil {
			b.Fatal(err)
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(k.BootstrapServers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(1<<16))
		if err != nil {
			b.Fatal(err)
		}
		in, err := cluster.NewIngest(cluster.IngestOptions{Router: r, Client: cl, Topic: k.Topics.VehicleLocations})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		start := time.Now()
		for s := range seconds {
			for i := range vs {
				v := vs[i]
				v.X += v.VX * float64(s)
				v.Y += v.VY * float64(s)
				v.T = 1e9 + float64(s)
				in.Add(ctx, ids[i], &v)
			}
			in.Cut(ctx)
		}
		if err := in.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		st = in.Stats()
		cl.Close()
	}
	b.ReportMetric(float64(st.Records)*float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(st.Router.Ghosts)/float64(st.Router.States)*100, "%ghosts")
	b.ReportMetric(float64(st.Messages), "messages")
}
