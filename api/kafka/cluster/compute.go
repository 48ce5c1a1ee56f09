package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api/kafka/kafkaconn"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

// ComputeOptions configure a Compute node.
type ComputeOptions struct {
	// Kafka is messaging.kafka: brokers, security, consumer_group (the
	// compute nodes' group), topics. Required.
	Kafka config.Kafka
	// Engine detects; Compute ticks it (do not Run it) and registers itself
	// as its sink. Required.
	Engine *engine.Engine
	// Layout is the cluster's tile layout; messages of another are refused.
	// Required.
	Layout tiles.Layout
	// Horizon, MaxDistance: collision_detection.prediction_time (s) and
	// max_distance (m), the halo's terms. VehicleTTL (s) bounds the states
	// kept for the reference-point rule. Required.
	Horizon, MaxDistance, VehicleTTL float64
	// Sink receives the events this node reports (a *kafka.Producer).
	// Required.
	Sink engine.Sink
	// Flush, when set, waits until the events published so far are
	// delivered; offsets are committed only after it. Default none.
	Flush func(context.Context) error
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// ClientOpts are appended to the consumer's options (tests).
	ClientOpts []kgo.Opt
}

// Compute is a compute node: one member of the compute group on the routed
// vehicle-locations. It holds the vehicles of its partitions' tiles (home and
// ghost copies; a leave forgets one), ticks its engine once every partition
// it owns has delivered the same tick marker, on the cluster's data clock,
// and reports an event only when the pair's reference tile is one of its own
// (tiles.Layout.RefTile), so that N nodes report what one engine would, once.
type Compute struct {
	o      ComputeOptions
	layout string
	opts   []kgo.Opt
	base   []kgo.Opt // connection only: the takeover's replay reader
	log    *slog.Logger
	client atomic.Pointer[kgo.Client]

	mu      sync.Mutex // guards parts against the rebalance callbacks
	parts   map[int32]*partition
	holders map[string][]int32
	states  map[string]abi.Vehicle
	clock   float64
	swept   float64

	// per-tick scratch
	ups     []engine.Update
	forget  []string
	report  []engine.Event
	entries []entry

	st computeCounters

	silent  bool        // the tick in progress replays a taken-over partition
	abandon atomic.Bool // stop as a crash would: no commit (tests)
}

type partition struct {
	items []item
	done  kgo.EpochOffset // after the last marker processed: the commit point
	dirty bool            // done moved since the last commit
	// seq and clock of the last marker processed: the commit's metadata.
	seq   uint64
	clock float64
	// Takeover: rebuild asks the poll loop to read the partition back from
	// the watermark; ticks whose markers are before replayUntil (the
	// committed offset) are replayed silently.
	rebuild     bool
	replayUntil int64
	replayClock float64 // the data clock at replayUntil
}

type item struct {
	entries []entry // a states message
	tick    *marker // or a marker
	offset  kgo.EpochOffset
}

type computeCounters struct {
	ticks, states, leaves, forgotten, reported, elsewhere, unknown, misaligned, refused atomic.Uint64
	commits, commitErrors, replayed, takeovers, silenced, seq                           atomic.Uint64
}

// NewCompute returns a compute node; it joins the group when Run starts.
func NewCompute(o ComputeOptions) (*Compute, error) {
	switch {
	case len(o.Kafka.BootstrapServers) == 0:
		return nil, fmt.Errorf("%w: messaging.kafka.bootstrap_servers", ErrOptions)
	case o.Engine == nil:
		return nil, fmt.Errorf("%w: ComputeOptions.Engine", ErrOptions)
	case o.Sink == nil:
		return nil, fmt.Errorf("%w: ComputeOptions.Sink", ErrOptions)
	case !(o.Horizon > 0) || !(o.MaxDistance > 0) || !(o.VehicleTTL > 0):
		return nil, fmt.Errorf("%w: ComputeOptions.Horizon/MaxDistance/VehicleTTL", ErrOptions)
	}
	if err := o.Layout.Validate(); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Compute{o: o, layout: o.Layout.String(), log: o.Logger,
		parts: map[int32]*partition{}, holders: map[string][]int32{}, states: map[string]abi.Vehicle{},
		clock: math.Inf(-1), swept: math.Inf(-1)}
	opts, err := kafkaconn.Options(o.Kafka)
	if err != nil {
		return nil, err
	}
	c.base = append(append([]kgo.Opt(nil), opts...), o.ClientOpts...)
	start := kgo.NewOffset().AtEnd()
	if o.Kafka.StartOffset == "earliest" {
		start = kgo.NewOffset().AtStart()
	}
	opts = append(opts,
		kgo.ConsumerGroup(o.Kafka.ConsumerGroup),
		kgo.ConsumeTopics(o.Kafka.Topics.VehicleLocations),
		kgo.ConsumeResetOffset(start),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onLost),
	)
	if o.Kafka.Consumer.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(o.Kafka.Consumer.SessionTimeout))
	}
	if o.Kafka.Consumer.FetchMaxBytes > 0 {
		opts = append(opts, kgo.FetchMaxBytes(int32(o.Kafka.Consumer.FetchMaxBytes)))
	}
	c.opts = append(opts, o.ClientOpts...)
	o.Engine.AddSink(engine.SinkFunc(c.publish))
	return c, nil
}

// Client returns the consumer's client, nil before Run.
func (c *Compute) Client() *kgo.Client { return c.client.Load() }

// Partitions returns the partitions this node owns now, in order.
func (c *Compute) Partitions() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int32, 0, len(c.parts))
	for p := range c.parts {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Run consumes until ctx is done, then commits what it processed and leaves
// the group.
func (c *Compute) Run(ctx context.Context) error {
	cl, err := kgo.NewClient(c.opts...)
	if err != nil {
		return fmt.Errorf("cluster: compute: %w", err)
	}
	c.client.Store(cl)
	interval := c.o.Kafka.Consumer.CommitInterval
	if interval <= 0 {
		interval = time.Second
	}
	lastCommit := time.Now()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) {
			c.log.Warn("cluster: fetch", "topic", topic, "partition", p, "err", err)
		})
		c.rebuildTakenOver(ctx, cl)
		c.mu.Lock()
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if ps := c.parts[fp.Partition]; ps != nil {
				for _, r := range fp.Records {
					c.accept(ps, r)
				}
			}
		})
		c.process(ctx)
		c.mu.Unlock()
		if time.Since(lastCommit) >= interval && ctx.Err() == nil {
			c.commit(ctx, cl, nil)
			lastCommit = time.Now()
		}
	}
	if c.abandon.Load() { // a crash: no last commit
		cl.Close()
		return nil
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.commit(sctx, cl, nil)
	cl.Close()
	return nil
}

// accept queues one record of an owned partition.
func (c *Compute) accept(ps *partition, r *kgo.Record) {
	off := kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
	var kind, layout []byte
	for _, h := range r.Headers {
		switch h.Key {
		case HeaderKind:
			kind = h.Value
		case tiles.HeaderLayout:
			layout = h.Value
		}
	}
	if string(layout) != c.layout {
		c.refuse(r, fmt.Errorf("%w: %q, this node %q", ErrLayout, layout, c.layout))
		ps.items = append(ps.items, item{offset: off})
		return
	}
	switch string(kind) {
	case KindTick:
		m, err := decodeMarker(r.Value)
		if err != nil {
			c.refuse(r, err)
			ps.items = append(ps.items, item{offset: off})
			return
		}
		ps.items = append(ps.items, item{tick: &m, offset: off})
	case KindStates:
		es, err := decodeStates(r.Value, nil)
		if err != nil {
			c.refuse(r, err)
			es = nil
		}
		ps.items = append(ps.items, item{entries: es, offset: off})
	default:
		c.refuse(r, fmt.Errorf("%w: header %s = %q", ErrWire, HeaderKind, kind))
		ps.items = append(ps.items, item{offset: off})
	}
}

func (c *Compute) refuse(r *kgo.Record, err error) {
	if c.st.refused.Add(1) == 1 || c.st.refused.Load()%1000 == 0 {
		c.log.Error("cluster: refused a routed message", "partition", r.Partition, "offset", r.Offset, "err", err,
			"refused_so_far", c.st.refused.Load())
	}
}

// process runs every tick that all owned partitions have delivered: the
// lowest tick queued runs once every partition without a queued marker is
// already past it (a partition taken over and replaying is behind the
// others, which wait for it only where it can still contribute).
func (c *Compute) process(ctx context.Context) {
	for len(c.parts) > 0 && ctx.Err() == nil {
		seq, found := uint64(math.MaxUint64), false
		var clock float64
		for _, ps := range c.parts {
			if i := ps.nextMarker(); i >= 0 {
				if m := ps.items[i].tick; m.seq < seq {
					seq, clock, found = m.seq, m.clock, true
				}
			}
		}
		if !found {
			return
		}
		for _, ps := range c.parts {
			if ps.nextMarker() < 0 && ps.seq < seq {
				return // it may still deliver items of this tick
			}
		}
		c.tick(ctx, seq, clock)
	}
}

func (ps *partition) nextMarker() int {
	for i := range ps.items {
		if ps.items[i].tick != nil {
			return i
		}
	}
	return -1
}

// tick applies the items up to marker seq of every partition at it, then
// ticks the engine on the cluster's clock.
func (c *Compute) tick(ctx context.Context, seq uint64, clock float64) {
	ups, forget := c.ups[:0], c.forget[:0]
	order := make([]int32, 0, len(c.parts))
	for p := range c.parts {
		order = append(order, p)
	}
	slices.Sort(order)
	misaligned, silent, contributed := false, true, false
	for _, p := range order {
		ps := c.parts[p]
		i := ps.nextMarker()
		if i < 0 || ps.items[i].tick.seq != seq {
			misaligned = true
			continue // ahead: its items wait for its own tick
		}
		silent = silent && ps.items[i].offset.Offset <= ps.replayUntil
		contributed = true
		for _, it := range ps.items[:i] {
			for k := range it.entries {
				e := &it.entries[k]
				switch e.op {
				case opUpdate:
					c.hold(e.id, p)
					ups = append(ups, engine.Update{ID: e.id, V: e.v})
					if s, ok := c.states[string(e.id)]; !ok || e.v.T > s.T {
						c.states[string(e.id)] = e.v
					}
					c.st.states.Add(1)
				case opLeave:
					if c.release(e.id, p) {
						forget = append(forget, string(e.id))
					}
					c.st.leaves.Add(1)
				}
			}
		}
		ps.done, ps.dirty = ps.items[i].offset, true
		ps.seq, ps.clock = seq, clock
		ps.items = ps.items[i+1:]
	}
	silent = silent && contributed
	if misaligned && !silent {
		c.st.misaligned.Add(1)
	}
	// A vehicle that left every partition of this node is forgotten, and so
	// are its updates of this tick (it re-entered and left again).
	if len(forget) > 0 {
		gone := forget[:0]
		for _, id := range forget {
			if len(c.holders[id]) == 0 {
				delete(c.holders, id)
				delete(c.states, id)
				gone = append(gone, id)
			}
		}
		forget = gone
		c.st.forgotten.Add(uint64(c.o.Engine.Forget(forget)))
		kept := ups[:0]
		for _, u := range ups {
			if len(c.holders[string(u.ID)]) > 0 {
				kept = append(kept, u)
			}
		}
		ups = kept
	}
	if len(ups) > 0 {
		if err := c.o.Engine.Submit(ctx, ups); err != nil {
			return
		}
	}
	clear(ups)
	c.ups, c.forget = ups[:0], forget[:0]
	if clock > c.clock {
		c.clock = clock
	}
	c.o.Engine.AdvanceClock(clock)
	c.silent = silent
	c.o.Engine.Tick()
	c.silent = false
	c.st.ticks.Add(1)
	if silent {
		c.st.replayed.Add(1)
	}
	c.sweep()
}

func (c *Compute) hold(id []byte, p int32) {
	hs := c.holders[string(id)]
	if !slices.Contains(hs, p) {
		c.holders[string(id)] = append(hs, p)
	}
}

// release drops partition p from id's holders; it reports whether id is
// held nowhere on this node now.
func (c *Compute) release(id []byte, p int32) bool {
	hs, ok := c.holders[string(id)]
	if !ok {
		return false
	}
	if i := slices.Index(hs, p); i >= 0 {
		hs = slices.Delete(hs, i, i+1)
		c.holders[string(id)] = hs
	}
	return len(hs) == 0
}

// sweep drops the states of vehicles the engine has expired (kept twice
// vehicle_ttl: a "lost" event needs the state for its reference tile).
func (c *Compute) sweep() {
	if c.clock-c.swept < 1 {
		return
	}
	c.swept = c.clock
	limit := c.clock - 2*c.o.VehicleTTL
	for id, s := range c.states {
		if s.T < limit {
			delete(c.states, id)
			delete(c.holders, id)
		}
	}
}

// publish is the engine's sink: it passes on the events whose pair's
// reference tile is in a partition of this node.
func (c *Compute) publish(evs []engine.Event) {
	if c.silent { // replaying a taken-over partition: its owner reported these
		c.st.silenced.Add(uint64(len(evs)))
		return
	}
	out := c.report[:0]
	for i := range evs {
		ev := &evs[i]
		a, okA := c.states[ev.VehicleA]
		b, okB := c.states[ev.VehicleB]
		if !okA || !okB {
			c.st.unknown.Add(1)
			continue
		}
		rt, _ := c.o.Layout.RefTile(tiles.HaloOf(&a, c.o.Horizon, c.o.MaxDistance), tiles.HaloOf(&b, c.o.Horizon, c.o.MaxDistance))
		if _, mine := c.parts[c.o.Layout.Partition(rt)]; !mine {
			c.st.elsewhere.Add(1)
			continue
		}
		out = append(out, *ev)
	}
	if len(out) > 0 {
		c.st.reported.Add(uint64(len(out)))
		c.o.Sink.Publish(out)
	}
	clear(out)
	c.report = out[:0]
}

// commit flushes the reported events, then commits the offsets after the
// last marker processed of each partition (only: those of ps when given).
func (c *Compute) commit(ctx context.Context, cl *kgo.Client, only map[string][]int32) {
	if c.o.Flush != nil {
		if err := c.o.Flush(ctx); err != nil {
			c.st.commitErrors.Add(1)
			c.log.Warn("cluster: events not flushed; offsets not committed", "err", err)
			return
		}
	}
	c.mu.Lock()
	offs := map[int32]kgo.EpochOffset{}
	meta := map[int32]string{}
	for p, ps := range c.parts {
		if ps.dirty && (only == nil || slices.Contains(only[c.o.Kafka.Topics.VehicleLocations], p)) {
			offs[p] = ps.done
			meta[p] = commitMeta(ps.seq, ps.clock)
			ps.dirty = false
		}
	}
	c.mu.Unlock()
	if len(offs) == 0 {
		return
	}
	// The commit carries the tick and the data clock (the watermark) of its
	// offset: a node that takes the partition over seeks back from it.
	ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			for j := range req.Topics[i].Partitions {
				pt := &req.Topics[i].Partitions[j]
				if m, ok := meta[pt.Partition]; ok {
					pt.Metadata = &m
				}
			}
		}
		return nil
	})
	var cerr error
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{c.o.Kafka.Topics.VehicleLocations: offs},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			cerr = err
			if resp == nil {
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
						cerr = e
					}
				}
			}
		})
	if cerr != nil {
		c.st.commitErrors.Add(1)
		c.log.Warn("cluster: commit", "err", cerr)
		return
	}
	c.st.commits.Add(1)
}

func (c *Compute) onAssigned(_ context.Context, _ *kgo.Client, as map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range as[c.o.Kafka.Topics.VehicleLocations] {
		if c.parts[p] == nil {
			c.parts[p] = &partition{rebuild: true}
		}
	}
}

func (c *Compute) onRevoked(ctx context.Context, cl *kgo.Client, rs map[string][]int32) {
	if ctx.Err() == nil && !c.abandon.Load() { // at Close, Run has committed already
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c.commit(sctx, cl, rs)
		cancel()
	}
	c.drop(rs)
}

func (c *Compute) onLost(_ context.Context, _ *kgo.Client, ls map[string][]int32) { c.drop(ls) }

// drop forgets partitions and the vehicles held only by them.
func (c *Compute) drop(ps map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var forget []string
	for _, p := range ps[c.o.Kafka.Topics.VehicleLocations] {
		delete(c.parts, p)
		for id := range c.holders {
			if c.release([]byte(id), p) {
				forget = append(forget, id)
				delete(c.holders, id)
				delete(c.states, id)
			}
		}
	}
	if len(forget) > 0 {
		c.st.forgotten.Add(uint64(c.o.Engine.Forget(forget)))
	}
}

func commitMeta(seq uint64, clock float64) string {
	return "cdp1 " + strconv.FormatUint(seq, 10) + " " + strconv.FormatFloat(clock, 'f', 3, 64)
}

// parseCommitMeta reads commitMeta's form.
func parseCommitMeta(s string) (seq uint64, clock float64, ok bool) {
	f := strings.Fields(s)
	if len(f) != 3 || f[0] != "cdp1" {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseUint(f[1], 10, 64)
	clock, err2 := strconv.ParseFloat(f[2], 64)
	return seq, clock, err1 == nil && err2 == nil
}

// rebuildTakenOver rebuilds the node when partitions were assigned to it:
// it forgets everything (Engine.Reset) and reads every partition it owns
// back from a common data time, the oldest watermark among them minus
// vehicle_ttl (a new partition's watermark travels in its last commit's
// metadata; records are stamped with data time), up to where it was
// reported (the commit for a new partition, the last tick processed for a
// kept one), with a reader of its own. Those records are queued before the
// live ones and replayed in lockstep, silently while every partition of a
// tick is at or before where it was reported, so the engine is rebuilt as
// one engine holding these tiles would have it. It runs in the poll loop,
// before the poll's records are accepted.
func (c *Compute) rebuildTakenOver(ctx context.Context, cl *kgo.Client) {
	c.mu.Lock()
	fresh := false
	for _, st := range c.parts {
		fresh = fresh || st.rebuild
	}
	c.mu.Unlock()
	if !fresh {
		return
	}
	topic := c.o.Kafka.Topics.VehicleLocations
	adm := kadm.NewClient(cl)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	commits, err := adm.FetchOffsetsForTopics(actx, c.o.Kafka.ConsumerGroup, topic)
	if err != nil {
		c.log.Warn("cluster: takeover: no committed offsets; the partitions start without their history", "err", err)
		return
	}
	c.mu.Lock()
	until := map[int32]int64{}
	clocks := map[int32]float64{}
	water := math.Inf(1)
	for p, st := range c.parts {
		if !st.rebuild {
			switch {
			case st.replayUntil > st.done.Offset: // still replaying: reported up to replayUntil
				until[p], clocks[p] = st.replayUntil, st.replayClock
				water = math.Min(water, st.replayClock)
			case st.done.Offset > 0:
				until[p], clocks[p] = st.done.Offset, st.clock
				water = math.Min(water, st.clock)
			}
			continue
		}
		st.rebuild = false
		o, ok := commits.Lookup(topic, p)
		if !ok || o.Err != nil || o.At < 0 {
			continue // never committed: nothing to rebuild
		}
		if _, clock, ok := parseCommitMeta(o.Metadata); ok {
			until[p] = o.At
			clocks[p] = clock
			water = math.Min(water, clock)
			c.st.takeovers.Add(1)
		} else {
			c.log.Warn("cluster: takeover: commit without a watermark; starting from it without history", "partition", p, "metadata", o.Metadata)
		}
	}
	c.mu.Unlock()
	if math.IsInf(water, 1) {
		return
	}
	lo, err := adm.ListOffsetsAfterMilli(actx, int64(math.Floor((water-c.o.VehicleTTL)*1000)), topic)
	if err != nil {
		c.log.Warn("cluster: takeover: list offsets by time; starting without history", "err", err)
		return
	}
	back := map[int32][]*kgo.Record{}
	for p, to := range until {
		l, ok := lo.Lookup(topic, p)
		if !ok || l.Err != nil || l.Offset < 0 || l.Offset >= to {
			continue
		}
		recs, err := c.readRange(actx, topic, p, l.Offset, to)
		if err != nil {
			c.log.Warn("cluster: takeover: reading back failed; starting without history", "partition", p, "err", err)
			return
		}
		back[p] = recs
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.o.Engine.Reset()
	clear(c.holders)
	clear(c.states)
	c.clock, c.swept = math.Inf(-1), math.Inf(-1)
	for p, st := range c.parts {
		live := st.items
		st.items, st.seq, st.replayUntil, st.replayClock = nil, 0, until[p], clocks[p]
		for _, r := range back[p] {
			c.accept(st, r)
		}
		st.items = append(st.items, live...)
	}
	c.log.Info("cluster: partitions changed: replaying silently from the watermark", "watermark", water,
		"from", water-c.o.VehicleTTL, "partitions", len(c.parts))
}

// readRange reads the records [from, to) of one partition.
func (c *Compute) readRange(ctx context.Context, topic string, p int32, from, to int64) ([]*kgo.Record, error) {
	rc, err := kgo.NewClient(append(c.base, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {p: kgo.NewOffset().At(from)}}))...)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []*kgo.Record
	for {
		fs := rc.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < to {
				out = append(out, r)
			}
			done = done || r.Offset >= to-1
		})
		if done {
			return out, nil
		}
	}
}

// minSeq is the tick marker that every owned partition has passed.
func (c *Compute) minSeq() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m uint64
	first := true
	for _, ps := range c.parts {
		if first || ps.seq < m {
			m, first = ps.seq, false
		}
	}
	return m
}

func (c *Compute) partitionSeqs() map[int32]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[int32]uint64, len(c.parts))
	for p, ps := range c.parts {
		m[p] = ps.seq
	}
	return m
}

func (c *Compute) queued() map[int32]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[int32]int, len(c.parts))
	for p, ps := range c.parts {
		m[p] = len(ps.items)
	}
	return m
}

// ComputeStats counts what a compute node did.
type ComputeStats struct {
	Partitions   []int32 // owned now
	Ticks        uint64  // ticks run
	States       uint64  // states applied (home and ghost)
	Leaves       uint64  // leaves received
	Forgotten    uint64  // vehicles forgotten (left all this node's tiles)
	Reported     uint64  // events reported (reference tile here)
	Elsewhere    uint64  // events suppressed: another node's tile reports them
	Unknown      uint64  // events without a known state for a vehicle (should be 0)
	Misaligned   uint64  // ticks where partitions were at different markers
	Refused      uint64  // messages refused (layout, wire)
	Commits      uint64
	CommitErrors uint64
	Seq          uint64 // tick marker every owned partition has been processed to
	// PartitionSeqs is the last tick marker processed of each owned
	// partition, and Queued the records read and not yet processed.
	PartitionSeqs map[int32]uint64
	Queued        map[int32]int
	Takeovers     uint64 // partitions taken over with a seek back
	Replayed      uint64 // ticks replayed silently to rebuild them
	Silenced      uint64 // events of those ticks, not reported
}

// Stats returns the counters.
func (c *Compute) Stats() ComputeStats {
	return ComputeStats{Partitions: c.Partitions(), Ticks: c.st.ticks.Load(), States: c.st.states.Load(),
		Leaves: c.st.leaves.Load(), Forgotten: c.st.forgotten.Load(), Reported: c.st.reported.Load(),
		Elsewhere: c.st.elsewhere.Load(), Unknown: c.st.unknown.Load(), Misaligned: c.st.misaligned.Load(),
		Refused: c.st.refused.Load(), Commits: c.st.commits.Load(), CommitErrors: c.st.commitErrors.Load(),
		Seq: c.minSeq(), PartitionSeqs: c.partitionSeqs(), Queued: c.queued(), Takeovers: c.st.takeovers.Load(), Replayed: c.st.replayed.Load(), Silenced: c.st.silenced.Load()}
}
