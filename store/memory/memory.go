// Package memory is the embedded risk-event history of cdp: a bounded ring of
// engine events, kept in process memory, with queries by time range, by risk
// and by vehicle. It is the default history when no database is configured;
// the PostgreSQL store replaces it behind the same methods (the api package
// declares the interface it consumes, api.History).
//
// A Store is a risk.Sink: register it with the engine (AddSink) and every risk
// event the engine emits is kept, the oldest evicted first once Capacity is
// reached.
package memory

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

// DefaultCapacity is the number of events a Store keeps when Config.Capacity
// is zero.
const DefaultCapacity = 100_000

// DefaultPageLimit is the page size of Query when the query sets none.
const DefaultPageLimit = 1000

// Config configures a Store. The zero value is usable.
type Config struct {
	// Capacity is the most events kept; the oldest are evicted beyond it.
	// Default DefaultCapacity (100,000: about 40 MB with typical ids).
	Capacity int
}

// Stats is a snapshot of a Store.
type Stats struct {
	Len      int    // events held now
	Capacity int    // most events held
	Appended uint64 // events appended since New
	Evicted  uint64 // events overwritten by newer ones since New
}

// Store is a bounded, concurrency-safe ring of risk events. Create it with New.
type Store struct {
	mu       sync.RWMutex
	ring     []risk.Event
	head     int // index of the oldest event
	n        int // events held
	appended uint64
	evicted  uint64
}

// New returns an empty store. A negative capacity is an error
// (ErrCapacity); zero takes DefaultCapacity.
func New(cfg Config) (*Store, error) {
	if cfg.Capacity < 0 {
		return nil, &CapacityError{Capacity: cfg.Capacity}
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	return &Store{ring: make([]risk.Event, cfg.Capacity)}, nil
}

// Publish implements risk.Sink: it appends copies of evs. It runs on the
// engine's tick goroutine and only takes the store's lock for the copy.
func (s *Store) Publish(evs []risk.Event) { _ = s.Append(context.Background(), evs) }

// Append keeps copies of evs (the engine reuses its slice, and TIn points into
// memory the store does not own, so both are copied). It never fails for the
// memory store; the error is for stores that write somewhere.
func (s *Store) Append(_ context.Context, evs []risk.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// One block for the copied TIn values of this call rather than one
	// allocation per event.
	k := 0
	for i := range evs {
		if evs[i].TIn != nil {
			k++
		}
	}
	tins := make([]float64, 0, k)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := len(s.ring)
	for i := range evs {
		ev := evs[i]
		if ev.TIn != nil {
			tins = append(tins, *ev.TIn)
			ev.TIn = &tins[len(tins)-1]
		}
		if s.n < c {
			s.ring[(s.head+s.n)%c] = ev
			s.n++
		} else {
			s.ring[s.head] = ev
			s.head = (s.head + 1) % c
			s.evicted++
		}
		s.appended++
	}
	return nil
}

// each calls fn for the held events, oldest first, until it returns false.
// The caller holds s.mu for reading.
func (s *Store) each(fn func(*risk.Event) bool) {
	c := len(s.ring)
	for i := 0; i < s.n; i++ {
		if !fn(&s.ring[(s.head+i)%c]) {
			return
		}
	}
}

// Range returns the events whose data time (Event.Time: the time of the
// assessment, the later of the pair's two state times) lies in [from, to),
// oldest appended first. A zero from or to leaves that side open. When
// vehicle is not empty only the events of that vehicle's risks are returned.
// limit > 0 returns at most limit events (the oldest ones); limit <= 0
// returns every match.
//
// Range filters on data time, not on Event.Emitted (the wall clock), because
// a replayed recording's risks belong to the recording's times.
func (s *Store) Range(ctx context.Context, from, to time.Time, vehicle string, limit int) ([]risk.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lo, hi := unixBound(from, false), unixBound(to, true)
	var out []risk.Event
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.each(func(ev *risk.Event) bool {
		if ev.Time < lo || ev.Time >= hi {
			return true
		}
		if vehicle != "" && ev.VehicleA != vehicle && ev.VehicleB != vehicle {
			return true
		}
		out = append(out, *ev)
		return limit <= 0 || len(out) < limit
	})
	return out, nil
}

// ByRisk returns the events of one risk, oldest first (opened, updated...,
// resolved), or none when the store does not hold it (never seen, or
// evicted).
func (s *Store) ByRisk(ctx context.Context, riskID string) ([]risk.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []risk.Event
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.each(func(ev *risk.Event) bool {
		if ev.RiskID == riskID {
			out = append(out, *ev)
		}
		return true
	})
	return out, nil
}

// ByVehicle returns the events of the risks the vehicle took part in, oldest
// first, at most limit when limit > 0. It is Range with open bounds.
func (s *Store) ByVehicle(ctx context.Context, vehicle string, limit int) ([]risk.Event, error) {
	return s.Range(ctx, time.Time{}, time.Time{}, vehicle, limit)
}

// Stats returns a snapshot.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return Stats{Len: s.n, Capacity: len(s.ring), Appended: s.appended, Evicted: s.evicted}
}

// unixBound converts a bound to Unix seconds; the zero time is open
// (-Inf for a lower bound, +Inf for an upper one).
func unixBound(t time.Time, upper bool) float64 {
	if t.IsZero() {
		if upper {
			return inf
		}
		return -inf
	}
	return float64(t.UnixNano()) / 1e9
}

var inf = math.Inf(1)

var _ risk.Sink = (*Store)(nil)

// Query answers one page of q, in the order events were appended (the ring
// has no time index). The cursor is the append position of the last event
// returned; a cursor whose event was evicted since continues at the oldest
// event held.
func (s *Store) Query(ctx context.Context, q risk.Query) (risk.Page, error) {
	var page risk.Page
	if err := ctx.Err(); err != nil {
		return page, err
	}
	if q.Limit <= 0 {
		q.Limit = DefaultPageLimit
	}
	var after uint64
	if q.After != "" {
		v, err := strconv.ParseUint(strings.TrimPrefix(q.After, "m"), 10, 64)
		if err != nil || !strings.HasPrefix(q.After, "m") {
			return page, fmt.Errorf("memory: %w %q", risk.ErrCursor, q.After)
		}
		after = v
	}
	lo, hi := -inf, inf
	if q.From != 0 {
		lo = q.From
	}
	if q.To != 0 {
		hi = q.To
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	first := s.appended - uint64(s.n) // append position of the oldest held
	c := len(s.ring)
	for i := 0; i < s.n; i++ {
		pos := first + uint64(i) + 1
		if pos <= after {
			continue
		}
		ev := &s.ring[(s.head+i)%c]
		if ev.Time < lo || ev.Time >= hi || ev.Risk < q.MinRisk ||
			q.Vehicle != "" && ev.VehicleA != q.Vehicle && ev.VehicleB != q.Vehicle {
			continue
		}
		if len(page.Events) == q.Limit {
			// One more match exists: the page ends at the last one taken.
			page.Next = "m" + strconv.FormatUint(after, 10)
			break
		}
		page.Events = append(page.Events, *ev)
		after = pos
	}
	return page, nil
}
