package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// startRole runs ServeCluster for cfg on a random port.
func startRole(t *testing.T, cfg config.Config) (base string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeCluster(ctx, cfg, ln, api.Version{Version: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	var once bool
	stop = func() {
		if once {
			return
		}
		once = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s node: %v", cfg.Cluster.Role, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s node did not stop within 30 s", cfg.Cluster.Role)
		}
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// messaging returns the messaging section of a node's /system/status.
func messaging(t *testing.T, base string) map[string]any {
	t.Helper()
	resp, err := http.Get(base + "/system/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	m, _ := st["messaging"].(map[string]any)
	return m
}

// One ingest node and two compute nodes, as `cdp serve --role ...` runs
// them: states posted to the ingest node's REST API are routed by tile, the
// compute nodes share the partitions, and every head-on pair's risk is
// reported once, on collision-risks. A compute node refuses REST ingest.
func TestServeClusterRoles(t *testing.T) {
	k := config.Default().Messaging.Kafka
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, k.Topics.VehicleLocations),
		kfake.SeedTopics(1, k.Topics.CollisionRisks, k.Topics.SystemEvents, k.Topics.DeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close) // after the nodes' stops (cleanups run last first)
	cfg := config.Default()
	cfg.Messaging.Kafka.BootstrapServers = c.ListenAddrs()
	cfg.Messaging.Kafka.StartOffset = "earliest"
	cfg.Messaging.Kafka.Producer.Linger = time.Millisecond
	cfg.Messaging.Kafka.Consumer.CommitInterval = 100 * time.Millisecond
	cfg.Messaging.Kafka.Consumer.SessionTimeout = 6 * time.Second
	cfg.Cluster.TileSize = 1000

	var computes []string
	for i := range 2 {
		cc := cfg
		cc.Cluster.Role, cc.Cluster.NodeID = config.RoleCompute, fmt.Sprintf("compute-%d", i)
		if err := cc.Validate(); err != nil {
			t.Fatal(err)
		}
		base, _ := startRole(t, cc)
		computes = append(computes, base)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		total, both := 0, true
		for _, b := range computes {
			ps, _ := messaging(t, b)["compute"].(map[string]any)["Partitions"].([]any)
			total += len(ps)
			both = both && len(ps) > 0
		}
		if total == 8 && both {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the compute nodes own %d of 8 partitions", total)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ic := cfg
	ic.Cluster.Role, ic.Cluster.NodeID = config.RoleIngest, "ingest-0"
	ingestBase, stopIngest := startRole(t, ic)

	// A compute node takes no REST ingest.
	rec := fmt.Sprintf(`{"id":"x","t":%.3f,"x":0,"y":0,"z":0,"vx":0,"vy":0,"vz":0}`, float64(time.Now().UnixNano())/1e9)
	resp, err := http.Post(computes[0]+"/api/v1/locations", "application/json", strings.NewReader(rec))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "ingest node") {
		t.Fatalf("REST ingest on a compute node: %d %s", resp.StatusCode, body)
	}

	// 12 head-on pairs of drones, 1.5 km apart from each other (other tiles,
	// other partitions), closing at 20 m/s from 200 m, reporting at 2 Hz.
	const pairs = 12
	t0 := float64(time.Now().UnixNano()) / 1e9
	for step := range 6 {
		tt := t0 + float64(step)*0.5
		var b strings.Builder
		for p := range pairs {
			y := float64(p)*1500 - 8000
			for _, v := range []struct {
				side string
				x0   float64
				vx   float64
			}{{"a", -100, 10}, {"b", 100, -10}} {
				fmt.Fprintf(&b, `{"id":"p%02d%s","t":%.3f,"x":%.3f,"y":%.1f,"z":100,"vx":%g,"vy":0,"vz":0}`+"\n",
					p, v.side, tt, v.x0+v.vx*(tt-t0), y, v.vx)
			}
		}
		resp, err := http.Post(ingestBase+"/api/v1/locations", "application/x-ndjson", strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || !bytes.Contains(body, []byte(fmt.Sprintf(`"accepted":%d`, 2*pairs))) {
			t.Fatalf("POST to the ingest node: %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := messaging(t, ingestBase); st["role"] != "ingest" || !strings.HasPrefix(fmt.Sprint(st["layout"]), "v1/s1000/p8") {
		t.Errorf("ingest status: %v", st)
	}

	// Every pair's risk opens exactly once across the two compute nodes.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(k.Topics.CollisionRisks),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	opened := map[string]int{}
	ids := map[string]string{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	settle := time.Time{}
	for ctx.Err() == nil && (len(opened) < pairs || time.Since(settle) < time.Second) {
		pctx, pc := context.WithTimeout(ctx, 200*time.Millisecond)
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			var ev engine.Event
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type == engine.EventOpened {
				pair := ev.VehicleA[:3]
				opened[pair]++
				if prev, ok := ids[pair]; ok && prev != ev.RiskID {
					t.Errorf("pair %s opened as %s and %s", pair, prev, ev.RiskID)
				}
				ids[pair] = ev.RiskID
			}
		})
		pc()
		if len(opened) == pairs && settle.IsZero() {
			settle = time.Now()
		}
	}
	if len(opened) != pairs {
		t.Fatalf("%d of %d pairs opened a risk: %v", len(opened), pairs, opened)
	}
	for p, n := range opened {
		if n != 1 {
			t.Errorf("pair %s opened %d times", p, n)
		}
	}
	reported := 0
	for i, b := range computes {
		n, _ := messaging(t, b)["compute"].(map[string]any)["Reported"].(float64)
		if n == 0 {
			t.Errorf("compute node %d reported nothing: the tiles did not spread", i)
		}
		reported += int(n)
	}
	stopIngest()
	t.Logf("%d pairs opened once each; %d events reported by the two compute nodes", pairs, reported)
}
