package host

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// TestServeSimulatedTraffic runs a whole node as `cdp serve --simulate 500`
// does, over a real listener: simulated risks appear on the stream and in
// GET /api/v1/risks within seconds, a REST batch is accepted, and shutdown
// drains and returns.
func TestServeSimulatedTraffic(t *testing.T) {
	cfg := config.Default()
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.API(api.Version{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	feed, err := n.simulator(500)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, feed) }()

	// The stream shows an opened risk within 15 s.
	sctx, scancel := context.WithTimeout(ctx, 15*time.Second)
	defer scancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, base+"/api/v1/risks/stream", nil)
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	opened := false
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") && strings.Contains(sc.Text(), `"type":"opened"`) {
			opened = true
			break
		}
	}
	resp.Body.Close()
	if !opened {
		t.Fatal("no risk opened on the stream within 15 s of simulated traffic")
	}
	r, err := http.Get(base + "/api/v1/risks")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !bytes.Contains(body, []byte(`"vehicle_a"`)) {
		t.Fatalf("GET /api/v1/risks: %d %s", r.StatusCode, body)
	}
	// A REST batch alongside the simulator.
	now := strconv.FormatInt(time.Now().Unix(), 10)
	batch := `{"id":"rest-1","t":` + now + `,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":0}`
	pr, err := http.Post(base+"/api/v1/locations", "application/json", strings.NewReader("["+batch+"]"))
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(pr.Body)
	pr.Body.Close()
	if pr.StatusCode != http.StatusAccepted || !bytes.Contains(pb, []byte(`"accepted":1`)) {
		t.Fatalf("POST: %d %s", pr.StatusCode, pb)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s of cancellation")
	}
	if _, ok := n.Engine.Vehicle("rest-1"); !ok {
		t.Fatal("the accepted REST record was lost at shutdown")
	}
}

// TestReplayToServer: `cdp replay --target URL` sends a recording to a running
// server, which ends up holding every aircraft of the file.
func TestReplayToServer(t *testing.T) {
	cfg := config.Default()
	cfg.System.Frame.Origin = config.Origin{Lat: 51.84, Lon: -1.35}
	cfg.System.MaxTPS = 10_000_000
	cfg.CollisionDetection.Classes["aviation"] = config.Class{Horizontal: 9260, Vertical: 304.8}
	cfg.CollisionDetection.MaxDistance = 9300
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.API(api.Version{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx, ln, srv, nil) }()
	var stderr bytes.Buffer
	err = Runner{}.Replay(context.Background(), cfg, cli.ReplayOptions{
		File:   dataFile(t, "opensky-uk-2021-07-12/tracks.csv"),
		Target: "http://" + ln.Addr().String(),
		Speed:  900, // 30 minutes of traffic in 2 s, paced so that the server ticks through it
		Class:  "aviation",
		Stdout: io.Discard, Stderr: &stderr,
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1200 * time.Millisecond) // a tick and an expiry sweep after the last record
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The server's clock follows the recording's time (2021), so the file
	// plays as it does in a local replay: the aircraft heard in its last
	// vehicle_ttl seconds are still there, and its conflicts were reported.
	rows := readCSVLastSeen(t, dataFile(t, "opensky-uk-2021-07-12/tracks.csv"))
	var end float64
	for _, last := range rows {
		end = max(end, last)
	}
	want := 0
	for _, last := range rows {
		if last >= end-cfg.CollisionDetection.VehicleTTL.Seconds() {
			want++
		}
	}
	st := n.Engine.Stats()
	if st.Accepted != 16778 || st.Vehicles != want || st.Opened == 0 {
		t.Fatalf("server accepted %d records, holds %d vehicles, opened %d risks; want 16778, %d, > 0 (%s)",
			st.Accepted, st.Vehicles, st.Opened, want, stderr.String())
	}
	if !strings.Contains(stderr.String(), "16778 accepted") {
		t.Fatalf("summary: %s", stderr.String())
	}
}

// readCSVLastSeen returns each vehicle's last report time in a recording.
func readCSVLastSeen(t *testing.T, path string) map[string]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]float64{}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			continue
		}
		f := strings.Split(line, ",")
		ts, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		last[f[0]] = max(last[f[0]], ts)
	}
	return last
}
