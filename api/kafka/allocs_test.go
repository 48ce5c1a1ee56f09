package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// discard is an Ingester that keeps nothing: the allocation guard measures
// the consumer alone.
type discard struct{ n int }

func (d *discard) Submit(_ context.Context, ups []engine.Update) error { d.n += len(ups); return nil }
func (d *discard) WaitApplied(context.Context) error                   { return nil }

// Decoding, validating, normalising and submitting a poll allocates a few
// objects per poll (its offsets), none per record.
func TestHandleAllocatesPerPollNotPerRecord(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	val, _ := ingest.NewValidator(ingest.Options{}, nil)
	frame, _ := geo.New(geo.Config{Lat: 51.5, Lon: -0.12})
	k := config.Default().Messaging.Kafka
	k.BootstrapServers = []string{"127.0.0.1:1"}
	ing := &discard{}
	c, err := NewConsumer(ConsumerOptions{Kafka: k, Engine: ing, Validator: val, Frame: frame})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	recs := make([]*kgo.Record, 1000)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: k.Topics.VehicleLocations, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"id":"v%d","t":%d,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":2}`, i, now)}
	}
	fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: k.Topics.VehicleLocations,
		Partitions: []kgo.FetchPartition{{Partition: 0, HighWatermark: 1000, Records: recs}}}}}}
	ctx := context.Background()
	c.handle(ctx, fs) // grow the buffers
	allocs := testing.AllocsPerRun(20, func() {
		c.pending = c.pending[:0]
		c.handle(ctx, fs)
	})
	if ing.n != 22*len(recs) { // AllocsPerRun runs once more to warm up
		t.Fatalf("submitted %d, want %d", ing.n, 22*len(recs))
	}
	t.Logf("%.0f allocations per poll of %d records", allocs, len(recs))
	if allocs > 4 {
		t.Errorf("%.0f allocations per poll of %d records, want at most 4 (none per record)", allocs, len(recs))
	}
}

// BenchmarkHandle measures the consumer's own work per record, without the
// Kafka client or the engine: decode, validate, normalise and submit a poll
// of 1,000 single-record messages (the CPU the consumer needs per record,
// whatever the machine's other load).
func BenchmarkHandle(b *testing.B) {
	val, _ := ingest.NewValidator(ingest.Options{}, nil)
	frame, _ := geo.New(geo.Config{Lat: 51.5, Lon: -0.12})
	k := config.Default().Messaging.Kafka
	k.BootstrapServers = []string{"127.0.0.1:1"}
	c, err := NewConsumer(ConsumerOptions{Kafka: k, Engine: &discard{}, Validator: val, Frame: frame})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now().Unix()
	recs := make([]*kgo.Record, 1000)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: k.Topics.VehicleLocations, Offset: int64(i),
			Value: fmt.Appendf(nil, `{"id":"v%05d","t":%d,"x":%.1f,"y":%.1f,"z":%.1f,"vx":%.2f,"vy":%.2f,"vz":0}`, i, now, float64(i)*13.7, float64(i)*7.3, 100+float64(i%50), 3.25, -7.5)}
	}
	fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: k.Topics.VehicleLocations,
		Partitions: []kgo.FetchPartition{{Partition: 0, HighWatermark: 1000, Records: recs}}}}}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.pending = c.pending[:0]
		c.handle(ctx, fs)
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}
