package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

// BenchmarkCopy measures rows/s written by the store's writer: vehicle
// locations (the bulk of the rows) and risk events, each batch through COPY
// into a temporary table and an idempotent insert.
func BenchmarkCopy(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.DB(b), FlushInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	const rows = 200_000
	t0 := float64(time.Now().Unix())
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "v" + strconv.Itoa(i)
	}
	b.Run("locations", func(b *testing.B) {
		total := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for j := 0; j < rows; j++ {
				s.RecordLocation(ids[j%len(ids)], Location{T: t0 + float64(i*rows+j)/float64(len(ids)), X: float64(j), Y: 1, Z: 2, Alt: 3})
			}
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			total += rows
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	})
	b.Run("risk_events", func(b *testing.B) {
		total := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			evs := make([]risk.Event, 0, rows/4)
			for j := 0; j < rows/4; j++ {
				evs = append(evs, ev("b"+strconv.Itoa(i)+"-"+strconv.Itoa(j), 0, ids[j%len(ids)], ids[(j+1)%len(ids)], t0+float64(j)/100, 0.7))
			}
			s.Publish(evs)
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			total += len(evs)
		}
		b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	})
}

// BenchmarkHistoryVehicleHour measures GET /api/v1/risks/history's query
// for one vehicle over one hour with CDP_BENCH_HISTORY_ROWS rows (default
// 10M) in risk_events over 30 days and 20,000 vehicles; it reports p50 and
// p99 over 500 queries per iteration (run it with -benchtime 1x). Loading
// takes minutes: it runs only when CDP_BENCH_HISTORY_ROWS is set.
func BenchmarkHistoryVehicleHour(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("CDP_BENCH_HISTORY_ROWS"))
	if n <= 0 {
		b.Skip("set CDP_BENCH_HISTORY_ROWS=10000000 to load the table (minutes)")
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{DSN: pgtest.DB(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-30 * 24 * time.Hour)
	var days []time.Time
	for d := start; !d.After(end); d = d.Add(24 * time.Hour) {
		days = append(days, d)
	}
	if err := s.ensurePartitions(ctx, s.pool, days); err != nil {
		b.Fatal(err)
	}
	const vehicles = 20_000
	span := end.Sub(start).Seconds()
	loadStart := time.Now()
	// Server-side generation: 10M rows through the client would measure the
	// network, not the query.
	_, err = s.pool.Exec(ctx, `INSERT INTO risk_events
		SELECT to_timestamp(t), t, 'e' || g, 'r' || g, 0, 'opened', 'v' || (g % $2), 'v' || ((g * 7 + 1) % $2),
			random(), t + 10, 100, NULL, '', t, '{"name":"builtin-cpa","version":"1"}', t
		FROM (SELECT g, $3::float8 + (g::float8 / $1) * $4 AS t FROM generate_series(0, $1 - 1) g) x`,
		n, vehicles, float64(start.Unix()), span)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE risk_events`); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d rows in %v", n, time.Since(loadStart).Round(time.Second))
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	got := 0
	b.ResetTimer()
	// 500 queries per iteration, so that -benchtime 1x loads the table once.
	for i := 0; i < b.N*500; i++ {
		from := float64(start.Unix()) + rng.Float64()*(span-3600)
		q := risk.Query{Vehicle: fmt.Sprintf("v%d", rng.IntN(vehicles)), From: from, To: from + 3600, Limit: 1000}
		t := time.Now()
		p, err := s.Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
		got += len(p.Events)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(got)/float64(len(lat)), "events/query")
}
