package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api/kafka"
	"github.com/collision-detection-platform/distributed-platform/api/kafka/cluster"
	"github.com/collision-detection-platform/distributed-platform/host"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

const partitions = 8

// scenario is one traffic and the configuration it runs with.
type scenario struct {
	cfg      config.Config
	csv      []byte
	class    string
	tileSize float64
}

func newKafka(t testing.TB) (*kfake.Cluster, config.Kafka) {
	t.Helper()
	k := config.Default().Messaging.Kafka
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, k.Topics.VehicleLocations),
		kfake.SeedTopics(1, k.Topics.CollisionRisks, k.Topics.SystemEvents, k.Topics.DeadLetter))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	k.BootstrapServers = c.ListenAddrs()
	k.StartOffset = "earliest"
	k.ConsumerGroup = "compute"
	k.Consumer.CommitInterval = 100 * time.Millisecond
	k.Consumer.SessionTimeout = 6 * time.Second
	k.Producer.Linger = time.Millisecond
	return c, k
}

// replayEvents runs the scenario through `cdp replay`'s code path.
func replayEvents(t testing.TB, s scenario) []engine.Event {
	t.Helper()
	var out bytes.Buffer
	if _, err := host.ReplayStream(context.Background(), s.cfg, bytes.NewReader(s.csv), cli.ReplayOptions{Class: s.class}, &out); err != nil {
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

// ingestCSV routes the scenario's rows as the ingest role would, with the
// replay's validation, normalisation and data-time ticks.
func ingestCSV(t testing.TB, s scenario, k config.Kafka, layout tiles.Layout) cluster.IngestStats {
	t.Helper()
	feed := newFeeder(t, s, k, layout)
	return feed(math.Inf(1))
}

// newFeeder returns a function that routes the scenario's rows with a time
// before until (from where the last call stopped), flushes, and returns the
// ingest's counters.
func newFeeder(t testing.TB, s scenario, k config.Kafka, layout tiles.Layout) func(until float64) cluster.IngestStats {
	t.Helper()
	frame, err := host.Frame(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := host.Classes(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	val, err := ingest.NewValidator(ingest.Options{MaxSkew: s.cfg.CollisionDetection.MaxFutureSkew}, classes)
	if err != nil {
		t.Fatal(err)
	}
	cd := s.cfg.CollisionDetection
	r, err := tiles.NewRouter(tiles.RouterConfig{Layout: layout, Horizon: cd.PredictionTime.Seconds(),
		MaxDistance: cd.MaxDistance, VehicleTTL: cd.VehicleTTL.Seconds(),
		HoldTime: 2*cd.PredictionTime.Seconds() + cd.ResolveAfter.Seconds()})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.BootstrapServers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	in, err := cluster.NewIngest(cluster.IngestOptions{Router: r, Client: cl, Topic: k.Topics.VehicleLocations,
		Interval: s.cfg.Compute.ProcessingInterval.Seconds(), DataTicks: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	csv := ingest.NewCSVReader(bytes.NewReader(s.csv))
	wall := float64(time.Now().UnixNano()) / 1e9
	var rec ingest.Record
	var held *abi.Vehicle // the row read past the last until
	var heldID []byte
	return func(until float64) cluster.IngestStats {
		if held != nil {
			if held.T >= until {
				return in.Stats()
			}
			in.Add(ctx, heldID, held)
			held = nil
		}
		for {
			err := csv.Read(&rec)
			if err == io.EOF {
				break
			}
			if errors.Is(err, ingest.ErrCSVRow) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.Class == nil {
				class := s.class
				if class == "" {
					class = ingest.DefaultClass
				}
				rec.Class, rec.Fields = []byte(class), rec.Fields|ingest.FieldClass
			}
			if _, reason := val.Validate(&rec, wall); reason != ingest.ReasonOK {
				continue
			}
			var v abi.Vehicle
			if err := ingest.Normalize(&rec, frame, classes, &v); err != nil {
				continue
			}
			if v.T >= until {
				held, heldID = &v, bytes.Clone(rec.ID)
				break
			}
			in.Add(ctx, rec.ID, &v)
		}
		if err := in.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		return in.Stats()
	}
}

// node is one compute node in the test process.
type node struct {
	c      *cluster.Compute
	p      *kafka.Producer
	cancel context.CancelFunc
	done   chan error
}

func startNode(t testing.TB, s scenario, k config.Kafka, layout tiles.Layout, name string) *node {
	t.Helper()
	models, err := host.Models(s.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(host.EngineConfig(s.cfg), models)
	if err != nil {
		t.Fatal(err)
	}
	p, err := kafka.NewProducer(kafka.ProducerOptions{Kafka: k, Node: name})
	if err != nil {
		t.Fatal(err)
	}
	cd := s.cfg.CollisionDetection
	c, err := cluster.NewCompute(cluster.ComputeOptions{Kafka: k, Engine: eng, Layout: layout,
		Horizon: cd.PredictionTime.Seconds(), MaxDistance: cd.MaxDistance, VehicleTTL: cd.VehicleTTL.Seconds(),
		Sink: p, Flush: p.Client().Flush})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &node{c: c, p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- c.Run(ctx) }()
	return n
}

func (n *node) stop(t testing.TB) {
	t.Helper()
	n.cancel()
	if err := <-n.done; err != nil {
		t.Error(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.p.Close(ctx); err != nil {
		t.Error(err)
	}
}

// waitAssigned waits until the nodes own every partition between them,
// each at least one.
func waitAssigned(t testing.TB, nodes []*node) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		total, ok := 0, true
		for _, n := range nodes {
			ps := len(n.c.Partitions())
			total += ps
			ok = ok && ps > 0
		}
		if ok && total == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group not settled: %d of %d partitions owned", total, partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitTicks(t testing.TB, nodes []*node, ticks uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range nodes {
		for n.c.Stats().Ticks < ticks {
			if time.Now().After(deadline) {
				t.Fatalf("node ran %d of %d ticks", n.c.Stats().Ticks, ticks)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// readEvents reads collision-risks from the start until n records.
func readEvents(t testing.TB, k config.Kafka, n int) []engine.Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.BootstrapServers...), kgo.ConsumeTopics(k.Topics.CollisionRisks),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []engine.Event
	for len(out) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var ev engine.Event
			if err := json.Unmarshal(r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			if string(r.Key) != ev.RiskID {
				t.Fatalf("record key %q, risk id %q", r.Key, ev.RiskID)
			}
			out = append(out, ev)
		})
	}
	return out
}

// runCluster runs the scenario through an ingest and n compute nodes and
// returns what they reported on collision-risks.
func runCluster(t testing.TB, s scenario, n int) ([]engine.Event, []cluster.ComputeStats) {
	t.Helper()
	_, k := newKafka(t)
	layout, err := tiles.New(s.tileSize, partitions)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []*node
	for i := range n {
		nodes = append(nodes, startNode(t, s, k, layout, fmt.Sprintf("node-%d", i)))
	}
	waitAssigned(t, nodes)
	st := ingestCSV(t, s, k, layout)
	waitTicks(t, nodes, st.Ticks)
	var stats []cluster.ComputeStats
	reported := 0
	for _, nd := range nodes {
		nd.stop(t)
		cs := nd.c.Stats()
		stats = append(stats, cs)
		reported += int(cs.Reported)
		if cs.Unknown != 0 || cs.Refused != 0 || cs.Misaligned != 0 {
			t.Errorf("node stats %+v: unknown, refused and misaligned must be 0", cs)
		}
	}
	t.Logf("%d nodes: %d states routed, %d ghosts, %d leaves, %d ticks; %d events reported", n,
		st.Router.States, st.Router.Ghosts, st.Router.Leaves, st.Ticks, reported)
	return readEvents(t, k, reported), stats
}

// key is what must agree between a cluster and a replay: the event's id
// (risk id and sequence), type, reason and assessment.
func key(ev engine.Event) string {
	return fmt.Sprintf("%s %s %s a=%s b=%s t=%.3f risk=%.6f tca=%.3f", ev.ID, ev.Type, ev.Reason, ev.VehicleA, ev.VehicleB, ev.Time, ev.Risk, ev.TCA)
}

func sameSet(t testing.TB, got, want []engine.Event) {
	t.Helper()
	g, w := map[string]int{}, map[string]int{}
	for _, ev := range got {
		g[key(ev)]++
	}
	for _, ev := range want {
		w[key(ev)]++
	}
	var missing, extra []string
	for k, n := range w {
		if g[k] < n {
			missing = append(missing, k)
		}
	}
	for k, n := range g {
		if w[k] < n {
			extra = append(extra, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing)+len(extra) > 0 {
		t.Fatalf("%d events, replay %d; %d missing, %d extra or repeated:\nmissing: %s\nextra: %s", len(got), len(want),
			len(missing), len(extra), strings.Join(first(missing, 8), "\n  "), strings.Join(first(extra, 8), "\n  "))
	}
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func recording(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "data", name, "tracks.csv"))
	if err != nil {
		t.Fatalf("recorded traffic is part of the repository: %v", err)
	}
	return b
}

// originOf returns the first row's position.
func originOf(t testing.TB, csv []byte) config.Origin {
	t.Helper()
	r := ingest.NewCSVReader(bytes.NewReader(csv))
	var rec ingest.Record
	if err := r.Read(&rec); err != nil {
		t.Fatal(err)
	}
	return config.Origin{Lat: rec.Lat, Lon: rec.Lon}
}

// recorded is a recording with every vehicle of one class.
func recorded(t testing.TB, name, class string, zone config.Class, maxDistance, tileSize float64) scenario {
	csv := recording(t, name)
	cfg := config.Default()
	cfg.CollisionDetection.Classes[class] = zone
	cfg.CollisionDetection.MaxDistance = maxDistance
	cfg.System.Frame.Origin = originOf(t, csv)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return scenario{cfg: cfg, csv: csv, class: class, tileSize: tileSize}
}

// openSky: 100 km tiles over England and Wales, which aircraft cross all the
// time, 5 NM / 1000 ft as `cdp replay --class aviation=5nm,1000ft`.
func openSky(t testing.TB) scenario {
	return recorded(t, "opensky-uk-2021-07-12", "aviation", config.Class{Horizontal: 9260, Vertical: 304.8}, 9300, 100_000)
}

// solent: 2 km tiles, which the Solent's ships cross all the time, 200 m.
func solent(t testing.TB) scenario {
	return recorded(t, "solent-ais-2016-01-12", "ship", config.Class{Horizontal: 200, Vertical: 100}, 300, 2_000)
}

// denseTraffic is n drones over a 4 km square with 1 km tiles, at 5–25 m/s
// in random headings and a few 120 m/s aircraft, reporting at 1 Hz for the
// given seconds (each at its own phase): vehicles cross tile borders all the
// time and many pairs come within the 50 m zone.
func denseTraffic(t testing.TB, seed uint64, n, seconds int) scenario {
	rng := rand.New(rand.NewPCG(seed, 99))
	const lat0, lon0 = 50.8, -1.3
	mPerDegLat := 111_200.0
	mPerDegLon := mPerDegLat * math.Cos(lat0*math.Pi/180)
	type veh struct{ x, y, vx, vy, phase float64 }
	vs := make([]veh, n)
	for i := range vs {
		sp := 5 + rng.Float64()*20
		if i%25 == 0 {
			sp = 120
		}
		a := rng.Float64() * 2 * math.Pi
		vs[i] = veh{x: (rng.Float64() - 0.5) * 4000, y: (rng.Float64() - 0.5) * 4000, vx: sp * math.Cos(a), vy: sp * math.Sin(a), phase: rng.Float64()}
	}
	var b strings.Builder
	b.WriteString("id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n")
	t0 := 1_700_000_000.0
	type row struct {
		t float64
		s string
	}
	var rows []row
	for s := range seconds {
		for i := range vs {
			v := &vs[i]
			tt := t0 + float64(s) + v.phase
			x, y := v.x+v.vx*(tt-t0), v.y+v.vy*(tt-t0)
			// Bounce inside the square so that density stays.
			for x < -2000 || x > 2000 {
				if x > 2000 {
					x = 4000 - x
				} else {
					x = -4000 - x
				}
			}
			for y < -2000 || y > 2000 {
				if y > 2000 {
					y = 4000 - y
				} else {
					y = -4000 - y
				}
			}
			rows = append(rows, row{tt, fmt.Sprintf("d%03d,%.3f,%.7f,%.7f,100,%.3f,%.3f,0\n", i, tt, lat0+y/mPerDegLat, lon0+x/mPerDegLon, v.vx, v.vy)})
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return strings.Compare(fmt.Sprintf("%020.3f", a.t), fmt.Sprintf("%020.3f", b.t)) })
	for _, r := range rows {
		b.WriteString(r.s)
	}
	cfg := config.Default()
	cfg.System.Frame.Origin = config.Origin{Lat: lat0, Lon: lon0}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return scenario{cfg: cfg, csv: []byte(b.String()), tileSize: 1_000}
}

// The recordings and dense random traffic through 1, 2 and 4 compute nodes
// give exactly the events of `cdp replay`: same risk ids, same event ids,
// types, reasons, times and risks, each once. (The Solent recording runs on
// one node only: its ships keep risks open for minutes while crossing 2 km
// tiles, longer than the hold time covers; see RATIONALE.md.)
func TestClusterEqualsReplay(t *testing.T) {
	scenarios := []struct {
		name  string
		make  func(testing.TB) scenario
		nodes []int
	}{
		{"opensky", openSky, []int{1, 2, 4}},
		{"dense", func(t testing.TB) scenario { return denseTraffic(t, 1, 200, 60) }, []int{1, 2, 4}},
		{"solent", solent, []int{1}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.make(t)
			want := replayEvents(t, s)
			if len(want) == 0 {
				t.Fatal("the replay found no risk: the comparison would prove nothing")
			}
			var wg sync.WaitGroup
			for _, n := range sc.nodes {
				wg.Add(1)
				t.Run(fmt.Sprintf("%d-nodes", n), func(t *testing.T) {
					defer wg.Done()
					got, stats := runCluster(t, s, n)
					sameSet(t, got, want)
					if n > 1 {
						for i, st := range stats {
							if st.Reported == 0 {
								t.Errorf("node %d reported nothing: the traffic did not spread", i)
							}
						}
					}
				})
			}
			wg.Wait()
		})
	}
}
