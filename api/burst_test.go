package api

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// TestStreamBurstNotCutMidWrite: one tick of 300,000 events (50,000 with
// -short) reaches a client that reads it slowly, whole and in order, although
// writing it takes many times api.write_timeout: the deadline follows the
// progress of the write, not the length of the response. Nothing is counted
// as dropped.
func TestStreamBurstNotCutMidWrite(t *testing.T) {
	n := 300_000
	if testing.Short() {
		n = 50_000
	}
	s, err := New(Options{Engine: &nopEngine{}, Registerer: prometheus.NewRegistry(),
		WriteTimeout: 500 * time.Millisecond, StreamBuffer: n})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer func() { _ = s.Shutdown(context.Background()) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/v1/risks/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for s.hub.count() == 0 {
		time.Sleep(time.Millisecond)
	}
	evs := make([]engine.Event, n)
	tin := 3.0
	for i := range evs {
		id := "r-" + strconv.Itoa(i)
		evs[i] = engine.Event{ID: id + ".0", Type: engine.EventOpened, RiskID: id, VehicleA: "a", VehicleB: "b", Risk: 0.9, TIn: &tin}
	}
	first := s.hub.position() + 1
	s.hub.Publish(evs)

	r := bufio.NewReaderSize(resp.Body, 4096)
	got := 0
	start := time.Now()
	for got < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended after %d of %d events (%v after the burst): %v", got, n, time.Since(start), err)
		}
		if !strings.HasPrefix(line, "id: ") {
			if strings.HasPrefix(line, "event: dropped") {
				t.Fatalf("events dropped after %d", got)
			}
			continue
		}
		if at, err := strconv.ParseUint(line[4:len(line)-1], 10, 64); err != nil || at != first+uint64(got) {
			t.Fatalf("event %d: %q, want position %d", got, line, first+uint64(got))
		}
		got++
		if got%(n/30) == 0 {
			// A slow reader: the whole read takes more than 6 times the
			// write timeout, each pause less than it.
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d events read in %v (write timeout 500 ms)", n, time.Since(start))
	if d := s.hub.dropped.Load(); d != 0 {
		t.Fatalf("%d events counted as dropped", d)
	}
}
