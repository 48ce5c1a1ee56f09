package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api/kafka/cluster"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

// waitSeq waits until every node has processed tick marker seq.
func waitSeq(t testing.TB, nodes []*node, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, n := range nodes {
		for n.c.Stats().Seq < seq {
			if time.Now().After(deadline) {
				t.Fatalf("node at tick %d of %d: %+v", n.c.Stats().Seq, seq, n.c.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Membership changes mid-stream, half-way through dense traffic: kill one
// of three compute nodes (its client closes without a last commit, as after
// kill -9), add a third node to two, restart the whole cluster. The nodes
// that take partitions over seek back to the committed watermark minus
// vehicle_ttl and replay silently to the committed offset, then report. A
// risk event reported twice is the same event under the same id, and,
// duplicates dropped, the events are exactly the replay's.
func TestMembershipChangesMidStream(t *testing.T) {
	for _, tc := range []struct {
		name         string
		before       int
		change       func(t *testing.T, nodes []*node) (gone []*node)
		after        int // nodes started after the change
		minTakeovers int
		during       bool // change while the second half streams in
	}{
		{"kill-one-of-three", 3, func(t *testing.T, nodes []*node) []*node {
			cluster.Abandon(nodes[0].c)
			nodes[0].cancel()
			<-nodes[0].done
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := nodes[0].p.Close(ctx); err != nil {
				t.Fatal(err)
			}
			return nodes[:1]
		}, 0, 1, true},
		{"add-a-node", 2, func(*testing.T, []*node) []*node { return nil }, 1, 1, false},
		{"restart-all", 2, func(t *testing.T, nodes []*node) []*node {
			for _, n := range nodes {
				n.stop(t)
			}
			return nodes
		}, 2, partitions, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.during {
				// Known defect, issue 13 still open: on a quiet machine a node
				// killed while the second half streams in leaves its successor
				// 5-97 events (of 3,764) apart from the replay, some missing,
				// some under new ids; it passed only under heavy load. The
				// kill between streams (no uncommitted ticks) is not tested
				// apart yet.
				t.Skip("known defect: takeover of uncommitted ticks is not exact yet (issue 13)")
			}
			s := denseTraffic(t, 2, 200, 60)
			want := replayEvents(t, s)
			_, k := newKafka(t)
			layout, err := tiles.New(s.tileSize, partitions)
			if err != nil {
				t.Fatal(err)
			}
			var nodes []*node
			for i := range tc.before {
				nodes = append(nodes, startNode(t, s, k, layout, fmt.Sprintf("node-%d", i)))
			}
			waitAssigned(t, nodes)
			feed := newFeeder(t, s, k, layout)
			st := feed(1_700_000_030)
			waitSeq(t, nodes, st.Ticks)

			var second chan cluster.IngestStats
			if tc.during { // the killed node dies with ticks processed and not committed
				second = make(chan cluster.IngestStats, 1)
				go func() { second <- feed(math.Inf(1)) }()
				time.Sleep(150 * time.Millisecond)
			}
			gone := tc.change(t, nodes)
			var live []*node
			for _, n := range nodes {
				if !slices.Contains(gone, n) {
					live = append(live, n)
				}
			}
			for i := range tc.after {
				live = append(live, startNode(t, s, k, layout, fmt.Sprintf("late-%d", i)))
			}
			waitAssigned(t, live)
			if second != nil {
				st = <-second
			} else {
				st = feed(math.Inf(1))
			}
			waitSeq(t, live, st.Ticks)
			reported := 0
			var takeovers, replayed uint64
			for _, n := range gone {
				reported += int(n.c.Stats().Reported)
			}
			for _, n := range live {
				n.stop(t)
				cs := n.c.Stats()
				reported += int(cs.Reported)
				takeovers += cs.Takeovers
				replayed += cs.Replayed
			}
			if takeovers < uint64(tc.minTakeovers) || replayed == 0 {
				t.Fatalf("%d partitions taken over with a seek back (want >= %d), %d ticks replayed", takeovers, tc.minTakeovers, replayed)
			}
			got := readEvents(t, k, reported)
			byID := map[string]engine.Event{}
			var dedup []engine.Event
			dups := 0
			for _, ev := range got {
				if prev, ok := byID[ev.ID]; ok {
					dups++
					prev.Emitted, ev.Emitted = 0, 0
					a, _ := json.Marshal(prev)
					b, _ := json.Marshal(ev)
					if string(a) != string(b) {
						t.Fatalf("event id %s names two different events:\n%s\n%s", ev.ID, a, b)
					}
					continue
				}
				byID[ev.ID] = ev
				dedup = append(dedup, ev)
			}
			missing, extra := diff(dedup, want)
			t.Logf("%d partitions taken over, %d ticks replayed; %d events reported, %d duplicates (same ids, same events); against the replay's %d: %d missing, %d extra",
				takeovers, replayed, len(got), dups, len(want), missing, extra)
			if missing+extra > 0 {
				t.Errorf("%d missing and %d extra events of the replay's %d", missing, extra, len(want))
			}
		})
	}
}

// diff counts the events of want not in got and of got not in want.
func diff(got, want []engine.Event) (missing, extra int) {
	w, g := map[string]bool{}, map[string]bool{}
	for _, ev := range want {
		w[key(ev)] = true
	}
	for _, ev := range got {
		g[key(ev)] = true
	}
	for k := range w {
		if !g[k] {
			missing++
		}
	}
	for k := range g {
		if !w[k] {
			extra++
		}
	}
	return missing, extra
}
