package kafkaconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// Report is what Check found. Problems lists what is wrong, each with what
// to do; an empty list means cdp can run against this cluster.
type Report struct {
	// Cluster is the cluster id the brokers report.
	Cluster string
	// Brokers are "id host:port" of every broker in the metadata.
	Brokers []string
	// Topics is the state of each topic cdp uses, in the order of the keys.
	Topics []TopicStatus
	// Group is the consumer group's state.
	Group GroupStatus
	// Problems says what is wrong and what to do, one line each.
	Problems []string
}

// TopicStatus is one topic cdp reads or writes.
type TopicStatus struct {
	Key        string // the setting naming it, e.g. messaging.kafka.topics.vehicle_locations
	Name       string // the topic
	Exists     bool
	Partitions int
	Err        error // describing it failed (authorization, ...)
}

// GroupStatus is the consumer group of the compute nodes.
type GroupStatus struct {
	Name    string
	State   string // Stable, Empty, Dead (never used), PreparingRebalance, ...
	Members int
	// Lag is the committed lag per partition of vehicle-locations; -1 where
	// the group has no commit for the partition yet.
	Lag []PartitionLag
	// TotalLag sums the known lags.
	TotalLag int64
	Err      error
}

// PartitionLag is the lag of one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	Committed int64 // committed offset, -1 when none
	End       int64 // end offset (high watermark)
	Lag       int64 // End - Committed, -1 when unknown
}

// OK reports whether nothing is wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Check connects with the settings of k (plus extra options, for tests) and
// inspects the cluster: brokers, the four topics, and the consumer group with
// its lag. It returns ErrUnreachable (wrapped, with the cause) when no broker
// answers; other findings are in the report's Problems.
func Check(ctx context.Context, k config.Kafka, extra ...kgo.Opt) (*Report, error) {
	opts, err := Options(k)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafkaconn: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	r := &Report{Group: GroupStatus{Name: k.ConsumerGroup}}

	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	md, err := adm.BrokerMetadata(pctx)
	cancel()
	if err != nil {
		return r, fmt.Errorf("%w: %s", ErrUnreachable, Describe(k, err))
	}
	r.Cluster = md.Cluster
	for _, b := range md.Brokers {
		r.Brokers = append(r.Brokers, fmt.Sprintf("%d %s:%d", b.NodeID, b.Host, b.Port))
	}

	keys := []struct{ key, name string }{
		{"messaging.kafka.topics.vehicle_locations", k.Topics.VehicleLocations},
		{"messaging.kafka.topics.collision_risks", k.Topics.CollisionRisks},
		{"messaging.kafka.topics.system_events", k.Topics.SystemEvents},
		{"messaging.kafka.topics.dead_letter", k.Topics.DeadLetter},
	}
	names := make([]string, len(keys))
	for i, t := range keys {
		names[i] = t.name
	}
	td, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return r, fmt.Errorf("kafkaconn: list topics: %w", err)
	}
	for _, t := range keys {
		st := TopicStatus{Key: t.key, Name: t.name}
		d, ok := td[t.name]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			r.Problems = append(r.Problems, fmt.Sprintf("topic %q (%s) does not exist: create it, e.g. kafka-topics.sh --create --topic %s --partitions 12", t.name, t.key, t.name))
		case d.Err != nil:
			st.Err = d.Err
			r.Problems = append(r.Problems, fmt.Sprintf("topic %q (%s): %v", t.name, t.key, d.Err))
		default:
			st.Exists, st.Partitions = true, len(d.Partitions)
		}
		r.Topics = append(r.Topics, st)
	}

	lags, err := adm.Lag(ctx, k.ConsumerGroup)
	if err != nil {
		r.Group.Err = err
		r.Problems = append(r.Problems, fmt.Sprintf("consumer group %q (messaging.kafka.consumer_group): %v", k.ConsumerGroup, err))
		return r, nil
	}
	gl, ok := lags[k.ConsumerGroup]
	if !ok {
		return r, nil
	}
	r.Group.State, r.Group.Members = gl.State, len(gl.Members)
	if e := gl.Error(); e != nil && !errors.Is(e, kerr.GroupIDNotFound) {
		r.Group.Err = e
		r.Problems = append(r.Problems, fmt.Sprintf("consumer group %q (messaging.kafka.consumer_group): %v", k.ConsumerGroup, e))
	}
	for _, l := range gl.Lag.Sorted() {
		if l.Topic != k.Topics.VehicleLocations {
			continue
		}
		pl := PartitionLag{Topic: l.Topic, Partition: l.Partition, Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag}
		if l.Lag >= 0 {
			r.Group.TotalLag += l.Lag
		}
		r.Group.Lag = append(r.Group.Lag, pl)
	}
	sort.Slice(r.Group.Lag, func(i, j int) bool { return r.Group.Lag[i].Partition < r.Group.Lag[j].Partition })
	return r, nil
}

// WriteTo prints the report for a person: what is there, then what is wrong.
func (r *Report) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s: %d broker(s)\n", r.Cluster, len(r.Brokers))
	for _, br := range r.Brokers {
		fmt.Fprintf(&b, "  broker %s\n", br)
	}
	for _, t := range r.Topics {
		switch {
		case t.Exists:
			fmt.Fprintf(&b, "topic %-28s %3d partition(s)  ok   (%s)\n", t.Name, t.Partitions, t.Key)
		case t.Err != nil:
			fmt.Fprintf(&b, "topic %-28s error: %v\n", t.Name, t.Err)
		default:
			fmt.Fprintf(&b, "topic %-28s MISSING (%s)\n", t.Name, t.Key)
		}
	}
	g := r.Group
	state := g.State
	if state == "" || state == "Dead" {
		state = "not created yet (no member has joined; messaging.kafka.start_offset applies to a new group)"
	}
	fmt.Fprintf(&b, "group %s: %s, %d member(s), lag %d\n", g.Name, state, g.Members, g.TotalLag)
	for _, l := range g.Lag {
		if l.Committed < 0 {
			fmt.Fprintf(&b, "  %s[%d]: no commit, end %d\n", l.Topic, l.Partition, l.End)
			continue
		}
		fmt.Fprintf(&b, "  %s[%d]: committed %d, end %d, lag %d\n", l.Topic, l.Partition, l.Committed, l.End, l.Lag)
	}
	if r.OK() {
		b.WriteString("ok\n")
	} else {
		fmt.Fprintf(&b, "%d problem(s):\n", len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(&b, "  - %s\n", p)
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}
