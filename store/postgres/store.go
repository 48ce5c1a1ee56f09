// Package postgres is cdp's PostgreSQL store (pgx v5): risk events, risk
// episodes and vehicle locations written by a bounded asynchronous writer in
// COPY batches, history queries with paging, time partitioning (TimescaleDB
// hypertables when the extension is installed, native daily range
// partitions otherwise) and retention. The schema comes from migrations
// embedded in the binary (Migrate, Status; goose).
//
// Risk events are never dropped and never duplicated: a batch is copied into
// a temporary table and inserted with ON CONFLICT DO NOTHING on the event id,
// so a batch retried after an unknown outcome lands once. When the writer
// cannot keep up or the database is away, Publish waits (backpressure on the
// engine) once the queue holds Config.QueueEvents. Locations are downsampled
// per vehicle (Config.LocationInterval) and dropped and counted when their
// queue is full.
package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

// Defaults of Config.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultQueueEvents   = 200_000
	DefaultQueueLocs     = 1_000_000
	DefaultBatchRows     = 50_000
	DefaultPageLimit     = 1000
)

// Config configures a Store. DSN is required.
type Config struct {
	// DSN is a pgx connection string.
	DSN string
	// MaxConns caps the pool; 0 lets pgx choose.
	MaxConns int
	// FlushInterval is how often the writer commits what is queued.
	// Default 200 ms.
	FlushInterval time.Duration
	// QueueEvents caps the risk events waiting; Publish waits beyond it.
	// Default 200,000.
	QueueEvents int
	// QueueLocations caps the locations waiting; more are dropped and
	// counted. Default 1,000,000.
	QueueLocations int
	// BatchRows caps the rows of one COPY. Default 50,000.
	BatchRows int
	// LocationInterval keeps at most one location per vehicle per interval
	// of data time; 0 keeps every one. Default 0.
	LocationInterval time.Duration
	// Logger receives write errors. Default slog.Default().
	Logger *slog.Logger
	// OnOutage, when set, is called on the writer's goroutine when writes
	// start failing (up false, with the reason) and when they succeed again
	// (up true, with how long the outage lasted).
	OnOutage func(up bool, reason string, lasted time.Duration)
}

// Location is one vehicle position in the engine frame.
type Location struct {
	T          float64
	X, Y, Z    float64
	VX, VY, VZ float64
	Alt        float64
}

// Stats is a snapshot of the writer.
type Stats struct {
	Events           uint64 `json:"events"`            // risk events committed
	Locations        uint64 `json:"locations"`         // locations committed
	LocationsSkipped uint64 `json:"locations_skipped"` // not kept by LocationInterval
	LocationsDropped uint64 `json:"locations_dropped"` // dropped: queue full
	QueuedEvents     int    `json:"queued_events"`
	QueuedLocations  int    `json:"queued_locations"`
	Batches          uint64 `json:"batches"`      // committed write transactions
	WriteErrors      uint64 `json:"write_errors"` // failed ones (retried)
	LastError        string `json:"last_error,omitempty"`
	Up               bool   `json:"up"` // the last write or ping succeeded
	Timescale        bool   `json:"timescale"`
}

// Store is the PostgreSQL history. Open it with Open; Close flushes.
type Store struct {
	cfg  Config
	pool *pgxpool.Pool
	log  *slog.Logger
	ts   bool // TimescaleDB hypertables

	wmu     sync.Mutex // one flush at a time: the writer's or Flush's
	mu      sync.Mutex
	cond    *sync.Cond
	evq     []risk.Event
	locq    []locEntry
	lastLoc map[string]float64
	closed  bool
	stats   Stats
	parts   map[string]bool // native partitions known to exist, by table+day
	downAt  time.Time       // start of the current outage

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

type locEntry struct {
	id  string
	loc Location
}

// Connect opens a pool on dsn and checks that the server answers.
func Connect(ctx context.Context, dsn string, maxConns int) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDSN, err)
	}
	if maxConns > 0 {
		pc.MaxConns = int32(maxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return pool, nil
}

// Open connects, applies the migrations the database lacks and starts the
// writer.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.QueueEvents <= 0 {
		cfg.QueueEvents = DefaultQueueEvents
	}
	if cfg.QueueLocations <= 0 {
		cfg.QueueLocations = DefaultQueueLocs
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = DefaultBatchRows
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pool, err := Connect(ctx, cfg.DSN, cfg.MaxConns)
	if err != nil {
		return nil, err
	}
	if _, err := Migrate(ctx, pool, 0); err != nil {
		pool.Close()
		return nil, err
	}
	ts, err := hasTimescale(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{cfg: cfg, pool: pool, log: cfg.Logger, ts: ts, lastLoc: map[string]float64{}, parts: map[string]bool{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.stats.Up, s.stats.Timescale = true, ts
	s.cond = sync.NewCond(&s.mu)
	// Partitions for today and the next days exist before the first write.
	if !ts {
		now := time.Now().UTC()
		if err := s.ensurePartitions(ctx, pool, []time.Time{now, now.Add(24 * time.Hour), now.Add(48 * time.Hour)}); err != nil {
			pool.Close()
			return nil, err
		}
	}
	go s.writer()
	return s, nil
}

// Pool is the store's connection pool (for tools such as backup).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func hasTimescale(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	var ok bool
	err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')`).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("postgres: detect timescaledb: %w", err)
	}
	return ok, nil
}

// Publish implements risk.Sink: it queues copies of evs, waiting while the
// queue is full so that no risk event is dropped.
func (s *Store) Publish(evs []risk.Event) {
	if len(evs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.closed && len(s.evq) > 0 && len(s.evq)+len(evs) > s.cfg.QueueEvents {
		s.signal()
		s.cond.Wait()
	}
	if s.closed {
		s.log.Error("postgres: events published after Close", "n", len(evs))
		return
	}
	for _, ev := range evs {
		if ev.TIn != nil {
			t := *ev.TIn
			ev.TIn = &t
		}
		s.evq = append(s.evq, ev)
	}
	if len(s.evq) >= s.cfg.BatchRows {
		s.signal()
	}
}

// RecordLocation queues one vehicle state, unless the vehicle has one within
// LocationInterval or the queue is full (then it is counted as dropped).
func (s *Store) RecordLocation(id string, loc Location) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.lastLoc[id]; ok && s.cfg.LocationInterval > 0 && loc.T-last < s.cfg.LocationInterval.Seconds() {
		s.stats.LocationsSkipped++
		return
	}
	if len(s.locq) >= s.cfg.QueueLocations || s.closed {
		s.stats.LocationsDropped++
		return
	}
	s.lastLoc[id] = loc.T
	s.locq = append(s.locq, locEntry{id: id, loc: loc})
	if len(s.locq) >= s.cfg.BatchRows {
		s.signal()
	}
}

func (s *Store) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Store) writer() {
	defer close(s.done)
	tk := time.NewTicker(s.cfg.FlushInterval)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tk.C:
		case <-s.kick:
		}
		for s.flushOnce(context.Background()) == nil && s.queued() >= s.cfg.BatchRows {
		}
	}
}

func (s *Store) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(len(s.evq), len(s.locq))
}

// flushOnce writes up to BatchRows events and locations in one transaction.
// On failure they stay at the head of their queues.
func (s *Store) flushOnce(ctx context.Context) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	ne, nl := min(len(s.evq), s.cfg.BatchRows), min(len(s.locq), s.cfg.BatchRows)
	evs, locs := s.evq[:ne:ne], s.locq[:nl:nl]
	s.mu.Unlock()
	if ne == 0 && nl == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := s.write(ctx, evs, locs)
	s.mu.Lock()
	wasUp := s.stats.Up
	if err != nil {
		if strings.Contains(err.Error(), "no partition of relation") {
			s.parts = map[string]bool{} // a partition was dropped or never committed: check again
		}
		s.stats.WriteErrors++
		s.stats.LastError = err.Error()
		s.stats.Up = false
		queued := len(s.evq)
		if wasUp {
			s.downAt = time.Now()
		}
		s.mu.Unlock()
		if wasUp {
			s.log.Error("postgres: write failed; holding writes and retrying", "err", err, "queued_events", queued)
			if s.cfg.OnOutage != nil {
				s.cfg.OnOutage(false, err.Error(), 0)
			}
		}
		return err
	}
	if !wasUp {
		lasted := time.Since(s.downAt)
		defer func() {
			s.log.Info("postgres: writes resumed", "outage", lasted.Round(time.Millisecond))
			if s.cfg.OnOutage != nil {
				s.cfg.OnOutage(true, "", lasted)
			}
		}()
	}
	defer s.mu.Unlock()
	s.evq = s.evq[ne:]
	s.locq = s.locq[nl:]
	if len(s.evq) == 0 {
		s.evq = nil // let the backing array go
	}
	if len(s.locq) == 0 {
		s.locq = nil
	}
	s.stats.Up, s.stats.LastError = true, ""
	s.stats.Batches++
	s.stats.Events += uint64(ne)
	s.stats.Locations += uint64(nl)
	s.cond.Broadcast()
	return nil
}

// Flush writes everything queued so far, retrying until ctx is done.
func (s *Store) Flush(ctx context.Context) error {
	for {
		err := s.flushOnce(ctx)
		if err == nil {
			s.mu.Lock()
			empty := len(s.evq) == 0 && len(s.locq) == 0
			s.mu.Unlock()
			if empty {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres: flush: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(s.cfg.FlushInterval):
		}
	}
}

func unixTime(t float64) time.Time {
	sec, frac := math.Modf(t)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// write copies evs and locs in one transaction: each into a temporary table
// by COPY, then into the partitioned table with ON CONFLICT DO NOTHING, so
// that a batch written twice (a retry after a lost commit answer) lands once.
func (s *Store) write(ctx context.Context, evs []risk.Event, locs []locEntry) error {
	if !s.ts {
		days := make([]time.Time, 0, 4)
		for i := range evs {
			days = appendDay(days, unixTime(evs[i].Time))
		}
		for i := range locs {
			days = appendDay(days, unixTime(locs[i].loc.T))
		}
		if err := s.ensurePartitions(ctx, s.pool, days); err != nil {
			return err
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if len(evs) > 0 {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE cdp_ev (LIKE risk_events INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		rows := make([][]any, len(evs))
		for i := range evs {
			e := &evs[i]
			model, _ := json.Marshal(e.Model)
			rows[i] = []any{unixTime(e.Time), e.Time, e.ID, e.RiskID, int32(e.Seq), string(e.Type), e.VehicleA, e.VehicleB,
				e.Risk, e.TCA, e.DMin, e.TIn, e.Reason, e.OpenedAt, model, e.Emitted}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"cdp_ev"}, eventColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy risk events: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO risk_events SELECT * FROM cdp_ev ON CONFLICT DO NOTHING`); err != nil {
			return fmt.Errorf("insert risk events: %w", err)
		}
		if _, err := tx.Exec(ctx, upsertEpisodes); err != nil {
			return fmt.Errorf("upsert risk episodes: %w", err)
		}
	}
	if len(locs) > 0 {
		// Straight COPY: locations are not deduplicated (a batch retried
		// after a lost commit answer may repeat a position; risk events
		// above cannot repeat).
		src := &locSource{locs: locs, i: -1}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"vehicle_locations"}, locationColumns, src); err != nil {
			return fmt.Errorf("copy vehicle locations: %w", err)
		}
	}
	return tx.Commit(ctx)
}

var eventColumns = []string{"time", "t", "event_id", "risk_id", "seq", "type", "vehicle_a", "vehicle_b",
	"risk", "tca", "dmin", "t_in", "reason", "opened_at", "model", "emitted"}

var locationColumns = []string{"time", "t", "vehicle_id", "x", "y", "z", "vx", "vy", "vz", "alt"}

// upsertEpisodes folds the batch's events (cdp_ev) into risk_episodes.
const upsertEpisodes = `
INSERT INTO risk_episodes AS e (risk_id, vehicle_a, vehicle_b, opened_at, last_time, max_risk, last_seq, resolved, reason)
SELECT DISTINCT ON (risk_id) risk_id, vehicle_a, vehicle_b, opened_at, t,
	max(risk) OVER (PARTITION BY risk_id), seq, type = 'resolved', reason
FROM cdp_ev ORDER BY risk_id, seq DESC
ON CONFLICT (risk_id) DO UPDATE SET
	last_time = greatest(e.last_time, excluded.last_time),
	max_risk  = greatest(e.max_risk, excluded.max_risk),
	last_seq  = greatest(e.last_seq, excluded.last_seq),
	resolved  = e.resolved OR excluded.resolved,
	reason    = CASE WHEN excluded.resolved THEN excluded.reason ELSE e.reason END`

// locSource feeds locations to CopyFrom without building a [][]any.
type locSource struct {
	locs []locEntry
	i    int
	row  [10]any
}

func (l *locSource) Next() bool { l.i++; return l.i < len(l.locs) }
func (l *locSource) Values() ([]any, error) {
	e := &l.locs[l.i]
	v := &e.loc
	l.row = [10]any{unixTime(v.T), v.T, e.id, v.X, v.Y, v.Z, v.VX, v.VY, v.VZ, v.Alt}
	return l.row[:], nil
}
func (l *locSource) Err() error { return nil }

func appendDay(days []time.Time, t time.Time) []time.Time {
	d := t.Truncate(24 * time.Hour)
	for _, x := range days {
		if x.Equal(d) {
			return days
		}
	}
	return append(days, d)
}

// Append writes evs at once (synchronously).
func (s *Store) Append(ctx context.Context, evs []risk.Event) error {
	return s.write(ctx, evs, nil)
}

const eventSelect = `SELECT time, t, event_id, risk_id, seq, type, vehicle_a, vehicle_b, risk, tca, dmin, t_in, reason, opened_at, model, emitted FROM risk_events`

func scanEvents(rows pgx.Rows) ([]risk.Event, error) {
	defer rows.Close()
	var out []risk.Event
	for rows.Next() {
		var e risk.Event
		var typ string
		var model []byte
		var at time.Time
		if err := rows.Scan(&at, &e.Time, &e.ID, &e.RiskID, &e.Seq, &typ, &e.VehicleA, &e.VehicleB, &e.Risk, &e.TCA, &e.DMin,
			&e.TIn, &e.Reason, &e.OpenedAt, &model, &e.Emitted); err != nil {
			return nil, err
		}
		e.Type = risk.EventType(typ)
		var m abi.ModelID
		if err := json.Unmarshal(model, &m); err != nil {
			return nil, fmt.Errorf("postgres: event %s: model: %w", e.ID, err)
		}
		e.Model = m
		out = append(out, e)
	}
	return out, rows.Err()
}

// Query answers one page of q, ordered by data time and event id. The
// cursor is the time and id of the last event returned.
func (s *Store) Query(ctx context.Context, q risk.Query) (risk.Page, error) {
	var page risk.Page
	if q.Limit <= 0 {
		q.Limit = DefaultPageLimit
	}
	sql := eventSelect + ` WHERE risk >= $1`
	args := []any{q.MinRisk}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if q.From != 0 {
		sql += ` AND time >= ` + arg(unixTime(q.From))
	}
	if q.To != 0 {
		sql += ` AND time < ` + arg(unixTime(q.To))
	}
	if q.After != "" {
		ct, cid, ok := parseCursor(q.After)
		if !ok {
			return page, &CursorError{Cursor: q.After}
		}
		sql += ` AND (time, event_id) > (` + arg(ct) + `, ` + arg(cid) + `)`
	}
	order := ` ORDER BY time, event_id LIMIT ` + arg(q.Limit+1)
	if q.Vehicle != "" {
		// Two index range scans merged, rather than an OR that defeats them.
		v := arg(q.Vehicle)
		sql = `(` + sql + ` AND vehicle_a = ` + v + order + `) UNION ALL (` + sql + ` AND vehicle_b = ` + v + ` AND vehicle_a <> ` + v + order + `)`
		sql = `SELECT * FROM (` + sql + `) u ORDER BY time, event_id LIMIT ` + arg(q.Limit+1)
	} else {
		sql += order
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return page, fmt.Errorf("postgres: history: %w", err)
	}
	evs, err := scanEvents(rows)
	if err != nil {
		return page, fmt.Errorf("postgres: history: %w", err)
	}
	if len(evs) > q.Limit {
		evs = evs[:q.Limit]
		last := evs[len(evs)-1]
		page.Next = formatCursor(unixTime(last.Time), last.ID)
	}
	page.Events = evs
	return page, nil
}

func formatCursor(t time.Time, id string) string {
	return strconv.FormatInt(t.UnixMicro(), 36) + "." + id
}

func parseCursor(c string) (time.Time, string, bool) {
	for i := 0; i < len(c); i++ {
		if c[i] == '.' {
			us, err := strconv.ParseInt(c[:i], 36, 64)
			if err != nil || i+1 == len(c) {
				return time.Time{}, "", false
			}
			return time.UnixMicro(us).UTC(), c[i+1:], true
		}
	}
	return time.Time{}, "", false
}

// Range returns the events with data time in [from, to) as Query does, at
// most limit (all when limit <= 0).
func (s *Store) Range(ctx context.Context, from, to time.Time, vehicle string, limit int) ([]risk.Event, error) {
	q := risk.Query{Vehicle: vehicle, Limit: limit}
	if !from.IsZero() {
		q.From = float64(from.UnixNano()) / 1e9
	}
	if !to.IsZero() {
		q.To = float64(to.UnixNano()) / 1e9
	}
	if limit <= 0 {
		q.Limit = math.MaxInt32 - 1
	}
	p, err := s.Query(ctx, q)
	return p.Events, err
}

// ByRisk returns one risk's events, oldest first.
func (s *Store) ByRisk(ctx context.Context, riskID string) ([]risk.Event, error) {
	rows, err := s.pool.Query(ctx, eventSelect+` WHERE risk_id = $1 ORDER BY seq`, riskID)
	if err != nil {
		return nil, fmt.Errorf("postgres: risk %s: %w", riskID, err)
	}
	return scanEvents(rows)
}

// Track returns a vehicle's stored locations with data time in [from, to)
// (0 = open), oldest first, at most limit (> 0).
func (s *Store) Track(ctx context.Context, id string, from, to float64, limit int) ([]Location, error) {
	lo, hi := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	if from != 0 {
		lo = unixTime(from)
	}
	if to != 0 {
		hi = unixTime(to)
	}
	if limit <= 0 {
		limit = math.MaxInt32
	}
	rows, err := s.pool.Query(ctx, `SELECT t, x, y, z, vx, vy, vz, alt FROM vehicle_locations
		WHERE vehicle_id = $1 AND time >= $2 AND time < $3 ORDER BY time LIMIT $4`, id, lo, hi, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: track: %w", err)
	}
	defer rows.Close()
	var out []Location
	for rows.Next() {
		var l Location
		if err := rows.Scan(&l.T, &l.X, &l.Y, &l.Z, &l.VX, &l.VY, &l.VZ, &l.Alt); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Stats returns a snapshot of the writer.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.QueuedEvents, st.QueuedLocations = len(s.evq), len(s.locq)
	return st
}

// Ready reports a database that the writer cannot reach.
func (s *Store) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stats.Up {
		return fmt.Errorf("postgres unreachable: %s (%d events queued)", s.stats.LastError, len(s.evq))
	}
	return nil
}

// Close writes what is queued (within ctx), stops the writer and closes the
// pool. Events it could not write are reported in the error.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cond.Broadcast()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
	err := s.Flush(ctx)
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("postgres: close: %d events not written: %w", s.Stats().QueuedEvents, err)
	}
	return nil
}

var _ risk.Sink = (*Store)(nil)
