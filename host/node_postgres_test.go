package host

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/store/postgres"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

// startPGNode runs a node with simulated traffic on a random port until the
// returned stop is called.
func startPGNode(t *testing.T, cfg config.Config, simulate int, prep ...func(*Node)) (*Node, string, func() error) {
	t.Helper()
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range prep {
		f(n)
	}
	srv, err := n.API(api.Version{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var feed func(context.Context)
	if simulate > 0 {
		if feed, err = n.simulator(simulate); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, feed) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-done
	}
	t.Cleanup(func() { stop() })
	return n, "http://" + ln.Addr().String(), stop
}

func getStatus(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

// TestServeWithPostgres: with database.postgres.dsn the node migrates the
// schema, writes every risk event of a simulated run exactly once, serves
// the history from PostgreSQL and shows the store in /system/status.
func TestServeWithPostgres(t *testing.T) {
	dsn := pgtest.DB(t)
	cfg := config.Default()
	cfg.Database.Postgres.DSN = dsn
	cfg.Database.LocationInterval = time.Second
	n, base, stop := startPGNode(t, cfg, 400)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page struct {
			Count int `json:"count"`
		}
		if getStatus(t, base+"/api/v1/risks/history?limit=100", &page) == http.StatusOK && page.Count >= 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 50 risk events in PostgreSQL after 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var status struct {
		Storage struct {
			Postgres postgres.Stats `json:"postgres"`
		} `json:"storage"`
	}
	getStatus(t, base+"/system/status", &status)
	if !status.Storage.Postgres.Up || status.Storage.Postgres.Events == 0 {
		t.Fatalf("status storage: %+v", status.Storage)
	}
	if code := getStatus(t, base+"/readyz", nil); code != http.StatusOK {
		t.Fatalf("readyz %d with PostgreSQL up", code)
	}
	// A vehicle's track comes from PostgreSQL: its positions near the
	// simulated area, oldest first.
	var vs struct {
		Vehicles []struct {
			ID string `json:"id"`
		} `json:"vehicles"`
	}
	getStatus(t, base+"/api/v1/vehicles?limit=1", &vs)
	if len(vs.Vehicles) == 0 {
		t.Fatal("no vehicle")
	}
	var track struct {
		Points []struct {
			T, Lat, Lon float64
		} `json:"points"`
	}
	for deadline := time.Now().Add(15 * time.Second); len(track.Points) < 2; time.Sleep(500 * time.Millisecond) {
		if code := getStatus(t, base+"/api/v1/vehicles/"+vs.Vehicles[0].ID+"/track", &track); code != http.StatusOK {
			t.Fatalf("track: %d", code)
		}
		if time.Now().After(deadline) {
			t.Fatalf("track of %s: %+v", vs.Vehicles[0].ID, track)
		}
	}
	if p := track.Points; p[0].T >= p[1].T || math.Abs(p[0].Lat-cfg.System.Frame.Origin.Lat) > 2 {
		t.Fatalf("track points: %+v", p)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	es := n.Engine.Stats()
	emitted := es.Opened + es.Updated + es.Resolved
	pool, err := postgres.Connect(context.Background(), dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows, distinct uint64
	pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT event_id) FROM risk_events`).Scan(&rows, &distinct)
	if rows != emitted || distinct != emitted {
		t.Fatalf("%d rows (%d distinct) in risk_events, the engine emitted %d", rows, distinct, emitted)
	}
	var locs uint64
	pool.QueryRow(context.Background(), `SELECT count(*) FROM vehicle_locations`).Scan(&locs)
	if locs == 0 {
		t.Fatal("no vehicle location stored")
	}
}
