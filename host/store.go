package host

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/store/embedded"
)

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
	if n.Embedded == nil {
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
	if n.Embedded == nil {
		return nil
	}
	err := n.saveState()
	if e := n.Embedded.Close(); err == nil {
		err = e
	}
	n.Embedded = nil
	if err != nil {
		return fmt.Errorf("host: embedded store: %w", err)
	}
	return nil
}
