package host

import (
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

// BenchmarkEnginePostgres measures engine throughput at 100k vehicles (each
// reporting at 1 Hz in 100 ms ticks, 2 vehicles/km², as the engine's own
// benchmark) with the PostgreSQL store off and on (every risk event, one
// location per vehicle per database.location_interval = 10 s), alternating
// in one run; it reports updates/s of each and the ratio on/off.
func BenchmarkEnginePostgres(b *testing.B) {
	const vehicles = 100_000
	const perTick = vehicles / 10
	side := 223_600.0 // m: 2 vehicles/km²
	dsn := pgtest.DB(b)
	mk := func(pg bool) *Node {
		cfg := config.Default()
		cfg.System.Frame.Origin.Lat = 0
		if pg {
			cfg.Database.Postgres.DSN = dsn
		}
		n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { n.Close() })
		return n
	}
	nodes := [2]*Node{mk(false), mk(true)}
	rng := rand.New(rand.NewPCG(1, 1))
	type veh struct{ x, y, vx, vy float64 }
	fleet := make([]veh, vehicles)
	ids := make([][]byte, vehicles)
	for i := range fleet {
		a := rng.Float64() * 6.283
		fleet[i] = veh{rng.Float64() * side, rng.Float64() * side, 15 * math.Cos(a), 15 * math.Sin(a)}
		ids[i] = []byte("v" + strconv.Itoa(i))
	}
	t0 := float64(time.Now().Unix())
	var dur [2]time.Duration
	var updates [2]int
	ups := make([]engine.Update, perTick)
	ctx := context.Background()
	// Warm both to the full fleet, then alternate a second of ticks each.
	round := func(k, tick int) {
		n := nodes[k]
		for j := range ups {
			i := (tick*perTick + j) % vehicles
			v := &fleet[i]
			t := t0 + float64(tick)/10
			ups[j] = engine.Update{ID: ids[i], V: abi.Vehicle{X: v.x + v.vx*(t-t0), Y: v.y + v.vy*(t-t0), Z: 100, Alt: 100,
				VX: v.vx, VY: v.vy, T: t, HSep: 50, VSep: 25, Radius: 1}}
		}
		start := time.Now()
		if err := n.Engine.Submit(ctx, ups); err != nil {
			b.Fatal(err)
		}
		n.Engine.Tick()
		dur[k] += time.Since(start)
		updates[k] += len(ups)
	}
	tick := 0
	for ; tick < 10; tick++ {
		round(0, tick)
		round(1, tick)
	}
	dur, updates = [2]time.Duration{}, [2]int{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			for j := 0; j < 10; j++ {
				round(k, tick+j)
			}
		}
		tick += 10
	}
	b.StopTimer()
	off := float64(updates[0]) / dur[0].Seconds()
	on := float64(updates[1]) / dur[1].Seconds()
	b.ReportMetric(off, "updates/s_pg_off")
	b.ReportMetric(on, "updates/s_pg_on")
	b.ReportMetric(on/off*100, "%_on/off")
	st := nodes[1].Postgres.Stats()
	b.ReportMetric(float64(st.Locations), "locations_written")
}
