package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api/kafka"
	"github.com/collision-detection-platform/distributed-platform/host"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

const opensky = "opensky-uk-2021-07-12/tracks.csv"

// aviationConfig is the configuration `cdp replay --class aviation=5nm,1000ft
// --max-distance 9300` runs the recording with, the origin at its first
// record.
func aviationConfig(t testing.TB, path string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.CollisionDetection.Classes["aviation"] = config.Class{Horizontal: 9260, Vertical: 304.8}
	cfg.CollisionDetection.MaxDistance = 9300
	recs := readCSV(t, path)
	cfg.System.Frame.Origin = config.Origin{Lat: recs[0].Lat, Lon: recs[0].Lon}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// readCSV reads every row of a recording (copies of the records).
func readCSV(t testing.TB, path string) []ingest.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := ingest.NewCSVReader(f)
	var out []ingest.Record
	for {
		var rec ingest.Record
		err := r.Read(&rec)
		if err == io.EOF {
			return out
		}
		if errors.Is(err, ingest.ErrCSVRow) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.ID = bytes.Clone(rec.ID)
		out = append(out, rec)
	}
}

// recordingMessages converts a recording to vehicle-locations messages, one
// JSON record each, keyed by vehicle id.
func recordingMessages(t testing.TB, path, class string) (keys, values [][]byte) {
	for _, rec := range readCSV(t, path) {
		keys = append(keys, rec.ID)
		values = append(values, kafka.RecordJSON(nil, &rec, class))
	}
	return keys, values
}

// replayEvents runs the recording through `cdp replay`'s code path.
func replayEvents(t testing.TB, cfg config.Config, path, class string) []engine.Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out bytes.Buffer
	if _, err := host.ReplayStream(context.Background(), cfg, f, cli.ReplayOptions{Class: class}, &out); err != nil {
		t.Fatal(err)
	}
	var evs []engine.Event
	dec := json.NewDecoder(&out)
	for dec.More() {
		var ev engine.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// kafkaNode is an engine on data time fed by a consumer and publishing to a
// producer, as a node with Kafka is, but ticking on data-time boundaries.
type kafkaNode struct {
	eng      *engine.Engine
	ticker   *kafka.DataTicker
	consumer *kafka.Consumer
	producer *kafka.Producer
	cancel   context.CancelFunc
	done     chan error
}

func startKafkaNode(t testing.TB, cfg config.Config, k config.Kafka) *kafkaNode {
	t.Helper()
	models, err := host.Models(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(host.EngineConfig(cfg), models)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := host.Frame(cfg)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := host.Classes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	val, err := ingest.NewValidator(ingest.Options{MaxSkew: cfg.CollisionDetection.MaxFutureSkew}, classes)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kafka.ProducerOptions{Kafka: k, Node: "test"})
	if err != nil {
		t.Fatal(err)
	}
	eng.AddSink(p)
	n := &kafkaNode{eng: eng, ticker: kafka.NewDataTicker(eng, cfg.Compute.ProcessingInterval.Seconds()), producer: p}
	n.consumer, err = kafka.NewConsumer(kafka.ConsumerOptions{Kafka: k, Engine: n.ticker, Validator: val, Frame: frame, DeadLetters: p})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.consumer.Run(ctx) }()
	return n
}

// waitConsumed waits until the consumer has handled n records.
func (n *kafkaNode) waitConsumed(t testing.TB, want uint64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := n.consumer.Stats()
		if s.Submitted+s.Rejected >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d+%d of %d records in %v", s.Submitted, s.Rejected, want, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop stops consuming, ticks what waits and flushes the producer.
func (n *kafkaNode) stop(t testing.TB) {
	t.Helper()
	if err := n.ticker.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.cancel()
	if err := <-n.done; err != nil {
		t.Errorf("consumer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.producer.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func eventsOf(t testing.TB, recs []*kgo.Record) []engine.Event {
	t.Helper()
	out := make([]engine.Event, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Value, &out[i]); err != nil {
			t.Fatal(err)
		}
		if got := kafka.Header(r, kafka.HeaderEventID); got != out[i].ID {
			t.Fatalf("record %d: header %s = %q, event id %q", i, kafka.HeaderEventID, got, out[i].ID)
		}
		if string(r.Key) != out[i].RiskID {
			t.Fatalf("record %d: key %q, risk id %q", i, r.Key, out[i].RiskID)
		}
	}
	return out
}

func sameEvents(t testing.TB, got, want []engine.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d events through Kafka, %d from replay", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Type != w.Type || g.RiskID != w.RiskID || g.Time != w.Time || g.Risk != w.Risk {
			t.Fatalf("event %d: got %s %s (risk %.4f at %.3f), replay has %s %s (risk %.4f at %.3f)",
				i, g.ID, g.Type, g.Risk, g.Time, w.ID, w.Type, w.Risk, w.Time)
		}
	}
}

// The OpenSky recording through Kafka gives the same risk events on
// collision-risks as `cdp replay` of the file: same ids, types, times and
// risks, in the same order.
func TestRecordingThroughKafkaMatchesReplay(t *testing.T) {
	path := kafka.DataFile(t, opensky)
	cfg := aviationConfig(t, path)
	want := replayEvents(t, cfg, path, "aviation")
	if len(want) == 0 {
		t.Fatal("the replay found no risk: the comparison would prove nothing")
	}

	// One partition keeps the file's order, which the data-time ticks need.
	c := kafka.NewCluster(t, 1)
	k := kafka.ClusterConfig(c, "replay")
	keys, values := recordingMessages(t, path, "aviation")
	kafka.ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, keys, values)

	n := startKafkaNode(t, cfg, k)
	n.waitConsumed(t, uint64(len(values)), 60*time.Second)
	n.stop(t)
	if s := n.consumer.Stats(); s.Rejected != 0 {
		t.Errorf("%d records rejected", s.Rejected)
	}
	recs := kafka.ReadTopic(t, c.ListenAddrs(), k.Topics.CollisionRisks, len(want), 20*time.Second)
	sameEvents(t, eventsOf(t, recs), want)
	t.Logf("%d records -> %d risk events, identical to the replay", len(values), len(want))
}

// A node that crashes before committing and restarts with an empty state
// reads the stream again and publishes its risk events again: the copies
// carry the same ids (and are the same events), so a consumer of
// collision-risks that drops repeated ids sees exactly the replay's events.
func TestDuplicatesAfterCrashCarryTheSameIDs(t *testing.T) {
	path := kafka.DataFile(t, opensky)
	cfg := aviationConfig(t, path)
	want := replayEvents(t, cfg, path, "aviation")

	c := kafka.NewCluster(t, 1)
	k := kafka.ClusterConfig(c, "crash")
	k.Consumer.CommitInterval = time.Hour // the crash comes before any commit
	k.Consumer.MaxPollRecords = 1000
	keys, values := recordingMessages(t, path, "aviation")
	kafka.ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, keys, values)

	n1 := startKafkaNode(t, cfg, k)
	n1.waitConsumed(t, uint64(len(values))*2/3, 60*time.Second)
	kafka.Abandon(n1.consumer)
	n1.cancel()
	<-n1.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n1.producer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	first := n1.producer.Stats().EventsProduced

	n2 := startKafkaNode(t, cfg, k) // a new process: empty state, same group
	n2.waitConsumed(t, uint64(len(values)), 60*time.Second)
	n2.stop(t)
	second := n2.producer.Stats().EventsProduced

	recs := kafka.ReadTopic(t, c.ListenAddrs(), k.Topics.CollisionRisks, int(first+second), 20*time.Second)
	all := eventsOf(t, recs)
	seen := map[string]engine.Event{}
	var dedup []engine.Event
	dups := 0
	for _, ev := range all {
		if prev, ok := seen[ev.ID]; ok {
			dups++
			prev.Emitted, ev.Emitted = 0, 0
			pj, _ := json.Marshal(prev)
			ej, _ := json.Marshal(ev)
			if !bytes.Equal(pj, ej) {
				t.Fatalf("id %s names two different events:\n%s\n%s", ev.ID, pj, ej)
			}
			continue
		}
		seen[ev.ID] = ev
		dedup = append(dedup, ev)
	}
	t.Logf("%d events before the crash, %d after the restart, %d duplicates dropped by id", first, second, dups)
	if dups == 0 {
		t.Fatal("no duplicate after the restart: the crash came too early to test anything")
	}
	sameEvents(t, dedup, want)
}
