package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

func ev(riskID string, seq int, a, b string, t float64) risk.Event {
	return risk.Event{
		ID: fmt.Sprintf("%s.%d", riskID, seq), RiskID: riskID, Seq: seq, Type: risk.EventUpdated,
		VehicleA: a, VehicleB: b, Time: t,
	}
}

func ids(evs []risk.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}

func unix(s float64) time.Time { return time.Unix(0, int64(s*1e9)) }

func TestNewCapacity(t *testing.T) {
	if _, err := New(Config{Capacity: -1}); !errors.Is(err, ErrCapacity) {
		t.Fatalf("negative capacity: got %v, want ErrCapacity", err)
	}
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().Capacity; got != DefaultCapacity {
		t.Fatalf("default capacity %d, want %d", got, DefaultCapacity)
	}
}

func TestRingEvictsOldest(t *testing.T) {
	s, _ := New(Config{Capacity: 3})
	ctx := context.Background()
	for i := range 5 {
		s.Publish([]risk.Event{ev("r", i, "a", "b", float64(100+i))})
	}
	all, _ := s.Range(ctx, time.Time{}, time.Time{}, "", 0)
	eq(t, "after 5 appends into 3", ids(all), []string{"r.2", "r.3", "r.4"})
	st := s.Stats()
	if st.Len != 3 || st.Appended != 5 || st.Evicted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRangeBoundsAndFilters(t *testing.T) {
	s, _ := New(Config{Capacity: 10})
	ctx := context.Background()
	s.Publish([]risk.Event{
		ev("r1", 0, "a", "b", 100),
		ev("r2", 0, "c", "d", 101.5),
		ev("r1", 1, "a", "b", 102),
		ev("r3", 0, "b", "c", 103),
	})
	got, _ := s.Range(ctx, unix(101.5), unix(103), "", 0)
	eq(t, "[101.5, 103)", ids(got), []string{"r2.0", "r1.1"})
	got, _ = s.Range(ctx, unix(101), time.Time{}, "", 0)
	eq(t, "[101, inf)", ids(got), []string{"r2.0", "r1.1", "r3.0"})
	got, _ = s.Range(ctx, time.Time{}, time.Time{}, "b", 0)
	eq(t, "vehicle b", ids(got), []string{"r1.0", "r1.1", "r3.0"})
	got, _ = s.Range(ctx, time.Time{}, time.Time{}, "", 2)
	eq(t, "limit 2", ids(got), []string{"r1.0", "r2.0"})
	got, _ = s.ByRisk(ctx, "r1")
	eq(t, "risk r1", ids(got), []string{"r1.0", "r1.1"})
	got, _ = s.ByRisk(ctx, "nope")
	eq(t, "unknown risk", ids(got), []string{})
	got, _ = s.ByVehicle(ctx, "d", 0)
	eq(t, "vehicle d", ids(got), []string{"r2.0"})

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Range(cctx, time.Time{}, time.Time{}, "", 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v", err)
	}
}

// The engine reuses its event slice and owns TIn's memory: the store must keep
// copies.
func TestPublishCopies(t *testing.T) {
	s, _ := New(Config{Capacity: 4})
	tin := 42.0
	in := []risk.Event{ev("r", 0, "a", "b", 1)}
	in[0].TIn = &tin
	s.Publish(in)
	in[0].ID = "overwritten"
	tin = -1
	got, _ := s.ByRisk(context.Background(), "r")
	if len(got) != 1 || got[0].ID != "r.0" || got[0].TIn == nil || *got[0].TIn != 42 {
		t.Fatalf("stored event changed with the caller's memory: %+v", got)
	}
}

// Hammer: concurrent publishers and readers; run with -race.
func TestConcurrent(t *testing.T) {
	s, _ := New(Config{Capacity: 64})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 500 {
				s.Publish([]risk.Event{ev(fmt.Sprintf("w%d", w), i, "a", "b", float64(i))})
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				evs, err := s.Range(ctx, time.Time{}, time.Time{}, "a", 0)
				if err != nil || len(evs) > 64 {
					t.Errorf("range: %d events, %v", len(evs), err)
					return
				}
				_, _ = s.ByRisk(ctx, "w1")
			}
		}()
	}
	wg.Wait()
	if st := s.Stats(); st.Appended != 2000 || st.Len != 64 || st.Evicted != 2000-64 {
		t.Fatalf("stats %+v", st)
	}
}

// Publishing events without TIn allocates nothing: the store runs on the
// engine's tick goroutine.
func TestPublishAllocs(t *testing.T) {
	s, _ := New(Config{Capacity: 128})
	evs := []risk.Event{ev("r", 0, "a", "b", 1), ev("q", 0, "a", "c", 2)}
	if n := testing.AllocsPerRun(100, func() { s.Publish(evs) }); n != 0 {
		t.Fatalf("Publish allocates %v times per call, want 0", n)
	}
}

func BenchmarkRange(b *testing.B) {
	s, _ := New(Config{Capacity: DefaultCapacity})
	for i := range DefaultCapacity {
		s.Publish([]risk.Event{ev("r", i, "a", "b", float64(i))})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = s.Range(ctx, unix(1000), unix(1100), "", 0)
	}
	b.ReportMetric(float64(DefaultCapacity)*float64(b.N)/b.Elapsed().Seconds(), "events-scanned/s")
}

func ExampleStore() {
	s, _ := New(Config{Capacity: 2})
	s.Publish([]risk.Event{
		{ID: "r-1.0", RiskID: "r-1", Type: risk.EventOpened, Time: 10},
		{ID: "r-1.1", RiskID: "r-1", Type: risk.EventResolved, Time: 12},
		{ID: "r-2.0", RiskID: "r-2", Type: risk.EventOpened, Time: 13},
	})
	evs, _ := s.ByRisk(context.Background(), "r-1")
	for _, e := range evs {
		fmt.Println(e.ID, e.Type)
	}
	fmt.Println(s.Stats().Evicted, "evicted")
	// Output:
	// r-1.1 resolved
	// 1 evicted
}
