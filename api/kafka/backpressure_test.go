package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// While the engine does not drain its queue, the consumer stops: its poll
// loop waits in Submit and the client buffers at most about one fetch
// (consumer.fetch_max_bytes), not the topic. When the engine ticks again,
// everything is consumed.
func TestSaturatedEnginePausesFetching(t *testing.T) {
	c := NewCluster(t, 1)
	k := ClusterConfig(c, "backpressure")
	k.Consumer.MaxPollRecords = 100
	k.Consumer.FetchMaxBytes = 16 << 10
	e, err := engine.New(engine.Config{MaxPending: 200, ProcessingInterval: 5 * time.Millisecond},
		engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	val, _ := ingest.NewValidator(ingest.Options{}, nil)
	frame, _ := geo.New(geo.Config{Lat: 51.5, Lon: -0.12})
	const n = 20_000
	now := time.Now().Unix()
	values := make([][]byte, n)
	for i := range values {
		// 1 km apart: the engine's work stays small once it ticks.
		values[i] = fmt.Appendf(nil, `{"id":"v%05d","t":%d,"lat":%.3f,"lon":%.3f,"alt":100,"vx":1,"vy":0}`,
			i, now, 50+float64(i/150)*0.01, -1+float64(i%150)*0.015)
	}
	ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, nil, values)
	cons, err := NewConsumer(ConsumerOptions{Kafka: k, Engine: e, Validator: val, Frame: frame})
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, cons)

	// The engine is not ticking: the queue holds 200 updates, then Submit waits.
	waitFor(t, "the queue to fill", 10*time.Second, func() bool { return e.Pending() >= 200 })
	time.Sleep(300 * time.Millisecond)
	held := cons.Stats().Messages
	buffered := cons.Client().BufferedFetchRecords()
	time.Sleep(300 * time.Millisecond)
	if m := cons.Stats().Messages; m != held {
		t.Errorf("the consumer went on reading (%d, then %d messages) while the engine was saturated", held, m)
	}
	if int64(held)+buffered >= n/2 {
		t.Errorf("%d records read and %d buffered of %d: fetching did not pause", held, buffered, n)
	}
	t.Logf("saturated: %d messages read, %d buffered in the client, %d in the topic", held, buffered, n)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, "everything consumed once the engine ticks", 30*time.Second, func() bool { return cons.Stats().Submitted == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
