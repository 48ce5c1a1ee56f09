package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/api/kafka"
	"github.com/collision-detection-platform/distributed-platform/api/kafka/cluster"
	"github.com/collision-detection-platform/distributed-platform/api/kafka/kafkaconn"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

// ErrComputeRole is what a compute node's REST ingest answers (503): states
// reach compute nodes through an ingest node, which routes them by tile.
var ErrComputeRole = errors.New("host: this node runs cluster.role compute: send vehicle states to an ingest node (cluster.role ingest), which routes them by tile")

// NodeID is the node's name in the cluster: cluster.node_id, else
// system.name.
func NodeID(cfg config.Config) string {
	if cfg.Cluster.NodeID != "" {
		return cfg.Cluster.NodeID
	}
	return cfg.System.Name
}

// ServeCluster runs a node of cluster.role ingest or compute on ln until ctx
// is done.
func ServeCluster(ctx context.Context, cfg config.Config, ln net.Listener, version api.Version, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("role", cfg.Cluster.Role, "node_id", NodeID(cfg))
	n, err := NewNode(cfg, logger)
	if err != nil {
		return err
	}
	switch cfg.Cluster.Role {
	case config.RoleIngest:
		return n.serveIngest(ctx, ln, version)
	case config.RoleCompute:
		return n.serveCompute(ctx, ln, version)
	}
	return fmt.Errorf("host: cluster.role %q is not a cluster role", cfg.Cluster.Role)
}

// longestTTL is the longest time a vehicle is kept, seconds: vehicle_ttl or
// a class's longer one. The router remembers a vehicle, a compute node its
// state, and a takeover replays, for that long.
func longestTTL(cfg config.Config) float64 {
	ttl := cfg.CollisionDetection.VehicleTTL
	for _, c := range cfg.CollisionDetection.Classes {
		ttl = max(ttl, c.VehicleTTL)
	}
	return ttl.Seconds()
}

// layout reads the partition count of vehicle-locations and returns the
// cluster's tile layout, retrying while the cluster does not answer.
func (n *Node) layout(ctx context.Context, cl *kgo.Client) (tiles.Layout, error) {
	topic := n.Config.Messaging.Kafka.Topics.VehicleLocations
	adm := kadm.NewClient(cl)
	for attempt := 1; ; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		td, err := adm.ListTopics(tctx, topic)
		cancel()
		if err == nil {
			d, ok := td[topic]
			if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) || len(d.Partitions) == 0 {
				return tiles.Layout{}, fmt.Errorf("host: messaging.kafka.topics.vehicle_locations: topic %q does not exist; create it with as many partitions as compute nodes may ever run (its partitions are the cluster's parallelism)", topic)
			}
			return tiles.New(n.Config.Cluster.TileSize, len(d.Partitions))
		}
		if ctx.Err() != nil {
			return tiles.Layout{}, ctx.Err()
		}
		if attempt == 1 || attempt%10 == 0 {
			n.Logger.Error("kafka: "+kafkaconn.Describe(n.Config.Messaging.Kafka, err)+"; retrying", "attempt", attempt)
		}
		select {
		case <-ctx.Done():
			return tiles.Layout{}, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// serveIngest: REST ingest routed by tile into vehicle-locations.
func (n *Node) serveIngest(ctx context.Context, ln net.Listener, version api.Version) error {
	k := n.Config.Messaging.Kafka
	opts, err := kafkaconn.Options(k)
	if err != nil {
		return fmt.Errorf("host: messaging.kafka: %w", err)
	}
	opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ClientID(NodeID(n.Config)),
		kgo.UnknownTopicRetries(-1))
	if k.Producer.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(k.Producer.Linger))
	}
	if k.Producer.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(k.Producer.MaxBufferedRecords))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("host: messaging.kafka: %w", err)
	}
	defer cl.Close()
	layout, err := n.layout(ctx, cl)
	if err != nil {
		return ignoreCanceled(ctx, err)
	}
	cd := n.Config.CollisionDetection
	router, err := tiles.NewRouter(tiles.RouterConfig{Layout: layout, Horizon: cd.PredictionTime.Seconds(),
		MaxDistance: cd.MaxDistance, VehicleTTL: longestTTL(n.Config), HoldTime: n.Config.Cluster.HoldTime.Seconds()})
	if err != nil {
		return fmt.Errorf("host: cluster: %w", err)
	}
	in, err := cluster.NewIngest(cluster.IngestOptions{Router: router, Client: cl, Topic: k.Topics.VehicleLocations,
		Interval: n.Config.Compute.ProcessingInterval.Seconds()})
	if err != nil {
		return err
	}
	n.apiEngine = &ingestEngine{Engine: n.Engine, in: in}
	n.messaging = func() any {
		return map[string]any{"role": config.RoleIngest, "node_id": NodeID(n.Config), "layout": layout.String(), "ingest": in.Stats()}
	}
	srv, err := n.API(version)
	if err != nil {
		return err
	}
	n.Logger.Info("cluster: ingest serving", "addr", ln.Addr().String(), "layout", layout.String())
	// Ticks: every processing_interval when something came, at least every
	// second (the compute nodes expire silent vehicles on these ticks).
	tctx, stopTicks := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(n.Config.Compute.ProcessingInterval)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-tctx.Done():
				return
			case now := <-t.C:
				if now.Sub(last) >= time.Second {
					in.Heartbeat(tctx)
					last = now
				} else {
					in.Cut(tctx)
				}
			}
		}
	}()
	err = n.serveUntil(ctx, ln, srv)
	stopTicks()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout())
	defer cancel()
	if e := in.Flush(fctx); e != nil {
		n.Logger.Error("cluster: ingest flush at stop", "err", e)
		err = errors.Join(err, e)
	}
	return err
}

// serveCompute: a member of the compute group, detecting its tiles' pairs.
func (n *Node) serveCompute(ctx context.Context, ln net.Listener, version api.Version) error {
	k := n.Config.Messaging.Kafka
	k.ClientID = NodeID(n.Config)
	p, err := kafka.NewProducer(kafka.ProducerOptions{Kafka: k, Node: NodeID(n.Config), Logger: n.Logger})
	if err != nil {
		return fmt.Errorf("host: messaging.kafka: %w", err)
	}
	layout, err := n.layout(ctx, p.Client())
	if err != nil {
		p.Close(context.Background())
		return ignoreCanceled(ctx, err)
	}
	cd := n.Config.CollisionDetection
	comp, err := cluster.NewCompute(cluster.ComputeOptions{Kafka: k, Engine: n.Engine, Layout: layout,
		Horizon: cd.PredictionTime.Seconds(), MaxDistance: cd.MaxDistance, VehicleTTL: longestTTL(n.Config),
		Sink:  p,
		Flush: p.Client().Flush, Logger: n.Logger})
	if err != nil {
		p.Close(context.Background())
		return err
	}
	n.apiEngine = computeEngine{n.Engine}
	n.messaging = func() any {
		return map[string]any{"role": config.RoleCompute, "node_id": NodeID(n.Config), "layout": layout.String(),
			"delivery": "at-least-once, deterministic event ids (cdp-event-id)", "compute": comp.Stats(), "producer": p.Stats()}
	}
	srv, err := n.API(version)
	if err != nil {
		p.Close(context.Background())
		return err
	}
	p.SystemEvent(kafka.SystemStart, map[string]any{"role": config.RoleCompute, "layout": layout.String()})
	n.Logger.Info("cluster: compute serving", "addr", ln.Addr().String(), "layout", layout.String(), "group", k.ConsumerGroup)
	cctx, stopCompute := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- comp.Run(cctx) }()
	err = n.serveUntil(ctx, ln, srv)
	stopCompute()
	err = errors.Join(err, <-done)
	p.SystemEvent(kafka.SystemStop, nil)
	fctx, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout())
	defer cancel()
	return errors.Join(err, p.Close(fctx))
}

// ignoreCanceled drops the error of a stop requested before the node served.
func ignoreCanceled(ctx context.Context, err error) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// serveUntil serves the API on ln until ctx is done, then shuts it down.
func (n *Node) serveUntil(ctx context.Context, ln net.Listener, srv *api.Server) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout())
	defer cancel()
	return errors.Join(err, srv.Shutdown(sctx))
}

func (n *Node) shutdownTimeout() time.Duration {
	if t := n.Config.API.ShutdownTimeout; t > 0 {
		return t
	}
	return 10 * time.Second
}

// ingestEngine is what an ingest node's API submits to: the states go to
// Kafka, routed by tile. It holds no vehicles and no risks (queries answer
// empty lists: they belong to the compute nodes).
type ingestEngine struct {
	*engine.Engine // idle: configuration and models for /system/status
	in             *cluster.Ingest
}

// TrySubmitChecked routes the batch; a state not newer than the vehicle's
// last is refused as stale.
func (e *ingestEngine) TrySubmitChecked(ups []engine.Update, verdicts []engine.Verdict) (int, error) {
	routed := make([]bool, len(ups))
	n := e.in.AddBatch(context.Background(), ups, routed)
	for i, ok := range routed {
		if ok {
			verdicts[i] = engine.VerdictAccepted
		} else {
			verdicts[i] = engine.VerdictStale
		}
	}
	return n, nil
}

// Pending is the number of routed messages not yet delivered.
func (e *ingestEngine) Pending() int { return int(e.in.Buffered()) }

// computeEngine refuses REST ingest on a compute node.
type computeEngine struct{ *engine.Engine }

// TrySubmitChecked refuses: see ErrComputeRole.
func (computeEngine) TrySubmitChecked([]engine.Update, []engine.Verdict) (int, error) {
	return 0, ErrComputeRole
}

var (
	_ api.Engine = (*ingestEngine)(nil)
	_ api.Engine = computeEngine{}
)
