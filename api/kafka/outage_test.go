package kafka_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api/kafka"
	"github.com/collision-detection-platform/distributed-platform/host"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// The cluster goes away for a while and comes back: nothing is lost. The
// recording arrives in three parts: the first through vehicle-locations
// before the outage, the second straight into the engine during it (as REST
// ingest would: it goes on), the third through vehicle-locations after it.
// Every record reaches the engine, and every risk event the engine emitted
// is on collision-risks exactly once, although the producer's buffer (2
// records) filled during the outage and held the engine.
func TestClusterAwayAndBackLosesNothing(t *testing.T) {
	path := kafka.DataFile(t, opensky)
	cfg := aviationConfig(t, path)
	c := kafka.NewCluster(t, 2)
	k := kafka.ClusterConfig(c, "outage")
	k.Producer.MaxBufferedRecords = 2

	var away atomic.Bool
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		if !away.Load() {
			return nil, nil, false
		}
		c.KeepControl()
		return nil, errors.New("cluster away"), true // closes the connection
	})

	models, err := host.Models(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := host.EngineConfig(cfg)
	ecfg.ProcessingInterval = 20 * time.Millisecond
	eng, err := engine.New(ecfg, models)
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := host.Frame(cfg)
	classes, _ := host.Classes(cfg)
	val, _ := ingest.NewValidator(ingest.Options{}, classes)
	b, err := kafka.New(kafka.Options{Kafka: k, Node: "outage", Engine: eng, Validator: val, Frame: frame})
	if err != nil {
		t.Fatal(err)
	}
	eng.AddSink(b)
	var mu sync.Mutex
	emitted := map[string]bool{}
	eng.AddSink(engine.SinkFunc(func(evs []engine.Event) {
		mu.Lock()
		for _, ev := range evs {
			emitted[ev.ID] = true
		}
		mu.Unlock()
	}))
	ectx, stopEngine := context.WithCancel(context.Background())
	engDone := make(chan struct{})
	go func() { defer close(engDone); _ = eng.Run(ectx) }()
	b.Start(nil)

	keys, values := recordingMessages(t, path, "aviation")
	recs := readCSV(t, path)
	n := len(values)
	a, bEnd := n/3, 2*n/3

	kafka.ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, keys[:a], values[:a])
	waitUntil(t, "the first part consumed", 30*time.Second, func() bool { return b.Stats().Submitted == uint64(a) })

	away.Store(true)
	before := b.Stats().ProduceRetries
	// REST-like ingest goes on while the cluster is away.
	aviation := []byte("aviation")
	for lo := a; lo < bEnd; lo += 500 {
		hi := min(lo+500, bEnd)
		ups := make([]engine.Update, 0, hi-lo)
		for i := lo; i < hi; i++ {
			r := recs[i]
			r.Class, r.Fields = aviation, r.Fields|ingest.FieldClass
			var v abi.Vehicle
			if err := ingest.Normalize(&r, frame, classes, &v); err != nil {
				t.Fatal(err)
			}
			ups = append(ups, engine.Update{ID: r.ID, V: v})
		}
		if err := eng.TrySubmit(ups); err != nil {
			t.Fatalf("ingest refused during the outage: %v", err)
		}
	}
	time.Sleep(2 * time.Second)
	during := b.Stats()
	away.Store(false)
	if during.ProduceRetries == before {
		t.Errorf("no produce retry counted during the outage")
	}
	t.Logf("during the outage: %d produce retries, %d records buffered, engine queue %d", during.ProduceRetries-before, during.Buffered, eng.Pending())

	kafka.ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, keys[bEnd:], values[bEnd:])
	// Records read before the outage but not yet committed may be read
	// again (at least once); wait until every offset has been read.
	inTopic := int64(n - (bEnd - a))
	waitUntil(t, "the third part consumed", 60*time.Second, func() bool {
		var next int64
		for _, l := range b.Stats().Lag {
			next += l.Next
		}
		return next == inTopic
	})
	if err := eng.WaitApplied(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.StopConsuming(ctx); err != nil {
		t.Fatal(err)
	}
	stopEngine()
	<-engDone
	if err := b.Close(ctx, nil); err != nil {
		t.Fatal(err)
	}

	s := eng.Stats()
	if s.Accepted < uint64(n) || s.Applied+s.Stale+s.Duplicates != s.Accepted {
		t.Errorf("engine accepted %d, applied %d + stale %d + duplicates %d, want %d at least", s.Accepted, s.Applied, s.Stale, s.Duplicates, n)
	}
	last := map[string]float64{}
	for _, r := range recs {
		last[string(r.ID)] = max(last[string(r.ID)], r.T)
	}
	// Vehicles not heard for vehicle_ttl (data time) expire. A record read
	// again after the outage may revive an expired vehicle with its old
	// state until the next expiry sweep: only the vehicles within the TTL
	// of the clock are checked.
	live := 0
	horizon := s.Clock - cfg.CollisionDetection.VehicleTTL.Seconds()
	for id, tl := range last {
		if st, ok := eng.Vehicle(id); ok && st.State.T >= horizon {
			live++
			if st.State.T != tl {
				t.Errorf("vehicle %s: state at %.3f, its last record at %.3f", id, st.State.T, tl)
			}
		}
	}
	if live == 0 {
		t.Error("no live vehicle to check")
	}
	t.Logf("engine accepted %d updates for %d records (%d read again after the outage)", s.Accepted, n, s.Accepted-uint64(n))
	if len(emitted) == 0 {
		t.Fatal("no risk event: nothing to lose")
	}
	got := kafka.ReadTopic(t, c.ListenAddrs(), k.Topics.CollisionRisks, len(emitted)+1, 3*time.Second)
	seen := map[string]int{}
	for _, r := range got {
		seen[kafka.Header(r, kafka.HeaderEventID)]++
	}
	for id := range emitted {
		if seen[id] != 1 {
			t.Errorf("event %s on collision-risks %d times, want once", id, seen[id])
		}
	}
	if len(got) != len(emitted) {
		t.Errorf("%d records on collision-risks, the engine emitted %d events", len(got), len(emitted))
	}
	if st := b.Stats(); st.ProduceErrors != 0 || st.EventsProduced != uint64(len(emitted)) {
		t.Errorf("producer: %d errors, %d events produced, want 0 and %d", st.ProduceErrors, st.EventsProduced, len(emitted))
	}
	sys := kafka.ReadTopic(t, c.ListenAddrs(), k.Topics.SystemEvents, 2, 5*time.Second)
	if len(sys) != 2 || kafka.Header(sys[0], kafka.HeaderEventType) != "start" || kafka.Header(sys[1], kafka.HeaderEventType) != "stop" {
		t.Errorf("system events: %d, want start and stop", len(sys))
	}
}

func waitUntil(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
