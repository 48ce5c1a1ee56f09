package cluster

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

// IngestOptions configure an Ingest.
type IngestOptions struct {
	// Router routes the states (its layout is recorded in every message).
	// Required.
	Router *tiles.Router
	// Client produces to Topic. Required; it must use kgo.ManualPartitioner.
	Client *kgo.Client
	// Topic is vehicle-locations. Required.
	Topic string
	// Interval is compute.processing_interval in seconds: with DataTicks, a
	// tick holds one interval of data time. Default 0.1.
	Interval float64
	// DataTicks cuts ticks on data time as `cdp replay` does (a record
	// outside the current interval closes the tick), which makes a cluster's
	// output equal to a replay's. Without it the owner calls Cut (the
	// ingest role does every processing_interval of wall time).
	DataTicks bool
	// MaxMessageBytes bounds one states message. Default 512 KiB.
	MaxMessageBytes int
}

// Ingest is the repartitioning stage of the ingest role: it routes each
// normalised state to its home tile's partition and ghost copies (tiles.Router),
// batches them per partition, and closes ticks with a marker in every
// partition. Safe for concurrent use.
type Ingest struct {
	o      IngestOptions
	layout string

	mu      sync.Mutex
	bufs    [][]byte
	targets []tiles.Target
	seq     uint64
	dirty   bool // something routed since the last marker
	tickEnd float64

	records, messages, markers, errs atomic.Uint64
	firstErr                         atomic.Pointer[string]
}

// NewIngest returns an ingest stage.
func NewIngest(o IngestOptions) (*Ingest, error) {
	switch {
	case o.Router == nil:
		return nil, fmt.Errorf("%w: IngestOptions.Router", ErrOptions)
	case o.Client == nil:
		return nil, fmt.Errorf("%w: IngestOptions.Client", ErrOptions)
	case o.Topic == "":
		return nil, fmt.Errorf("%w: IngestOptions.Topic", ErrOptions)
	}
	if o.Interval <= 0 {
		o.Interval = 0.1
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 512 << 10
	}
	l := o.Router.Layout()
	return &Ingest{o: o, layout: l.String(), bufs: make([][]byte, l.Partitions), tickEnd: math.Inf(-1)}, nil
}

// Add routes one state of vehicle id (id may alias the caller's buffer) and
// reports whether it was routed. With DataTicks a state outside the current
// tick's interval closes it first. A state the router drops (not newer than
// the vehicle's last: stale, or a duplicate when as old) is counted there.
func (in *Ingest) Add(ctx context.Context, id []byte, v *abi.Vehicle) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.addLocked(ctx, id, v)
}

// AddBatch routes a batch under one lock; routed[i] says whether ups[i]
// was routed (false: not newer than the vehicle's last state).
func (in *Ingest) AddBatch(ctx context.Context, ups []engine.Update, routed []bool) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for i := range ups {
		routed[i] = in.addLocked(ctx, ups[i].ID, &ups[i].V)
		if routed[i] {
			n++
		}
	}
	return n
}

func (in *Ingest) addLocked(ctx context.Context, id []byte, v *abi.Vehicle) bool {
	if in.o.DataTicks && (v.T >= in.tickEnd || v.T < in.tickEnd-in.o.Interval) {
		if in.dirty {
			in.cutLocked(ctx)
		}
		in.tickEnd = (math.Floor(v.T/in.o.Interval) + 1) * in.o.Interval
	}
	ts, ok := in.o.Router.Route(id, v, in.targets[:0])
	in.targets = ts
	if !ok {
		return false
	}
	in.dirty = true
	in.records.Add(1)
	for _, t := range ts {
		op := opUpdate
		if t.Kind == tiles.Leave {
			op = opLeave
		}
		b := appendState(in.bufs[t.Partition], op, id, v)
		if len(b) >= in.o.MaxMessageBytes {
			in.produce(ctx, t.Partition, KindStates, b)
			b = nil
		}
		in.bufs[t.Partition] = b
	}
	return true
}

// Cut writes what is batched and closes the tick: a marker carrying the
// tick's sequence number and the data clock goes to every partition. It
// does nothing when nothing was routed since the last marker.
func (in *Ingest) Cut(ctx context.Context) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.dirty {
		in.cutLocked(ctx)
	}
}

// Heartbeat closes the tick even when nothing was routed since the last
// marker: the compute nodes then tick (and expire silent vehicles) while
// traffic pauses.
func (in *Ingest) Heartbeat(ctx context.Context) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.cutLocked(ctx)
}

// Buffered returns the messages waiting for the cluster.
func (in *Ingest) Buffered() int64 { return in.o.Client.BufferedProduceRecords() }

func (in *Ingest) cutLocked(ctx context.Context) {
	for p, b := range in.bufs {
		if len(b) > 0 {
			in.produce(ctx, int32(p), KindStates, b)
			in.bufs[p] = nil
		}
	}
	in.seq++
	m := appendMarker(nil, marker{seq: in.seq, clock: in.o.Router.Clock()})
	for p := range in.bufs {
		in.produce(ctx, int32(p), KindTick, m)
	}
	in.markers.Add(1)
	in.dirty = false
}

func (in *Ingest) produce(ctx context.Context, p int32, kind string, value []byte) {
	// The record's timestamp is the data clock: a node taking a partition
	// over seeks back by data time (watermark - vehicle_ttl) with it.
	ts := time.UnixMilli(int64(math.Floor(in.o.Router.Clock() * 1000)))
	r := &kgo.Record{Topic: in.o.Topic, Partition: p, Value: value, Timestamp: ts, Headers: []kgo.RecordHeader{
		{Key: tiles.HeaderLayout, Value: []byte(in.layout)},
		{Key: HeaderKind, Value: []byte(kind)},
	}}
	in.messages.Add(1)
	in.o.Client.Produce(ctx, r, in.done)
}

func (in *Ingest) done(_ *kgo.Record, err error) {
	if err != nil {
		in.errs.Add(1)
		s := err.Error()
		in.firstErr.CompareAndSwap(nil, &s)
	}
}

// Flush closes the tick and waits until every message is delivered.
func (in *Ingest) Flush(ctx context.Context) error {
	in.Cut(ctx)
	if err := in.o.Client.Flush(ctx); err != nil {
		return err
	}
	if p := in.firstErr.Load(); p != nil {
		return fmt.Errorf("cluster: %d routed message(s) not delivered: %s", in.errs.Load(), *p)
	}
	return nil
}

// IngestStats counts what an Ingest did.
type IngestStats struct {
	Records  uint64 // states routed
	Messages uint64 // messages produced (states and markers)
	Ticks    uint64 // ticks closed
	Errors   uint64 // messages not delivered
	Router   tiles.RouterStats
}

// Stats returns the counters.
func (in *Ingest) Stats() IngestStats {
	in.mu.Lock()
	rs := in.o.Router.Stats()
	in.mu.Unlock()
	return IngestStats{Records: in.records.Load(), Messages: in.messages.Load(), Ticks: in.markers.Load(), Errors: in.errs.Load(), Router: rs}
}
