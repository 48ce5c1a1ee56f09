package kafka

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// NewCluster starts an in-process kfake cluster holding cdp's topics,
// vehicle-locations with partitions partitions, the others with one.
func NewCluster(t testing.TB, partitions int32, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	k := config.Default().Messaging.Kafka
	opts = append([]kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, k.Topics.VehicleLocations),
		kfake.SeedTopics(1, k.Topics.CollisionRisks, k.Topics.SystemEvents, k.Topics.DeadLetter),
	}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// ClusterConfig returns messaging.kafka for the cluster: reading from the
// earliest offset, short commit interval and linger, a group of its own.
func ClusterConfig(c *kfake.Cluster, group string) config.Kafka {
	k := config.Default().Messaging.Kafka
	k.BootstrapServers = c.ListenAddrs()
	k.StartOffset = "earliest"
	k.ConsumerGroup = group
	k.Consumer.CommitInterval = 100 * time.Millisecond
	k.Consumer.SessionTimeout = 10 * time.Second
	k.Producer.Linger = time.Millisecond
	return k
}

// ProduceAll writes values to topic synchronously, keyed by keys[i] (nil
// keys: none).
func ProduceAll(t testing.TB, addrs []string, topic string, keys, values [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ProducerLinger(time.Millisecond),
		kgo.MaxBufferedRecords(1<<20), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i, v := range values {
		r := &kgo.Record{Topic: topic, Value: v}
		if keys != nil {
			r.Key = keys[i]
		}
		wg.Add(1)
		cl.Produce(context.Background(), r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				first = err
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// ReadTopic reads topic from the start until it has n records or timeout
// passes, and returns what it read.
func ReadTopic(t testing.TB, addrs []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// Header returns the value of header key of r ("" when absent).
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// RecordJSON writes a geodetic recording row as one wire record.
func RecordJSON(b []byte, r *ingest.Record, class string) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, string(r.ID))
	num := func(key string, v float64) {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, '"', ':')
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	num("t", r.T)
	num("lat", r.Lat)
	num("lon", r.Lon)
	num("alt", r.Alt)
	num("vx", r.VX)
	num("vy", r.VY)
	num("vz", r.VZ)
	if class != "" {
		b = append(b, `,"class":`...)
		b = strconv.AppendQuote(b, class)
	}
	return append(b, '}')
}

// DataFile is the path of examples/data/rel, the recorded traffic kept in
// the repository.
func DataFile(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "examples", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("recorded traffic: %v", err)
	}
	return p
}

// DataTicker is an Ingester that ticks its engine on data-time boundaries of
// Interval seconds, as `cdp replay` does, so that a run through Kafka is
// comparable tick for tick with a replay. Updates wait in it until a later
// update crosses the boundary (or Flush); WaitApplied honestly waits for that.
type DataTicker struct {
	E        *engine.Engine
	Interval float64

	mu      sync.Mutex
	tickEnd float64
	ups     []engine.Update
	ids     []byte
	offs    []int
	gen     uint64
	applied chan struct{} // closed and replaced at each flush
}

// NewDataTicker returns a ticker of e.
func NewDataTicker(e *engine.Engine, interval float64) *DataTicker {
	return &DataTicker{E: e, Interval: interval, tickEnd: math.Inf(-1), applied: make(chan struct{})}
}

// Submit implements Ingester.
func (d *DataTicker) Submit(ctx context.Context, ups []engine.Update) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, u := range ups {
		if u.V.T >= d.tickEnd {
			if err := d.flushLocked(ctx); err != nil {
				return err
			}
			d.tickEnd = (math.Floor(u.V.T/d.Interval) + 1) * d.Interval
		}
		if len(d.offs) == 0 {
			d.offs = append(d.offs, 0)
		}
		d.ids = append(d.ids, u.ID...)
		d.offs = append(d.offs, len(d.ids))
		d.ups = append(d.ups, engine.Update{V: u.V})
	}
	return nil
}

func (d *DataTicker) flushLocked(ctx context.Context) error {
	if len(d.ups) == 0 {
		return nil
	}
	for i := range d.ups {
		d.ups[i].ID = d.ids[d.offs[i]:d.offs[i+1]]
	}
	if err := d.E.Submit(ctx, d.ups); err != nil {
		return err
	}
	d.E.Tick()
	d.ups, d.ids, d.offs = d.ups[:0], d.ids[:0], d.offs[:0]
	d.gen++
	close(d.applied)
	d.applied = make(chan struct{})
	return nil
}

// Flush ticks what waits.
func (d *DataTicker) Flush(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushLocked(ctx)
}

// WaitApplied implements Ingester: it returns once what was submitted before
// it has been ticked.
func (d *DataTicker) WaitApplied(ctx context.Context) error {
	d.mu.Lock()
	if len(d.ups) == 0 {
		d.mu.Unlock()
		return nil
	}
	ch := d.applied
	d.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ Ingester = (*DataTicker)(nil)

// Abandon makes c stop like a crashed process at its next poll: no drain,
// no final commit.
func Abandon(c *Consumer) { c.abandon.Store(true) }
