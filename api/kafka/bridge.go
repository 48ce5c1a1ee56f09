package kafka

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// Options configure a Bridge.
type Options struct {
	// Kafka is messaging.kafka; BootstrapServers must not be empty.
	Kafka config.Kafka
	// Node names this node in system events (system.name). Default "cdp".
	Node string
	// Engine receives vehicle-locations. Required.
	Engine Ingester
	// Validator and Frame judge and convert records as REST ingest does.
	// Required.
	Validator *ingest.Validator
	Frame     *geo.Frame
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// ClientOpts are appended to both clients' options (tests). Default none.
	ClientOpts []kgo.Opt
}

// Bridge is Kafka on one node: the consumer and the producer, started and
// stopped in the order the node needs. It is an engine.Sink (register it
// with AddSink before the engine ticks).
//
// Order of a node's life: New; Engine.AddSink(bridge); Start; ...;
// StopConsuming (while the engine still ticks: its last offsets are
// committed after they are applied); stop the engine (its last tick publishes
// through the bridge); Close (flushes the producer).
type Bridge struct {
	*Producer
	Consumer *Consumer
	log      *slog.Logger

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// New builds both clients; nothing connects until Start.
func New(o Options) (*Bridge, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p, err := NewProducer(ProducerOptions{Kafka: o.Kafka, Node: o.Node, Logger: o.Logger, ClientOpts: o.ClientOpts})
	if err != nil {
		return nil, err
	}
	c, err := NewConsumer(ConsumerOptions{
		Kafka: o.Kafka, Engine: o.Engine, Validator: o.Validator, Frame: o.Frame,
		DeadLetters: p, Logger: o.Logger, ClientOpts: o.ClientOpts,
		OnThrottle: func(on bool, detail map[string]any) {
			if on {
				p.SystemEvent(SystemThrottlingOn, detail)
			} else {
				p.SystemEvent(SystemThrottlingOff, detail)
			}
		},
	})
	if err != nil {
		p.cl.Close()
		return nil, err
	}
	return &Bridge{Producer: p, Consumer: c, log: o.Logger}, nil
}

// Start writes the "start" system event and starts consuming in the
// background. It returns at once, also when the cluster is unreachable (that
// is logged and retried).
func (b *Bridge) Start(detail map[string]any) {
	b.SystemEvent(SystemStart, detail)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.done = make(chan error, 1)
	go func() {
		err := b.Consumer.Run(ctx)
		if err != nil {
			b.log.Error("kafka: consumer stopped", "err", err)
		}
		b.done <- err
	}()
}

// StopConsuming stops fetching, commits what the engine has applied and
// leaves the group, waiting until ctx is done at most.
func (b *Bridge) StopConsuming(ctx context.Context) error {
	if b.cancel == nil {
		return nil
	}
	var err error
	b.once.Do(func() {
		b.cancel()
		select {
		case err = <-b.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	})
	return err
}

// Close writes the "stop" system event and flushes the producer, waiting
// until ctx is done at most; what is still undelivered then is counted and
// reported in the error.
func (b *Bridge) Close(ctx context.Context, detail map[string]any) error {
	err := b.StopConsuming(ctx)
	b.SystemEvent(SystemStop, detail)
	return errors.Join(err, b.Producer.Close(ctx))
}

// Stats returns the consumer's and the producer's counters.
func (b *Bridge) Stats() Stats {
	var s Stats
	b.Consumer.stats(&s)
	b.Producer.stats(&s)
	return s
}

// Collector returns the Prometheus collector of b's Stats.
func (b *Bridge) Collector() prometheus.Collector { return NewCollector(b.Stats) }

var _ engine.Sink = (*Bridge)(nil)
