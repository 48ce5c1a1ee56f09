package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
	"github.com/collision-detection-platform/distributed-platform/store/embedded"
	"github.com/collision-detection-platform/distributed-platform/store/postgres"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

func backupEvents() []risk.Event {
	base := float64(time.Now().Add(-36 * time.Hour).Unix()) // two days
	var evs []risk.Event
	for i := range 200 {
		tin := base + float64(i)
		evs = append(evs, risk.Event{ID: fmt.Sprintf("r%d.%d", i%20, i/20), RiskID: fmt.Sprintf("r%d", i%20), Seq: i / 20,
			Type: risk.EventUpdated, VehicleA: fmt.Sprintf("a%d", i%7), VehicleB: "b", Risk: float64(i%10) / 10,
			Time: base + float64(i)*600, TIn: &tin, Emitted: base + 1})
	}
	return evs
}

// tableDigest is an order-independent digest of a table's rows.
func tableDigest(t *testing.T, dsn, table string) string {
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	var d string
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '') FROM `+table+` x`).Scan(&n, &d); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d:%s", n, d)
}

// TestBackupRestorePostgres: a backup restored into an empty database
// holds the same rows in every table.
func TestBackupRestorePostgres(t *testing.T) {
	ctx := context.Background()
	src, dst := pgtest.DB(t), pgtest.DB(t)
	st, err := postgres.Open(ctx, postgres.Config{DSN: src})
	if err != nil {
		t.Fatal(err)
	}
	st.Publish(backupEvents())
	for i := range 50 {
		st.RecordLocation(fmt.Sprintf("a%d", i%7), postgres.Location{T: float64(time.Now().Add(-time.Duration(i) * time.Hour).Unix()), X: float64(i)})
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pool, _ := postgres.Connect(ctx, src, 1)
	pool.Exec(ctx, `INSERT INTO system_events (time, node, type, detail) VALUES (now(), 'n1', 'store_outage_start', '{"store":"postgres"}')`)
	pool.Exec(ctx, `INSERT INTO audit_log (time, actor, action) VALUES (now(), 'alice', 'plugin.activate')`)
	pool.Close()

	file := filepath.Join(t.TempDir(), "cdp.backup")
	if r := run(t, nil, "db", "backup", file, "--dsn", src); r.code != ExitOK || !strings.Contains(r.stdout, "backed up postgres") {
		t.Fatalf("backup: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, "db", "restore", file, "--dsn", dst); r.code != ExitOK || !strings.Contains(r.stdout, "restored") {
		t.Fatalf("restore: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
	for _, table := range []string{"risk_events", "risk_episodes", "vehicle_locations", "system_events", "audit_log", "plugins", "plugin_activations"} {
		if a, b := tableDigest(t, src, table), tableDigest(t, dst, table); a != b {
			t.Errorf("%s differs after restore: %s vs %s", table, a, b)
		}
	}
	if a := tableDigest(t, dst, "risk_events"); strings.HasPrefix(a, "0:") {
		t.Fatal("nothing restored")
	}
	// A backup of the other kind is refused with the reason.
	if r := run(t, nil, "db", "restore", file, "--set", "system.data_dir="+t.TempDir()); r.code == ExitOK || !strings.Contains(r.stderr, "postgres backup") {
		t.Fatalf("restore into the wrong store: exit %d %s", r.code, r.stderr)
	}
}

// TestBackupRestoreEmbedded: the embedded store round-trips into an empty
// data directory with every event and its id.
func TestBackupRestoreEmbedded(t *testing.T) {
	ctx := context.Background()
	src, dst := t.TempDir(), t.TempDir()
	st, err := embedded.Open(embedded.Config{Path: filepath.Join(src, "history.db")})
	if err != nil {
		t.Fatal(err)
	}
	want := backupEvents()
	st.Publish(want)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "h.backup")
	if r := run(t, nil, "db", "backup", file, "--set", "system.data_dir="+src); r.code != ExitOK {
		t.Fatalf("backup: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, nil, "db", "restore", file, "--set", "system.data_dir="+dst); r.code != ExitOK {
		t.Fatalf("restore: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, nil, "db", "restore", file, "--set", "system.data_dir="+dst); r.code == ExitOK {
		t.Fatal("restore over an existing store succeeded")
	}
	got, err := embedded.Open(embedded.Config{Path: filepath.Join(dst, "history.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	p, err := got.Query(ctx, risk.Query{Limit: 1000})
	if err != nil || len(p.Events) != len(want) {
		t.Fatalf("restored %d events (%v), want %d", len(p.Events), err, len(want))
	}
	for i := range want {
		if p.Events[i].ID != want[i].ID || p.Events[i].Time != want[i].Time || *p.Events[i].TIn != *want[i].TIn {
			t.Fatalf("event %d: %+v, want %+v", i, p.Events[i], want[i])
		}
	}
}
