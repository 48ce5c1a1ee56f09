package host

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/store/embedded"
	"github.com/collision-detection-platform/distributed-platform/store/postgres"
)

// openPostgres connects to database.postgres.dsn, applies the schema
// migrations it lacks, and registers the store for the engine's risk events
// and applied states; it becomes the history the API reads. An unreachable
// server at start is an error naming the key.
func (n *Node) openPostgres() error {
	c := n.Config.Database
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, postgres.Config{DSN: c.Postgres.DSN, MaxConns: c.Postgres.MaxConns,
		LocationInterval: c.LocationInterval, Logger: n.Logger,
		OnOutage: func(up bool, reason string, lasted time.Duration) {
			if up {
				n.systemEvent("store_outage_end", map[string]any{"store": "postgres", "seconds": lasted.Seconds()})
			} else {
				n.systemEvent("store_outage_start", map[string]any{"store": "postgres", "reason": reason})
			}
		}})
	if err != nil {
		return fmt.Errorf("host: database.postgres.dsn: %w", err)
	}
	stat := func(f func(postgres.Stats) float64) func() float64 { return func() float64 { return f(st.Stats()) } }
	lbl := prometheus.Labels{"store": "postgres"}
	n.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdp_store_up", ConstLabels: lbl,
			Help: "1 while the store's last write (or ping) succeeded."},
			stat(func(s postgres.Stats) float64 {
				if s.Up {
					return 1
				}
				return 0
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdp_store_queued_events", ConstLabels: lbl,
			Help: "Risk events waiting to be written (ingest slows when the queue is full)."},
			stat(func(s postgres.Stats) float64 { return float64(s.QueuedEvents) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdp_store_queued_locations", ConstLabels: lbl,
			Help: "Vehicle locations waiting to be written."},
			stat(func(s postgres.Stats) float64 { return float64(s.QueuedLocations) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cdp_store_events_written_total", ConstLabels: lbl,
			Help: "Risk events written."}, stat(func(s postgres.Stats) float64 { return float64(s.Events) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cdp_store_locations_written_total", ConstLabels: lbl,
			Help: "Vehicle locations written."}, stat(func(s postgres.Stats) float64 { return float64(s.Locations) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cdp_store_locations_dropped_total", ConstLabels: lbl,
			Help: "Vehicle locations dropped because the queue was full."}, stat(func(s postgres.Stats) float64 { return float64(s.LocationsDropped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cdp_store_locations_downsampled_total", ConstLabels: lbl,
			Help: "Vehicle locations not kept by database.location_interval."}, stat(func(s postgres.Stats) float64 { return float64(s.LocationsSkipped) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cdp_store_write_errors_total", ConstLabels: lbl,
			Help: "Failed write transactions (retried)."}, stat(func(s postgres.Stats) float64 { return float64(s.WriteErrors) })),
	)
	n.Engine.AddSink(st)
	n.Engine.AddStateSink(func(id string, v *abi.Vehicle) {
		st.RecordLocation(id, postgres.Location{T: v.T, X: v.X, Y: v.Y, Z: v.Z, VX: v.VX, VY: v.VY, VZ: v.VZ, Alt: v.Alt})
	})
	n.Postgres, n.History = st, st
	return nil
}

// storageStatus is the "storage" section of /system/status.
func (n *Node) storageStatus() any {
	out := map[string]any{}
	if st := n.Embedded; st != nil {
		out["embedded"] = st.Stats()
	}
	if st := n.Postgres; st != nil {
		out["postgres"] = st.Stats()
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// storageReady reports a configured store that cannot write.
func (n *Node) storageReady() error {
	if st := n.Postgres; st != nil {
		if err := st.Ready(); err != nil {
			return fmt.Errorf("database.postgres.dsn: %w", err)
		}
	}
	if st := n.Embedded; st != nil {
		if err := st.Ready(); err != nil {
			return fmt.Errorf("system.data_dir: %w", err)
		}
	}
	return nil
}

// historyFile is the embedded store's file under system.data_dir.
const historyFile = "history.db"

// openEmbedded opens <data_dir>/history.db, restores the engine's last saved
// vehicles and open risks into it, and registers the store for the engine's
// risk events and applied states. Called by NewNode before the engine runs.
func (n *Node) openEmbedded() error {
	dir := n.Config.System.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("host: system.data_dir: %w", err)
	}
	st, err := embedded.Open(embedded.Config{Path: filepath.Join(dir, historyFile),
		LocationInterval: n.Config.Database.LocationInterval, Logger: n.Logger})
	if err != nil {
		return fmt.Errorf("host: system.data_dir: %w", err)
	}
	snap, at, err := st.LoadState()
	if err == nil && snap != nil {
		err = n.Engine.Import(bytes.NewReader(snap))
		if err == nil {
			s := n.Engine.Snapshot()
			n.Logger.Info("restored engine state", "file", filepath.Join(dir, historyFile), "saved", at.UTC().Format(time.RFC3339),
				"vehicles", len(s.Vehicles), "open_risks", len(s.Risks))
		}
	}
	if err != nil {
		st.Close()
		return fmt.Errorf("host: system.data_dir: restore engine state: %w", err)
	}
	n.Engine.AddSink(st)
	n.Engine.AddStateSink(func(id string, v *abi.Vehicle) {
		st.RecordLocation(id, embedded.Location{T: v.T, X: v.X, Y: v.Y, Z: v.Z, VX: v.VX, VY: v.VY, VZ: v.VZ, Alt: v.Alt})
	})
	n.Embedded, n.History = st, st
	return nil
}

// saveState writes the engine's snapshot to the embedded store.
func (n *Node) saveState() error {
	var buf bytes.Buffer
	if err := n.Engine.Export(&buf); err != nil {
		return err
	}
	return n.Embedded.SaveState(buf.Bytes())
}

// runStoreJobs saves the engine state every database.snapshot_interval and
// applies database.retention_days every hour (and once at start), until ctx
// is done. It returns at once without an embedded store.
func (n *Node) runStoreJobs(ctx context.Context, wg *sync.WaitGroup) {
	if n.Embedded == nil && n.Postgres == nil {
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		snap := time.NewTicker(n.Config.Database.SnapshotInterval)
		defer snap.Stop()
		ret := time.NewTicker(time.Hour)
		defer ret.Stop()
		n.applyRetention(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-snap.C:
				if n.Embedded == nil {
					continue
				}
				if err := n.saveState(); err != nil {
					n.Logger.Error("save engine state", "err", err)
				}
			case <-ret.C:
				n.applyRetention(ctx)
			}
		}
	}()
}

// applyRetention removes history older than database.retention_days.
func (n *Node) applyRetention(ctx context.Context) {
	days := n.Config.Database.RetentionDays
	if days <= 0 || n.Embedded == nil {
		return
	}
	cutoff := float64(time.Now().Add(-time.Duration(days) * 24 * time.Hour).Unix())
	removed, err := n.Embedded.Prune(ctx, cutoff)
	if err != nil {
		n.Logger.Error("retention", "err", err)
		return
	}
	if removed > 0 {
		n.Logger.Info("retention removed old history", "rows", removed, "retention_days", days)
	}
}

// closeStores saves the engine state (after its last tick) and closes the
// embedded store.
func (n *Node) closeStores() error {
	var err error
	if n.Postgres != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = n.Postgres.Close(ctx)
		cancel()
		n.Postgres = nil
		if err != nil {
			err = fmt.Errorf("host: database.postgres.dsn: %w", err)
		}
	}
	if n.Embedded == nil {
		return err
	}
	if e := n.saveState(); err == nil {
		err = e
	}
	if e := n.Embedded.Close(); err == nil {
		err = e
	}
	n.Embedded = nil
	if err != nil {
		return fmt.Errorf("host: stores: %w", err)
	}
	return nil
}

// embeddedTracks serves the API's tracks from the embedded store.
type embeddedTracks struct{ st *embedded.Store }

func (t embeddedTracks) Track(ctx context.Context, id string, from, to float64, limit int) ([]api.TrackPoint, error) {
	locs, err := t.st.Track(ctx, id, from, to, limit)
	out := make([]api.TrackPoint, len(locs))
	for i, l := range locs {
		out[i] = api.TrackPoint(l)
	}
	return out, err
}

// postgresTracks serves the API's tracks from PostgreSQL.
type postgresTracks struct{ st *postgres.Store }

func (t postgresTracks) Track(ctx context.Context, id string, from, to float64, limit int) ([]api.TrackPoint, error) {
	locs, err := t.st.Track(ctx, id, from, to, limit)
	out := make([]api.TrackPoint, len(locs))
	for i, l := range locs {
		out[i] = api.TrackPoint(l)
	}
	return out, err
}

// tracks is the track store the API reads: PostgreSQL when configured,
// else the embedded store, else none.
func (n *Node) tracks() api.Tracks {
	switch {
	case n.Postgres != nil:
		return postgresTracks{n.Postgres}
	case n.Embedded != nil:
		return embeddedTracks{n.Embedded}
	}
	return nil
}

var (
	_ api.Tracks = embeddedTracks{}
	_ api.Tracks = postgresTracks{}
)
