package embedded

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

func ev(riskID string, seq int, a, b string, t, r float64) risk.Event {
	tin := t + 5
	return risk.Event{ID: fmt.Sprintf("%s.%d", riskID, seq), RiskID: riskID, Seq: seq, Type: risk.EventUpdated,
		VehicleA: a, VehicleB: b, Time: t, Risk: r, TIn: &tin}
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ids(evs []risk.Event) string {
	out := ""
	for _, e := range evs {
		out += e.ID + " "
	}
	return out
}

// TestPersistAndQuery: published events survive a close and reopen, and
// queries page through them by time, vehicle and minimum risk without a
// duplicate or a gap.
func TestPersistAndQuery(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	s := open(t, path)
	var all []risk.Event
	for i := range 50 {
		a := "v" + fmt.Sprint(i%5)
		all = append(all, ev(fmt.Sprintf("r%d", i%7), i, a, "w", 1000+float64(i), float64(i%10)/10))
	}
	s.Publish(all[:20])
	s.Publish(all[20:])
	s.RecordLocation("v1", Location{T: 1000, X: 1, Y: 2, Z: 3, VX: 4})
	s.RecordLocation("v1", Location{T: 1001, X: 5})
	if err := s.SaveState([]byte(`{"version":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()

	// Paging over everything with a small limit returns every event once, in order.
	var got []risk.Event
	q := risk.Query{Limit: 7}
	for pages := 0; ; pages++ {
		p, err := s.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.Events...)
		if p.Next == "" {
			break
		}
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		q.After = p.Next
	}
	if ids(got) != ids(all) {
		t.Fatalf("paged:\n%s\nwant\n%s", ids(got), ids(all))
	}
	if *got[3].TIn != 1008 {
		t.Errorf("t_in lost: %v", *got[3].TIn)
	}
	// Vehicle, time range and minimum risk.
	p, err := s.Query(ctx, risk.Query{Vehicle: "v2", From: 1010, To: 1030, MinRisk: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	var want []risk.Event
	for _, e := range all {
		if e.VehicleA == "v2" && e.Time >= 1010 && e.Time < 1030 && e.Risk >= 0.5 {
			want = append(want, e)
		}
	}
	if len(want) == 0 || ids(p.Events) != ids(want) {
		t.Fatalf("filtered: %s, want %s", ids(p.Events), ids(want))
	}
	byRisk, err := s.ByRisk(ctx, "r3")
	if err != nil || len(byRisk) != 7 || byRisk[0].ID != "r3.3" {
		t.Fatalf("by risk: %v %s", err, ids(byRisk))
	}
	tr, err := s.Track(ctx, "v1", 0, 0, 0)
	if err != nil || len(tr) != 2 || tr[0].X != 1 || tr[0].VX != 4 || tr[1].T != 1001 {
		t.Fatalf("track: %v %+v", err, tr)
	}
	st, _, err := s.LoadState()
	if err != nil || string(st) != `{"version":1}` {
		t.Fatalf("state: %v %s", err, st)
	}
	if _, err := s.Query(ctx, risk.Query{After: "nonsense"}); !errors.Is(err, risk.ErrCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// TestPrune removes exactly what is older than the cutoff, from every index.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	defer s.Close()
	var evs []risk.Event
	for i := range 100 {
		evs = append(evs, ev("r"+fmt.Sprint(i), 0, "a", "b", float64(i), 1))
		s.RecordLocation("a", Location{T: float64(i)})
	}
	s.Publish(evs)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, 60)
	if err != nil || n != 120 {
		t.Fatalf("pruned %d (%v), want 60 events + 60 locations", n, err)
	}
	left, _ := s.Range(ctx, zeroTime, zeroTime, "a", 0)
	if len(left) != 40 || left[0].Time != 60 {
		t.Fatalf("left %d from %v", len(left), left[0].Time)
	}
	if r, _ := s.ByRisk(ctx, "r10"); len(r) != 0 {
		t.Error("risk index kept a pruned event")
	}
	tr, _ := s.Track(ctx, "a", 0, 0, 0)
	if len(tr) != 40 || tr[0].T != 60 {
		t.Fatalf("track left %d", len(tr))
	}
}

// TestLocationInterval keeps one location per vehicle per interval.
func TestLocationInterval(t *testing.T) {
	s, err := Open(Config{Path: filepath.Join(t.TempDir(), "h.db"), LocationInterval: 10e9})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 100 {
		s.RecordLocation("a", Location{T: float64(i)})
	}
	s.Flush(context.Background())
	tr, _ := s.Track(context.Background(), "a", 0, 0, 0)
	if st := s.Stats(); len(tr) != 10 || st.LocationsSkipped != 90 {
		t.Fatalf("kept %d, skipped %d", len(tr), st.LocationsSkipped)
	}
}

// TestSecondOpenRefused: two processes on one data directory would corrupt
// nothing but the second must say why it cannot start.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path)
	defer s.Close()
	if _, err := Open(Config{Path: path}); !errors.Is(err, ErrOpen) {
		t.Fatalf("second open: %v", err)
	}
}

var zeroTime time.Time
