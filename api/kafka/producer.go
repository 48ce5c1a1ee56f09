package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api/kafka/kafkaconn"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// Record headers cdp writes.
const (
	// HeaderEventID carries a risk event's deterministic id (risk id + "." +
	// sequence) or a system event's id: the key to drop duplicates by.
	HeaderEventID = "cdp-event-id"
	// HeaderEventType carries the event type (opened, updated, resolved, or a
	// system event type).
	HeaderEventType = "cdp-event-type"
	// HeaderReason carries why a dead-lettered record was refused: an
	// ingest reason (lat_out_of_range, ...) or malformed_json.
	HeaderReason = "cdp-reason"
	// HeaderField names the offending field of a dead-lettered record, when
	// one field is at fault.
	HeaderField = "cdp-field"
	// HeaderDetail is a human-readable explanation of the refusal.
	HeaderDetail = "cdp-detail"
	// HeaderSource is "topic/partition/offset" of the message the
	// dead-lettered record came from.
	HeaderSource = "cdp-source"
	// HeaderIndex is the position of the refused record in its message's
	// batch, from 0.
	HeaderIndex = "cdp-index"
)

// ProducerOptions configure a Producer.
type ProducerOptions struct {
	// Kafka is messaging.kafka. Required: BootstrapServers must not be empty.
	Kafka config.Kafka
	// Node names this node in system events (system.name). Default "cdp".
	Node string
	// Logger receives delivery failures (rate-limited). Default slog.Default().
	Logger *slog.Logger
	// ClientOpts are appended to the client's options (tests). Default none.
	ClientOpts []kgo.Opt
}

// Producer writes risk events, system events and dead letters through one
// idempotent franz-go client. It is an engine.Sink. Safe for concurrent use.
type Producer struct {
	cl     *kgo.Client
	topics config.Topics
	node   string
	boot   string // node start, ms: with seq, makes system event ids unique
	log    *slog.Logger

	ctx    context.Context // cancelled by Close when flushing gives up
	cancel context.CancelFunc

	seq atomic.Uint64
	st  producerCounters

	logMu   sync.Mutex
	lastLog time.Time
	dropped int // failures not logged since lastLog

	// Done callbacks, bound once so that a produce allocates no closure.
	riskDone, sysDone func(*kgo.Record, error)
}

type producerCounters struct {
	events, system, deadLetters       atomic.Uint64
	errors, deadLetterErrors, retries atomic.Uint64
}

// NewProducer returns a producer; it connects lazily (records wait in the
// buffer until the cluster answers).
func NewProducer(o ProducerOptions) (*Producer, error) {
	k := o.Kafka
	if len(k.BootstrapServers) == 0 {
		return nil, ErrNoBrokers
	}
	if o.Node == "" {
		o.Node = "cdp"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	opts, err := kafkaconn.Options(k)
	if err != nil {
		return nil, err
	}
	p := &Producer{topics: k.Topics, node: o.Node, log: o.Logger,
		boot: strconv.FormatInt(time.Now().UnixMilli(), 10)}
	pk := k.Producer
	switch pk.Acks {
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !pk.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if pk.Linger > 0 {
		opts = append(opts, kgo.ProducerLinger(pk.Linger))
	}
	if pk.BatchMaxBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(pk.BatchMaxBytes)))
	}
	if pk.MaxBufferedRecords > 0 {
		opts = append(opts, kgo.MaxBufferedRecords(pk.MaxBufferedRecords))
	}
	if pk.DeliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(pk.DeliveryTimeout))
	}
	// A missing topic is retried like an absent cluster rather than failing
	// records after four metadata refreshes: nothing accepted is dropped, and
	// `cdp kafka check` names the missing topic.
	opts = append(opts, kgo.UnknownTopicRetries(-1), kgo.WithHooks(retryHook{&p.st.retries}))
	opts = append(opts, o.ClientOpts...)
	if p.cl, err = kgo.NewClient(opts...); err != nil {
		return nil, fmt.Errorf("kafka: producer: %w", err)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.riskDone = func(r *kgo.Record, err error) { p.done(r, err, &p.st.events, &p.st.errors) }
	p.sysDone = func(r *kgo.Record, err error) { p.done(r, err, &p.st.system, &p.st.errors) }
	return p, nil
}

// Client returns the franz-go client (for kadm in tests and checks).
func (p *Producer) Client() *kgo.Client { return p.cl }

// Publish implements engine.Sink: each event goes to collision-risks keyed
// by its risk id, with its id in HeaderEventID. It copies what it keeps.
//
// Publish returns once every event is in the producer's buffer. While the
// buffer is full (producer.max_buffered_records, the cluster away) it blocks,
// which holds the engine's tick: that is how a Kafka outage slows ingest
// instead of dropping events. It unblocks when records are delivered, or when
// Close gives up flushing (the rest are then counted as produce errors).
func (p *Producer) Publish(evs []engine.Event) {
	for i := range evs {
		ev := &evs[i]
		val, err := json.Marshal(ev)
		if err != nil { // an Event always marshals; count it if not
			p.st.errors.Add(1)
			continue
		}
		r := &kgo.Record{
			Topic: p.topics.CollisionRisks,
			Key:   []byte(ev.RiskID),
			Value: val,
			Headers: []kgo.RecordHeader{
				{Key: HeaderEventID, Value: []byte(ev.ID)},
				{Key: HeaderEventType, Value: []byte(ev.Type)},
			},
		}
		p.cl.Produce(p.ctx, r, p.riskDone)
	}
}

// done counts a delivery; a failure is counted and logged with the record's
// id (rate-limited: at most one line a second, with the count of the rest).
func (p *Producer) done(r *kgo.Record, err error, ok, failed *atomic.Uint64) {
	if err == nil {
		ok.Add(1)
		return
	}
	failed.Add(1)
	p.logMu.Lock()
	defer p.logMu.Unlock()
	if time.Since(p.lastLog) < time.Second {
		p.dropped++
		return
	}
	id := ""
	for _, h := range r.Headers {
		if h.Key == HeaderEventID {
			id = string(h.Value)
		}
	}
	p.log.Error("kafka: record not delivered", "topic", r.Topic, "event_id", id, "err", err, "more_failures", p.dropped)
	p.lastLog, p.dropped = time.Now(), 0
}

// DeadLetter sends a refused record to the dead-letter topic: value is the
// record (or the whole message when it was not JSON), src the message it came
// from. done, when not nil, is called once the broker has it (or it failed
// for good): the consumer commits src only after that.
func (p *Producer) DeadLetter(src *kgo.Record, value []byte, index int, reason, field, detail string, done func()) {
	hs := []kgo.RecordHeader{
		{Key: HeaderReason, Value: []byte(reason)},
		{Key: HeaderDetail, Value: []byte(detail)},
		{Key: HeaderSource, Value: []byte(src.Topic + "/" + strconv.Itoa(int(src.Partition)) + "/" + strconv.FormatInt(src.Offset, 10))},
		{Key: HeaderIndex, Value: []byte(strconv.Itoa(index))},
	}
	if field != "" {
		hs = append(hs, kgo.RecordHeader{Key: HeaderField, Value: []byte(field)})
	}
	r := &kgo.Record{Topic: p.topics.DeadLetter, Key: src.Key, Value: value, Headers: hs}
	p.cl.Produce(p.ctx, r, func(r *kgo.Record, err error) {
		p.done(r, err, &p.st.deadLetters, &p.st.deadLetterErrors)
		if done != nil {
			done()
		}
	})
}

// Close flushes what is buffered, waiting until ctx is done, then closes the
// client. Records still undelivered then are failed, counted as produce
// errors and logged; Close returns an error saying how many.
func (p *Producer) Close(ctx context.Context) error {
	err := p.cl.Flush(ctx)
	left := p.cl.BufferedProduceRecords()
	p.cancel()
	p.cl.Close()
	if err != nil || left > 0 {
		return fmt.Errorf("kafka: producer closed with %d record(s) undelivered: %v", left, err)
	}
	return nil
}

// retryHook counts failed produce requests and failed connections: each is
// retried by the client, and the count shows an outage in the metrics.
type retryHook struct{ n *atomic.Uint64 }

func (h retryHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err != nil && key == 0 { // 0: Produce
		h.n.Add(1)
	}
}

func (h retryHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.n.Add(1)
	}
}

// Interface guards.
var (
	_ engine.Sink           = (*Producer)(nil)
	_ kgo.HookBrokerWrite   = retryHook{}
	_ kgo.HookBrokerConnect = retryHook{}
)
