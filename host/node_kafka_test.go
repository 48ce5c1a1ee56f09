package host

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startKafkaNode runs a node with messaging.kafka.bootstrap_servers = brokers.
func startKafkaNode(t *testing.T, brokers []string, logw io.Writer) (n *Node, base string, stop func() error) {
	t.Helper()
	cfg := config.Default()
	cfg.Messaging.Kafka.BootstrapServers = brokers
	cfg.Messaging.Kafka.StartOffset = "earliest"
	cfg.Messaging.Kafka.Producer.Linger = time.Millisecond
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base, stop = serveNode(t, n, api.Version{Version: "test"})
	return n, base, stop
}

// With messaging.kafka set, a node consumes vehicle-locations, writes the
// risk events to collision-risks and its start and stop to system-events,
// and exports the Kafka metrics.
func TestNodeWithKafka(t *testing.T) {
	k := config.Default().Messaging.Kafka
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, k.Topics.VehicleLocations,
		k.Topics.CollisionRisks, k.Topics.SystemEvents, k.Topics.DeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, base, stop := startKafkaNode(t, c.ListenAddrs(), io.Discard)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(k.Topics.CollisionRisks),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := float64(time.Now().UnixNano()) / 1e9
	// Two drones 60 m apart closing at 20 m/s.
	for _, rec := range []string{
		fmt.Sprintf(`{"id":"k1","t":%.3f,"lat":51.5,"lon":-0.12,"alt":100,"vx":10,"vy":0}`, now),
		fmt.Sprintf(`{"id":"k2","t":%.3f,"lat":51.5,"lon":-0.11914,"alt":100,"vx":-10,"vy":0}`, now),
	} {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: k.Topics.VehicleLocations, Value: []byte(rec)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var risk *kgo.Record
	for risk == nil && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { risk = r })
	}
	if risk == nil || !bytes.Contains(risk.Value, []byte(`"type":"opened"`)) {
		t.Fatalf("no opened risk on collision-risks: %v", risk)
	}
	if code, body := readyz(t, base, http.StatusOK); code != http.StatusOK {
		t.Errorf("/readyz with Kafka answering: %d %s", code, body)
	}
	r, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !bytes.Contains(metrics, []byte("cdp_kafka_consumed_records_total 2")) || !bytes.Contains(metrics, []byte(`cdp_kafka_consumer_lag{partition="0",topic="vehicle-locations"} 0`)) {
		t.Errorf("metrics lack the Kafka counters:\n%s", grepLines(string(metrics), "cdp_kafka"))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n.Kafka == nil {
		t.Fatal("no Kafka edge on the node")
	}
	sys, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(k.Topics.SystemEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	var types []string
	for len(types) < 2 && ctx.Err() == nil {
		sys.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "cdp-event-type" {
					types = append(types, string(h.Value))
				}
			}
		})
	}
	if strings.Join(types, ",") != "start,stop" {
		t.Errorf("system events %v, want start, stop", types)
	}
}

// Kafka configured but unreachable at start: the node says so, REST ingest
// works, and it stops cleanly.
func TestNodeWithUnreachableKafka(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs syncBuffer
	n, base, stop := startKafkaNode(t, []string{addr}, &logs)
	now := time.Now().Unix()
	var resp *http.Response
	for i := 0; i < 100; i++ {
		resp, err = http.Post(base+"/api/v1/locations", "application/json",
			strings.NewReader(fmt.Sprintf(`{"id":"r1","t":%d,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":0}`, now)))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "cannot reach Kafka at "+addr) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "cannot reach Kafka at "+addr) || !strings.Contains(logs.String(), "REST ingest continues") {
		t.Errorf("the log does not say Kafka is unreachable:\n%s", logs.String())
	}
	// Not ready while the configured cluster does not answer (alive: yes).
	if code, body := readyz(t, base, http.StatusServiceUnavailable); code != http.StatusServiceUnavailable || !strings.Contains(body, "kafka") || !strings.Contains(body, addr) {
		t.Errorf("/readyz with Kafka unreachable: %d %s", code, body)
	}
	if r, err := http.Get(base + "/healthz"); err != nil || r.StatusCode != http.StatusOK {
		t.Errorf("/healthz with Kafka unreachable: %v %v", r, err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.Engine.Vehicle("r1"); !ok {
		t.Error("the REST record is not in the state")
	}
}

// readyz polls GET /readyz for up to 10 s until it answers want, and returns
// the last answer.
func readyz(t *testing.T, base string, want int) (int, string) {
	t.Helper()
	var code int
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r, err := http.Get(base + "/readyz")
		if err != nil {
			continue
		}
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
		if code = r.StatusCode; code == want {
			break
		}
	}
	return code, string(body)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
