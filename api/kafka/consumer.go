package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/api/kafka/kafkaconn"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// Ingester is what the consumer uses of the engine (*engine.Engine
// implements it).
type Ingester interface {
	// Submit accepts a batch, blocking while the engine's queue is full: the
	// consumer's backpressure.
	Submit(ctx context.Context, ups []engine.Update) error
	// WaitApplied returns once every update accepted before the call is in
	// the state table: the consumer commits offsets after it.
	WaitApplied(ctx context.Context) error
}

// DeadLetterer receives refused records (*Producer implements it).
type DeadLetterer interface {
	DeadLetter(src *kgo.Record, value []byte, index int, reason, field, detail string, done func())
}

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	// Kafka is messaging.kafka. Required: BootstrapServers must not be empty.
	Kafka config.Kafka
	// Engine receives the records. Required.
	Engine Ingester
	// Validator judges records as REST ingest does and holds the class
	// table. Required.
	Validator *ingest.Validator
	// Frame converts WGS84 records to the engine frame. Required.
	Frame *geo.Frame
	// DeadLetters receives refused records. Default nil: they are counted
	// and dropped (the dead-letter topic is not written).
	DeadLetters DeadLetterer
	// OnThrottle is called with true when the engine held a poll's records
	// for ThrottleAfter or more, and with false after a ThrottleAfter x 10
	// without holding. Default nil.
	OnThrottle func(on bool, detail map[string]any)
	// ThrottleAfter is the wait in Submit that counts as throttling. Default
	// 500ms.
	ThrottleAfter time.Duration
	// Logger receives connection and fetch problems (rate-limited). Default
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock records' timestamps are judged by. Default time.Now.
	Now func() time.Time
	// ClientOpts are appended to the client's options (tests). Default none.
	ClientOpts []kgo.Opt
}

// Consumer feeds vehicle-locations into the engine as one member of the
// consumer group messaging.kafka.consumer_group. Create it with NewConsumer,
// then Run it.
type Consumer struct {
	o      ConsumerOptions
	opts   []kgo.Opt
	cl     *kgo.Client // set by Run, before anything uses it
	client atomic.Pointer[kgo.Client]
	topic  string
	log    *slog.Logger
	max    int

	// Poll-loop scratch, reused: decoding allocates nothing per record once
	// these have grown (IDs are copied into one arena because a record's ID
	// may alias the decoder's scratch, which the next message overwrites).
	dec  *ingest.Decoder
	recs []ingest.Record
	errs []ingest.RecordError
	ups  []engine.Update
	ids  []byte
	offs []int

	// pending holds the offsets of polls submitted but not yet marked for
	// commit, oldest first. settling serialises settle (the marker goroutine
	// and the revoke callback).
	mu       sync.Mutex
	pending  []pendingMarks
	notify   chan struct{}
	settling chan struct{}

	lagMu sync.Mutex
	lag   map[int32]partitionLag

	throttled     bool
	lastThrottled time.Time

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed int

	st consumerCounters

	// abandon makes Run and the revoke callback stop without settling or
	// committing, as a crashed process would (tests).
	abandon atomic.Bool
}

type pendingMarks struct {
	offsets map[int32]kgo.EpochOffset
	dl      *sync.WaitGroup // dead letters of the poll in flight, nil for none
}

type partitionLag struct{ next, end int64 }

type consumerCounters struct {
	messages, records, updates, rejected, malformed atomic.Uint64
	polls, fetchErrors, marked, commitErrors        atomic.Uint64
	connected                                       atomic.Bool
	lastErr                                         atomic.Pointer[string]
}

// NewConsumer returns a consumer; it connects and joins the group when Run
// starts. Run it once.
func NewConsumer(o ConsumerOptions) (*Consumer, error) {
	k := o.Kafka
	switch {
	case len(k.BootstrapServers) == 0:
		return nil, ErrNoBrokers
	case o.Engine == nil:
		return nil, fmt.Errorf("%w: ConsumerOptions.Engine", ErrOptions)
	case o.Validator == nil:
		return nil, fmt.Errorf("%w: ConsumerOptions.Validator", ErrOptions)
	case o.Frame == nil:
		return nil, fmt.Errorf("%w: ConsumerOptions.Frame", ErrOptions)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ThrottleAfter <= 0 {
		o.ThrottleAfter = 500 * time.Millisecond
	}
	c := &Consumer{
		o: o, topic: k.Topics.VehicleLocations, log: o.Logger,
		max:      k.Consumer.MaxPollRecords,
		dec:      ingest.NewDecoder(o.Validator),
		notify:   make(chan struct{}, 1),
		settling: make(chan struct{}, 1),
		lag:      map[int32]partitionLag{},
	}
	if c.max <= 0 {
		c.max = 10000
	}
	opts, err := kafkaconn.Options(k)
	if err != nil {
		return nil, err
	}
	start := kgo.NewOffset().AtEnd()
	if k.StartOffset == "earliest" {
		start = kgo.NewOffset().AtStart()
	}
	opts = append(opts,
		kgo.ConsumerGroup(k.ConsumerGroup),
		kgo.ConsumeTopics(c.topic),
		kgo.ConsumeResetOffset(start),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.AutoCommitMarks(),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onLost),
	)
	if k.Consumer.CommitInterval > 0 {
		opts = append(opts, kgo.AutoCommitInterval(k.Consumer.CommitInterval))
	}
	if k.Consumer.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(int32(k.Consumer.FetchMaxBytes)))
	}
	if k.Consumer.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(k.Consumer.SessionTimeout))
	}
	c.opts = append(opts, o.ClientOpts...)
	return c, nil
}

// Client returns the franz-go client, nil before Run.
func (c *Consumer) Client() *kgo.Client { return c.client.Load() }

// Run consumes until ctx is done, then marks and commits what the engine has
// applied, leaves the group and closes the client. The engine must keep
// ticking until Run returns (WaitApplied needs a tick). An unreachable
// cluster is logged and retried; Run does not return for it.
func (c *Consumer) Run(ctx context.Context) error {
	// The client is created here, not in NewConsumer: a group client starts
	// joining as soon as it exists, and provisioning a node starts nothing.
	cl, err := kgo.NewClient(c.opts...)
	if err != nil {
		return fmt.Errorf("kafka: consumer: %w", err)
	}
	c.cl = cl
	c.client.Store(cl)
	var wg, mwg sync.WaitGroup
	mctx, cancelMarker := context.WithCancel(context.Background())
	stopMarker := func() { cancelMarker(); mwg.Wait() }
	wg.Add(1)
	mwg.Add(1)
	go func() { defer mwg.Done(); c.marker(mctx) }()
	go func() { defer wg.Done(); c.watchConnection(ctx) }()

	for ctx.Err() == nil {
		fs := c.cl.PollRecords(ctx, c.max)
		if fs.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fs.EachError(c.fetchError)
		if fs.NumRecords() > 0 {
			c.st.connected.Store(true)
			c.handle(ctx, fs)
		}
	}

	if c.abandon.Load() {
		stopMarker()
		c.cl.Close()
		wg.Wait()
		return nil
	}
	// Drain: what was submitted is applied by the engine's next tick; mark it
	// and commit synchronously, then leave.
	stopMarker()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	serr := c.settle(sctx)
	if err := c.cl.CommitMarkedOffsets(sctx); err != nil {
		c.st.commitErrors.Add(1)
		serr = errors.Join(serr, fmt.Errorf("kafka: commit at stop: %w", err))
	}
	c.cl.Close()
	wg.Wait()
	if serr != nil {
		return serr
	}
	return nil
}

// handle decodes one poll, submits it to the engine (blocking while the
// engine is saturated: that pauses fetching) and queues its offsets.
func (c *Consumer) handle(ctx context.Context, fs kgo.Fetches) {
	c.st.polls.Add(1)
	now := c.o.Now()
	ups, ids, offs := c.ups[:0], c.ids[:0], c.offs[:0]
	marks := make(map[int32]kgo.EpochOffset, 4)
	var dl *sync.WaitGroup
	var rejected uint64
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		for _, r := range p.Records {
			c.st.messages.Add(1)
			recs, errs, err := c.dec.DecodeBatch(r.Value, now, c.recs[:0], c.errs[:0])
			c.recs, c.errs = recs, errs
			if err != nil {
				c.st.malformed.Add(1)
				rejected++
				dl = c.deadLetter(dl, r, r.Value, 0, "malformed_json", "", err.Error())
				continue
			}
			c.st.records.Add(uint64(len(recs) + len(errs)))
			frame, classes := c.o.Frame, c.o.Validator.Classes()
			for i := range recs {
				rec := &recs[i]
				ups = append(ups, engine.Update{})
				if err := ingest.Normalize(rec, frame, classes, &ups[len(ups)-1].V); err != nil {
					ups = ups[:len(ups)-1]
					reason := ingest.ReasonPositionMissing
					if errors.Is(err, ingest.ErrUnknownClass) {
						reason = ingest.ReasonUnknownClass
					}
					rejected++
					dl = c.deadLetter(dl, r, element(r.Value, rec.Offset), rec.Index, reason.String(), "", err.Error())
					continue
				}
				if len(offs) == 0 {
					offs = append(offs, 0)
				}
				// The arena holds each record's id, then its group.
				ids = append(ids, rec.ID...)
				offs = append(offs, len(ids))
				ids = append(ids, rec.Group...)
				offs = append(offs, len(ids))
			}
			for i := range errs {
				e := &errs[i]
				rejected++
				dl = c.deadLetter(dl, r, element(r.Value, e.Offset), e.Index, e.Reason.String(), e.Field.String(), e.Error())
			}
		}
		last := p.Records[len(p.Records)-1]
		marks[p.Partition] = kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1}
		c.lagMu.Lock()
		c.lag[p.Partition] = partitionLag{next: last.Offset + 1, end: p.HighWatermark}
		c.lagMu.Unlock()
	})
	for i := range ups {
		ups[i].ID, ups[i].Group = ids[offs[2*i]:offs[2*i+1]], ids[offs[2*i+1]:offs[2*i+2]]
	}
	c.ups, c.ids, c.offs = ups, ids, offs
	c.st.rejected.Add(rejected)
	if len(ups) > 0 {
		t0 := time.Now()
		if err := c.o.Engine.Submit(ctx, ups); err != nil {
			return // stopping: not submitted, so not marked; a restart reads it again
		}
		c.observeWait(time.Since(t0))
		c.st.updates.Add(uint64(len(ups)))
	}
	clear(c.ups) // drop the aliases of the records' buffers
	c.mu.Lock()
	c.pending = append(c.pending, pendingMarks{offsets: marks, dl: dl})
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// deadLetter sends one refused record on, tracking it in the poll's group.
func (c *Consumer) deadLetter(dl *sync.WaitGroup, src *kgo.Record, value []byte, index int, reason, field, detail string) *sync.WaitGroup {
	if c.o.DeadLetters == nil {
		return dl
	}
	if dl == nil {
		dl = new(sync.WaitGroup)
	}
	dl.Add(1)
	c.o.DeadLetters.DeadLetter(src, bytes.Clone(value), index, reason, field, detail, dl.Done)
	return dl
}

// element returns the JSON value starting at off in data (one record of a
// batch), or data itself when it cannot be delimited.
func element(data []byte, off int) []byte {
	if off < 0 || off >= len(data) {
		return data
	}
	d := json.NewDecoder(bytes.NewReader(data[off:]))
	var raw json.RawMessage
	if err := d.Decode(&raw); err != nil {
		return data
	}
	return raw
}

// observeWait reports throttling: the engine held a poll for long, or has
// not for a while.
func (c *Consumer) observeWait(wait time.Duration) {
	now := time.Now()
	if wait >= c.o.ThrottleAfter {
		c.lastThrottled = now
		if !c.throttled {
			c.throttled = true
			if c.o.OnThrottle != nil {
				c.o.OnThrottle(true, map[string]any{"source": "kafka", "submit_wait_s": wait.Seconds()})
			}
		}
		return
	}
	if c.throttled && now.Sub(c.lastThrottled) >= 10*c.o.ThrottleAfter {
		c.throttled = false
		if c.o.OnThrottle != nil {
			c.o.OnThrottle(false, map[string]any{"source": "kafka"})
		}
	}
}

// marker marks the offsets of applied polls for commit, as they come.
func (c *Consumer) marker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.notify:
		}
		if err := c.settle(ctx); err != nil && ctx.Err() == nil {
			c.problem("settle offsets", err)
		}
	}
}

// settle waits until every poll queued so far is in the engine's state and
// its dead letters are delivered, then marks its offsets for commit. Marks
// of partitions no longer assigned are ignored by the client.
func (c *Consumer) settle(ctx context.Context) error {
	// A semaphore rather than a mutex: the revoke callback must give up after
	// its timeout even while the marker waits for a stalled engine.
	select {
	case c.settling <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.settling }()
	c.mu.Lock()
	batch := c.pending
	c.pending = nil
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	requeue := func() {
		c.mu.Lock()
		c.pending = append(batch, c.pending...)
		c.mu.Unlock()
	}
	if err := c.o.Engine.WaitApplied(ctx); err != nil {
		requeue()
		return err
	}
	for _, b := range batch {
		if b.dl == nil {
			continue
		}
		done := make(chan struct{})
		go func() { b.dl.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			requeue()
			return ctx.Err()
		}
	}
	merged := make(map[int32]kgo.EpochOffset)
	for _, b := range batch {
		for p, o := range b.offsets {
			if cur, ok := merged[p]; !ok || cur.Less(o) {
				merged[p] = o
			}
		}
	}
	c.cl.MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{c.topic: merged})
	c.st.marked.Add(uint64(len(batch)))
	return nil
}

// onRevoked commits what the engine has applied of the partitions leaving
// this member, so that their next owner starts after it.
func (c *Consumer) onRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	if c.abandon.Load() {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.settle(sctx); err != nil {
		c.problem("settle offsets on revoke", err)
	}
	if err := cl.CommitMarkedOffsets(sctx); err != nil {
		c.st.commitErrors.Add(1)
		c.problem("commit on revoke", err)
	}
	c.dropLag(revoked)
}

// onLost forgets partitions taken away without a chance to commit.
func (c *Consumer) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.dropLag(lost)
}

func (c *Consumer) dropLag(ps map[string][]int32) {
	c.lagMu.Lock()
	for _, p := range ps[c.topic] {
		delete(c.lag, p)
	}
	c.lagMu.Unlock()
}

func (c *Consumer) fetchError(topic string, partition int32, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return
	}
	c.st.fetchErrors.Add(1)
	c.st.connected.Store(false) // until records arrive again
	c.problem(fmt.Sprintf("fetch %s[%d]", topic, partition), err)
}

// problem records an error and logs it, at most once every 5 s (fetch
// errors repeat at every poll while the cluster is away; the client retries
// them with backoff), saying how many were not logged.
func (c *Consumer) problem(what string, err error) {
	s := what + ": " + err.Error()
	c.st.lastErr.Store(&s)
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if time.Since(c.lastLog) < 5*time.Second {
		c.suppressed++
		return
	}
	c.log.Warn("kafka: "+what, "err", err, "not_logged_since_last", c.suppressed)
	c.lastLog, c.suppressed = time.Now(), 0
}

// watchConnection probes the brokers for as long as the consumer runs: every
// second with backoff while they do not answer (saying clearly that they are
// unreachable; REST ingest is unaffected), every probeInterval once they do.
// Connected (and so /readyz) follows the cluster even while no record
// arrives to prove it.
func (c *Consumer) watchConnection(ctx context.Context) {
	backoff := time.Second
	down := 0 // failed probes in a row
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.cl.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		wait := probeInterval
		if err == nil {
			c.st.connected.Store(true)
			if down > 0 {
				c.log.Info("kafka: connected", "brokers", c.o.Kafka.BootstrapServers, "attempts", down+1)
			}
			down, backoff = 0, time.Second
		} else {
			down++
			c.st.connected.Store(false)
			msg := kafkaconn.Describe(c.o.Kafka, err)
			c.st.lastErr.Store(&msg)
			if down == 1 || down%10 == 0 {
				c.log.Error("kafka: "+msg+"; retrying in the background, REST ingest continues", "attempt", down)
			}
			wait, backoff = backoff, min(backoff*2, 30*time.Second)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// probeInterval is how often watchConnection checks a cluster that answers.
const probeInterval = 5 * time.Second

// lags returns the lag of each partition assigned, by partition.
func (c *Consumer) lags() []PartitionLag {
	c.lagMu.Lock()
	out := make([]PartitionLag, 0, len(c.lag))
	for p, l := range c.lag {
		out = append(out, PartitionLag{Topic: c.topic, Partition: p, Next: l.next, End: l.end, Lag: max(0, l.end-l.next)})
	}
	c.lagMu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Interface guards.
var (
	_ Ingester     = (*engine.Engine)(nil)
	_ DeadLetterer = (*Producer)(nil)
)
