package host

import (
	"context"
	"fmt"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
	"github.com/collision-detection-platform/distributed-platform/host/sim"
)

// simMaxLag is how far the simulator's feed may fall behind the wall clock
// before it skips the reports due meanwhile.
const simMaxLag = 2 * time.Second

// simulator returns the feed of `serve --simulate N`: every 100 ms the
// simulated world advances to the wall clock and its due reports go through
// the same validation and normalisation as REST ingest, into the engine.
func (n *Node) simulator(count int) (func(context.Context), error) {
	o := n.Config.System.Frame.Origin
	s, err := sim.New(sim.Config{N: count, Seed: 1, OriginLat: o.Lat, OriginLon: o.Lon})
	if err != nil {
		return nil, fmt.Errorf("host: --simulate: %w", err)
	}
	return func(ctx context.Context) {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		var (
			recs   []ingest.Record
			ups    []engine.Update
			logged bool
			behind bool // warned since it last kept up
		)
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				recs = s.Step(now, recs[:0])
				ups = ups[:0]
				wall := float64(now.UnixNano()) / 1e9
				for i := range recs {
					r := &recs[i]
					if _, reason := n.Validator.Validate(r, wall); reason != ingest.ReasonOK {
						if !logged {
							n.Logger.Warn("simulator produced an invalid record", "id", string(r.ID), "reason", reason.String())
							logged = true
						}
						continue
					}
					var v abi.Vehicle
					if ingest.Normalize(r, n.Frame, n.Validator.Classes(), &v) != nil {
						continue
					}
					ups = append(ups, engine.Update{ID: r.ID, V: v})
				}
				if err := n.Engine.Submit(ctx, ups); err != nil {
					return
				}
				// A world larger than the machine can feed falls behind the
				// wall clock (Submit waits while the engine catches up).
				// Replaying the backlog would only send reports older than
				// the engine's window, which it drops, until every vehicle
				// expires: skip to now instead, as after a pause, and say so.
				if lag := time.Since(now); lag > simMaxLag {
					s.SkipTo(time.Now())
					if !behind {
						n.Logger.Warn("simulator falls behind the wall clock: skipping reports to stay live (fewer vehicles, or a faster machine, keep every report)",
							"behind", lag.Round(time.Millisecond).String(), "vehicles", count)
						behind = true
					}
				} else {
					behind = false
				}
			}
		}
	}, nil
}
