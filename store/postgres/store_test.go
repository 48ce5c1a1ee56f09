package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/abi/risk"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

func ev(riskID string, seq int, a, b string, t, r float64) risk.Event {
	typ := risk.EventUpdated
	if seq == 0 {
		typ = risk.EventOpened
	}
	e := risk.Event{ID: fmt.Sprintf("%s.%d", riskID, seq), RiskID: riskID, Seq: seq, Type: typ,
		VehicleA: a, VehicleB: b, Time: t, Risk: r, TCA: t + 10, DMin: 42.5, OpenedAt: t - float64(seq),
		Model: abi.ModelID{Name: "builtin-cpa", Version: "1"}, Emitted: t + 0.1}
	if seq%2 == 1 {
		tin := t + 3
		e.TIn = &tin
	}
	return e
}

func openStore(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// TestMigrateFromEmptyAndPrevious: an empty database is migrated to the
// previous version, then to the latest; status reports both steps, and every
// table of the schema exists.
func TestMigrateFromEmptyAndPrevious(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DB(t)
	pool, err := Connect(ctx, dsn, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	st, err := Status(ctx, pool)
	if err != nil || len(st) != int(LatestVersion()) || st[0].Applied {
		t.Fatalf("status of an empty database: %v %+v", err, st)
	}
	if got, err := Migrate(ctx, pool, LatestVersion()-1); err != nil || len(got) != int(LatestVersion())-1 {
		t.Fatalf("migrate to the previous version: %v %v", got, err)
	}
	st, _ = Status(ctx, pool)
	if !st[0].Applied || st[len(st)-1].Applied {
		t.Fatalf("status after the previous version: %+v", st)
	}
	if got, err := Migrate(ctx, pool, 0); err != nil || !slices.Equal(got, []int64{LatestVersion()}) {
		t.Fatalf("migrate from the previous version: %v %v", got, err)
	}
	if got, err := Migrate(ctx, pool, 0); err != nil || len(got) != 0 {
		t.Fatalf("migrate again: %v %v", got, err)
	}
	for _, table := range []string{"risk_events", "risk_episodes", "vehicle_locations", "plugins", "plugin_activations", "system_events", "audit_log"} {
		var ok bool
		pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&ok)
		if !ok {
			t.Errorf("table %s missing", table)
		}
	}
	var kind string
	pool.QueryRow(ctx, `SELECT relkind::text FROM pg_class WHERE relname = 'risk_events'`).Scan(&kind)
	if kind != "p" {
		t.Errorf("risk_events relkind %q, want p (partitioned) without TimescaleDB", kind)
	}
}

// TestWriteAndQuery: published events land once (a repeated batch adds
// nothing), queries page through them by time, vehicle and minimum risk,
// episodes follow their events, locations form a track.
func TestWriteAndQuery(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pgtest.DB(t))
	base := float64(time.Date(2021, 7, 12, 23, 59, 0, 0, time.UTC).Unix()) // spans two days
	var all []risk.Event
	for i := range 120 {
		all = append(all, ev(fmt.Sprintf("r%02d", i%12), i/12, fmt.Sprintf("v%d", i%4), "w", base+float64(i), float64(i%10)/10))
	}
	s.Publish(all[:50])
	s.Publish(all[50:])
	s.RecordLocation("v1", Location{T: base, X: 1, Y: 2, Z: 3, VX: 4, VY: 5, VZ: 6, Alt: 7})
	s.RecordLocation("v1", Location{T: base + 90, X: 8})
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, all[10:30]); err != nil { // a retried batch
		t.Fatal(err)
	}
	var n int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM risk_events`).Scan(&n)
	if n != len(all) {
		t.Fatalf("%d rows, want %d (each event once)", n, len(all))
	}
	var got []risk.Event
	q := risk.Query{Limit: 25}
	for pages := 0; ; pages++ {
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Events...)
		if p.Next == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		q.After = p.Next
	}
	if len(got) != len(all) {
		t.Fatalf("paged %d events, want %d", len(got), len(all))
	}
	for i := range got {
		a, b := got[i], all[i]
		if a.ID != b.ID || a.Time != b.Time || a.Risk != b.Risk || a.Model != b.Model || (a.TIn == nil) != (b.TIn == nil) ||
			a.TIn != nil && *a.TIn != *b.TIn || a.Type != b.Type || a.Emitted != b.Emitted || a.OpenedAt != b.OpenedAt {
			t.Fatalf("event %d: got %+v, want %+v", i, a, b)
		}
	}
	p, err := s.Query(ctx, risk.Query{Vehicle: "v2", From: base + 20, To: base + 80, MinRisk: 0.5, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range all {
		if e.VehicleA == "v2" && e.Time >= base+20 && e.Time < base+80 && e.Risk >= 0.5 {
			want = append(want, e.ID)
		}
	}
	var gotIDs []string
	for {
		for _, e := range p.Events {
			gotIDs = append(gotIDs, e.ID)
		}
		if p.Next == "" {
			break
		}
		if p, err = s.Query(ctx, risk.Query{Vehicle: "v2", From: base + 20, To: base + 80, MinRisk: 0.5, Limit: 3, After: p.Next}); err != nil {
			t.Fatal(err)
		}
	}
	if len(want) == 0 || strings.Join(gotIDs, ",") != strings.Join(want, ",") {
		t.Fatalf("filtered: %v, want %v", gotIDs, want)
	}
	// The other side of the pair finds them too.
	if p, _ := s.Query(ctx, risk.Query{Vehicle: "w", Limit: 1000}); len(p.Events) != len(all) {
		t.Fatalf("vehicle_b query: %d", len(p.Events))
	}
	byRisk, err := s.ByRisk(ctx, "r03")
	if err != nil || len(byRisk) != 10 || byRisk[9].Seq != 9 {
		t.Fatalf("by risk: %v %d", err, len(byRisk))
	}
	var maxRisk float64
	var lastSeq int
	s.pool.QueryRow(ctx, `SELECT max_risk, last_seq FROM risk_episodes WHERE risk_id = 'r03'`).Scan(&maxRisk, &lastSeq)
	if maxRisk != 0.9 || lastSeq != 9 {
		t.Fatalf("episode r03: max %v last seq %d", maxRisk, lastSeq)
	}
	tr, err := s.Track(ctx, "v1", 0, 0, 0)
	if err != nil || len(tr) != 2 || tr[0] != (Location{T: base, X: 1, Y: 2, Z: 3, VX: 4, VY: 5, VZ: 6, Alt: 7}) || tr[1].X != 8 {
		t.Fatalf("track: %v %+v", err, tr)
	}
	if _, err := s.Query(ctx, risk.Query{After: "garbage"}); err == nil {
		t.Fatal("a bad cursor was accepted")
	}
}

// TestRetentionDropsOldPartitions: retention drops the daily partitions that
// end before the cutoff, and nothing newer; the partitions for the coming
// days exist ahead of time.
func TestRetentionDropsOldPartitions(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, pgtest.DB(t))
	now := time.Now().UTC()
	day := func(d int) float64 { return float64(now.Add(time.Duration(d) * 24 * time.Hour).Unix()) }
	var evs []risk.Event
	for i, d := range []int{-40, -31, -29, -1, 0} {
		evs = append(evs, ev(fmt.Sprintf("r%d", i), 0, "a", "b", day(d), 0.8))
		s.RecordLocation(fmt.Sprintf("v%d", i), Location{T: day(d)})
	}
	s.Publish(evs)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := s.Partitions(ctx, "risk_events")
	tomorrow := partitionName("risk_events", now.Add(24*time.Hour))
	if !slices.Contains(before, tomorrow) {
		t.Fatalf("partition %s not created ahead: %v", tomorrow, before)
	}
	dropped, err := s.Prune(ctx, now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Partitions(ctx, "risk_events")
	if dropped != 4 || len(after) != len(before)-2 {
		t.Fatalf("dropped %d (want 2 tables x 2 days); partitions before %v after %v", dropped, before, after)
	}
	for _, gone := range []int{-40, -31} {
		if slices.Contains(after, partitionName("risk_events", now.Add(time.Duration(gone)*24*time.Hour))) {
			t.Errorf("partition of day %d kept", gone)
		}
	}
	left, err := s.Range(ctx, time.Time{}, time.Time{}, "", 0)
	if err != nil || len(left) != 3 || left[0].RiskID != "r2" {
		t.Fatalf("left after retention: %v %+v", err, left)
	}
	var locs int
	s.pool.QueryRow(ctx, `SELECT count(*) FROM vehicle_locations`).Scan(&locs)
	if locs != 3 {
		t.Fatalf("%d locations left, want 3", locs)
	}
}
