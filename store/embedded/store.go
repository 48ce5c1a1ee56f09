// Package embedded is cdp's durable store without services: one bbolt file
// under system.data_dir that keeps every risk event (opened, updated,
// resolved) with indexes by data time, vehicle and risk; vehicle locations
// downsampled per vehicle; and the engine's last snapshot (live vehicles and
// open risks) so that a restart goes on where the last run stopped.
//
// Writes are asynchronous: Publish (the engine's sink, on the tick goroutine)
// copies the events into a bounded queue and a writer commits the queue every
// FlushInterval in one transaction (one fsync). What a kill -9 can lose is
// therefore bounded: the events of the last FlushInterval (plus the commit in
// flight), and the engine state since the last SaveState. Risk events are
// never dropped: when the queue is full, Publish waits (the engine slows)
// until the writer has made room. Locations are not risk events: when their
// queue is full they are dropped and counted (Stats.LocationsDropped).
package embedded

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

// FormatVersion is the layout of the file's buckets and keys; Open refuses a
// file written with another.
const FormatVersion = 1

// Defaults of Config.
const (
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultQueueEvents   = 100_000
	DefaultQueueLocs     = 200_000
	DefaultPageLimit     = 1000
)

var (
	bMeta     = []byte("meta")
	bEvents   = []byte("events")    // seq -> JSON event
	bByTime   = []byte("by_time")   // time|seq -> nil
	bByVeh    = []byte("by_veh")    // vehicle 0 time|seq -> nil
	bByRisk   = []byte("by_risk")   // risk 0 seq -> nil
	bLocs     = []byte("locations") // vehicle 0 time -> Location
	kVersion  = []byte("version")
	kState    = []byte("engine_state")
	kStateAt  = []byte("engine_state_at")
	allBucket = [][]byte{bMeta, bEvents, bByTime, bByVeh, bByRisk, bLocs}
)

// Config configures a Store. Path is required; every other zero field takes
// the default its comment states.
type Config struct {
	// Path is the bbolt file (created when missing), e.g.
	// <data_dir>/history.db.
	Path string
	// FlushInterval is how often queued writes are committed: the bound of
	// what a kill -9 loses. Default 200 ms.
	FlushInterval time.Duration
	// QueueEvents caps the risk events waiting for the writer; Publish waits
	// beyond it. Default 100,000.
	QueueEvents int
	// QueueLocations caps the locations waiting; more are dropped and
	// counted. Default 200,000.
	QueueLocations int
	// LocationInterval keeps at most one location per vehicle per interval
	// (data time); 0 keeps every one handed in. Default 0.
	LocationInterval time.Duration
	// Logger receives write errors. Default slog.Default().
	Logger *slog.Logger
}

// Location is one stored vehicle position, in the engine frame.
type Location struct {
	T          float64 `json:"t"`
	X, Y, Z    float64 `json:"-"`
	VX, VY, VZ float64 `json:"-"`
	Alt        float64 `json:"-"`
}

const locSize = 8 * 7

// Stats is a snapshot of a Store's counters.
type Stats struct {
	Events           uint64 // risk events committed since Open
	Locations        uint64 // locations committed since Open
	LocationsSkipped uint64 // locations not kept by LocationInterval
	LocationsDropped uint64 // locations dropped because their queue was full
	QueuedEvents     int    // events waiting for the writer now
	QueuedLocations  int    // locations waiting now
	Commits          uint64 // write transactions committed
	WriteErrors      uint64 // failed commits (retried)
	LastError        string // the last write error, "" when none
	Pruned           uint64 // events and locations removed by retention
}

// Store is the bbolt-backed history. Create it with Open; Close flushes.
type Store struct {
	cfg Config
	db  *bolt.DB
	log *slog.Logger

	wmu     sync.Mutex // one flush at a time: the writer's or Flush's
	mu      sync.Mutex
	cond    *sync.Cond // signalled when the writer takes the queue or stops
	evq     []risk.Event
	locq    []locEntry
	closed  bool
	lastLoc map[string]float64 // per vehicle, data time of the last kept location

	kick  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	stats Stats
}

type locEntry struct {
	id  string
	loc Location
}

// Open opens or creates the file and starts the writer.
func Open(cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrConfig)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.QueueEvents <= 0 {
		cfg.QueueEvents = DefaultQueueEvents
	}
	if cfg.QueueLocations <= 0 {
		cfg.QueueLocations = DefaultQueueLocs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process", ErrOpen, cfg.Path)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrOpen, cfg.Path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBucket {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		m := tx.Bucket(bMeta)
		v := m.Get(kVersion)
		if v == nil {
			return m.Put(kVersion, binary.BigEndian.AppendUint32(nil, FormatVersion))
		}
		if len(v) != 4 || binary.BigEndian.Uint32(v) != FormatVersion {
			return &VersionError{Path: cfg.Path, Got: v}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrOpen, cfg.Path, err)
	}
	s := &Store{cfg: cfg, db: db, log: cfg.Logger, lastLoc: map[string]float64{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	go s.writer()
	return s, nil
}

// Publish implements risk.Sink: it queues copies of evs for the writer. It
// waits while the queue is full, so that no risk event is ever dropped.
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
		s.log.Error("embedded: events published after Close", "n", len(evs))
		return
	}
	for _, ev := range evs {
		if ev.TIn != nil {
			t := *ev.TIn
			ev.TIn = &t
		}
		s.evq = append(s.evq, ev)
	}
}

// Append writes evs at once (synchronously), for tools and tests.
func (s *Store) Append(_ context.Context, evs []risk.Event) error {
	return s.db.Update(func(tx *bolt.Tx) error { return putEvents(tx, evs) })
}

// RecordLocation queues one vehicle state for the track, unless the vehicle
// already has one within LocationInterval (data time) or the queue is full.
// It is called on the engine's goroutine for every applied update.
func (s *Store) RecordLocation(id string, loc Location) {
	s.mu.Lock()
	if last, ok := s.lastLoc[id]; ok && s.cfg.LocationInterval > 0 && loc.T-last < s.cfg.LocationInterval.Seconds() {
		s.stats.LocationsSkipped++
		s.mu.Unlock()
		return
	}
	if len(s.locq) >= s.cfg.QueueLocations || s.closed {
		s.stats.LocationsDropped++
		s.mu.Unlock()
		return
	}
	s.lastLoc[id] = loc.T
	s.locq = append(s.locq, locEntry{id: id, loc: loc})
	s.mu.Unlock()
}

// Forget drops the downsampling memory of a vehicle that left.
func (s *Store) Forget(id string) {
	s.mu.Lock()
	delete(s.lastLoc, id)
	s.mu.Unlock()
}

func (s *Store) signal() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// writer commits the queues every FlushInterval, or at once when Publish
// waits for room, until Close.
func (s *Store) writer() {
	defer close(s.done)
	tk := time.NewTicker(s.cfg.FlushInterval)
	defer tk.Stop()
	for {
		select {
		case <-s.stop:
			s.flushOnce()
			return
		case <-tk.C:
		case <-s.kick:
		}
		s.flushOnce()
	}
}

// flushOnce commits what is queued. On a write error the batch goes back to
// the head of the queue and is retried on the next round.
func (s *Store) flushOnce() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	evs, locs := s.evq, s.locq
	s.evq, s.locq = nil, nil
	s.mu.Unlock()
	if len(evs) == 0 && len(locs) == 0 {
		return true
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := putEvents(tx, evs); err != nil {
			return err
		}
		return putLocations(tx, locs)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.stats.WriteErrors++
		s.stats.LastError = err.Error()
		s.log.Error("embedded: write failed; retrying", "err", err, "events", len(evs))
		s.evq = append(evs, s.evq...)
		if len(locs)+len(s.locq) <= s.cfg.QueueLocations {
			s.locq = append(locs, s.locq...)
		} else {
			s.stats.LocationsDropped += uint64(len(locs))
		}
		return false
	}
	s.stats.Commits++
	s.stats.Events += uint64(len(evs))
	s.stats.Locations += uint64(len(locs))
	s.cond.Broadcast()
	return true
}

// Flush commits everything queued so far.
func (s *Store) Flush(ctx context.Context) error {
	for {
		if s.flushOnce() {
			s.mu.Lock()
			empty := len(s.evq) == 0
			s.mu.Unlock()
			if empty {
				return nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.cfg.FlushInterval):
		}
	}
}

func putEvents(tx *bolt.Tx, evs []risk.Event) error {
	if len(evs) == 0 {
		return nil
	}
	eb, tb, vb, rb := tx.Bucket(bEvents), tx.Bucket(bByTime), tx.Bucket(bByVeh), tx.Bucket(bByRisk)
	// Keys are appended in order: bbolt fills pages fully when a bucket's
	// FillPercent is high and inserts are sequential.
	eb.FillPercent = 0.95
	tb.FillPercent = 0.95
	for i := range evs {
		ev := &evs[i]
		seq, err := eb.NextSequence()
		if err != nil {
			return err
		}
		val, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.ID, err)
		}
		sk := binary.BigEndian.AppendUint64(nil, seq)
		tk := timeSeqKey(nil, ev.Time, seq)
		if err := eb.Put(sk, val); err != nil {
			return err
		}
		if err := tb.Put(tk, nil); err != nil {
			return err
		}
		for _, v := range [2]string{ev.VehicleA, ev.VehicleB} {
			if err := vb.Put(append(prefix(v), tk...), nil); err != nil {
				return err
			}
		}
		if err := rb.Put(append(prefix(ev.RiskID), sk...), nil); err != nil {
			return err
		}
	}
	return nil
}

func putLocations(tx *bolt.Tx, locs []locEntry) error {
	b := tx.Bucket(bLocs)
	// bbolt keeps the value slices until the commit: one block for all.
	block := make([]byte, len(locs)*locSize)
	for j, l := range locs {
		val := block[j*locSize : (j+1)*locSize]
		for i, f := range [...]float64{l.loc.X, l.loc.Y, l.loc.Z, l.loc.VX, l.loc.VY, l.loc.VZ, l.loc.Alt} {
			binary.BigEndian.PutUint64(val[i*8:], math.Float64bits(f))
		}
		if err := b.Put(append(prefix(l.id), timeKey(nil, l.loc.T)...), val); err != nil {
			return err
		}
	}
	return nil
}

// prefix is an index key's leading string and its 0 terminator (vehicle and
// risk ids never contain a 0 byte: ingest refuses control characters).
func prefix(s string) []byte {
	b := make([]byte, 0, len(s)+17)
	return append(append(b, s...), 0)
}

// timeKey encodes a data time (Unix seconds) as 8 bytes that sort as the
// times do: microseconds, sign bit flipped.
func timeKey(b []byte, t float64) []byte {
	us := int64(math.Round(t * 1e6))
	return binary.BigEndian.AppendUint64(b, uint64(us)^(1<<63))
}

func timeSeqKey(b []byte, t float64, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(timeKey(b, t), seq)
}

func keyTime(k []byte) float64 {
	return float64(int64(binary.BigEndian.Uint64(k)^(1<<63))) / 1e6
}

// Range returns the events whose data time lies in [from, to), oldest first
// (a zero bound is open), of one vehicle's risks when vehicle is not empty,
// at most limit when limit > 0.
func (s *Store) Range(ctx context.Context, from, to time.Time, vehicle string, limit int) ([]risk.Event, error) {
	q := risk.Query{Vehicle: vehicle, Limit: limit}
	if !from.IsZero() {
		q.From = float64(from.UnixNano()) / 1e9
	}
	if !to.IsZero() {
		q.To = float64(to.UnixNano()) / 1e9
	}
	if limit <= 0 {
		q.Limit = math.MaxInt
	}
	p, err := s.Query(ctx, q)
	return p.Events, err
}

// Query answers one page of q. The cursor is the position (data time and
// append sequence) of the last event returned.
func (s *Store) Query(ctx context.Context, q risk.Query) (risk.Page, error) {
	var page risk.Page
	if q.Limit <= 0 {
		q.Limit = DefaultPageLimit
	}
	var pre []byte
	if q.Vehicle != "" {
		pre = prefix(q.Vehicle)
	}
	start := timeKey(append([]byte(nil), pre...), math.Inf(-1))
	if q.From != 0 {
		start = timeKey(append([]byte(nil), pre...), q.From)
	}
	if q.After != "" {
		c, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || len(c) != 16 {
			return page, &CursorError{Cursor: q.After}
		}
		// Seek past the cursor: its own key plus one.
		k := append(append([]byte(nil), pre...), c...)
		k = binary.BigEndian.AppendUint64(k[:len(k)-8], binary.BigEndian.Uint64(c[8:])+1)
		if string(k) > string(start) {
			start = k
		}
	}
	end := math.Inf(1)
	if q.To != 0 {
		end = q.To
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		idx := tx.Bucket(bByTime)
		if pre != nil {
			idx = tx.Bucket(bByVeh)
		}
		eb := tx.Bucket(bEvents)
		c := idx.Cursor()
		n := 0
		var lastTK []byte
		for k, _ := c.Seek(start); k != nil; k, _ = c.Next() {
			if len(k) != len(pre)+16 || string(k[:len(pre)]) != string(pre) {
				break
			}
			tk := k[len(pre):]
			if keyTime(tk) >= end {
				break
			}
			if n++; n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			var ev risk.Event
			if err := json.Unmarshal(eb.Get(tk[8:]), &ev); err != nil {
				return fmt.Errorf("decode event at %x: %w", tk, err)
			}
			if ev.Risk < q.MinRisk {
				continue
			}
			if len(page.Events) == q.Limit {
				// One more match exists: the page ends at the last one taken.
				page.Next = base64.RawURLEncoding.EncodeToString(lastTK)
				return nil
			}
			page.Events = append(page.Events, ev)
			lastTK = append(lastTK[:0], tk...)
		}
		return nil
	})
	return page, err
}

// ByRisk returns one risk's events, oldest first.
func (s *Store) ByRisk(ctx context.Context, riskID string) ([]risk.Event, error) {
	var out []risk.Event
	pre := prefix(riskID)
	err := s.db.View(func(tx *bolt.Tx) error {
		eb := tx.Bucket(bEvents)
		c := tx.Bucket(bByRisk).Cursor()
		for k, _ := c.Seek(pre); k != nil && len(k) == len(pre)+8 && string(k[:len(pre)]) == string(pre); k, _ = c.Next() {
			var ev risk.Event
			if err := json.Unmarshal(eb.Get(k[len(pre):]), &ev); err != nil {
				return fmt.Errorf("decode event of %s: %w", riskID, err)
			}
			out = append(out, ev)
		}
		return ctx.Err()
	})
	return out, err
}

// Track returns the stored locations of a vehicle with data time in
// [from, to) (0 = open), oldest first, at most limit (> 0).
func (s *Store) Track(ctx context.Context, id string, from, to float64, limit int) ([]Location, error) {
	var out []Location
	pre := prefix(id)
	start := timeKey(append([]byte(nil), pre...), math.Inf(-1))
	if from != 0 {
		start = timeKey(append([]byte(nil), pre...), from)
	}
	if to == 0 {
		to = math.Inf(1)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bLocs).Cursor()
		for k, v := c.Seek(start); k != nil && len(k) == len(pre)+8 && string(k[:len(pre)]) == string(pre); k, v = c.Next() {
			t := keyTime(k[len(pre):])
			if t >= to || (limit > 0 && len(out) == limit) {
				break
			}
			var f [7]float64
			for i := range f {
				f[i] = math.Float64frombits(binary.BigEndian.Uint64(v[i*8:]))
			}
			out = append(out, Location{T: t, X: f[0], Y: f[1], Z: f[2], VX: f[3], VY: f[4], VZ: f[5], Alt: f[6]})
		}
		return ctx.Err()
	})
	return out, err
}

// SaveState keeps the engine's snapshot (its Export), replacing the last.
func (s *Store) SaveState(snapshot []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if err := m.Put(kStateAt, binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))); err != nil {
			return err
		}
		return m.Put(kState, snapshot)
	})
}

// LoadState returns the last snapshot SaveState kept and when, or nil.
func (s *Store) LoadState() ([]byte, time.Time, error) {
	var out []byte
	var at time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if v := m.Get(kState); v != nil {
			out = append([]byte(nil), v...)
		}
		if v := m.Get(kStateAt); len(v) == 8 {
			at = time.Unix(0, int64(binary.BigEndian.Uint64(v)))
		}
		return nil
	})
	return out, at, err
}

// Prune removes the events and locations whose data time is before cutoff
// (Unix seconds) and returns how many it removed. It deletes in
// transactions of a bounded size so that writers are not held up long.
func (s *Store) Prune(ctx context.Context, cutoff float64) (int, error) {
	total := 0
	for {
		n, more, err := s.pruneEvents(cutoff, 10_000)
		total += n
		if err != nil || !more {
			if err == nil {
				var m int
				m, err = s.pruneLocations(cutoff)
				total += m
			}
			s.mu.Lock()
			s.stats.Pruned += uint64(total)
			s.mu.Unlock()
			return total, err
		}
		if ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

func (s *Store) pruneEvents(cutoff float64, max int) (n int, more bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		tb, eb, vb, rb := tx.Bucket(bByTime), tx.Bucket(bEvents), tx.Bucket(bByVeh), tx.Bucket(bByRisk)
		c := tb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.First() {
			if keyTime(k) >= cutoff {
				return nil
			}
			if n == max {
				more = true
				return nil
			}
			sk := append([]byte(nil), k[8:]...)
			tk := append([]byte(nil), k...)
			var ev risk.Event
			if err := json.Unmarshal(eb.Get(sk), &ev); err == nil {
				for _, v := range [2]string{ev.VehicleA, ev.VehicleB} {
					if err := vb.Delete(append(prefix(v), tk...)); err != nil {
						return err
					}
				}
				if err := rb.Delete(append(prefix(ev.RiskID), sk...)); err != nil {
					return err
				}
			}
			if err := eb.Delete(sk); err != nil {
				return err
			}
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, more, err
}

// pruneLocations scans the location bucket (keyed by vehicle first) once.
func (s *Store) pruneLocations(cutoff float64) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bLocs).Cursor()
		for k, _ := c.First(); k != nil; {
			if len(k) >= 8 && keyTime(k[len(k)-8:]) < cutoff {
				k = append([]byte(nil), k...)
				if err := c.Delete(); err != nil {
					return err
				}
				n++
				k, _ = c.Seek(k) // Delete leaves the cursor; re-seek past the key
				continue
			}
			k, _ = c.Next()
		}
		return nil
	})
	return n, err
}

// Stats returns a snapshot of the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.QueuedEvents, st.QueuedLocations = len(s.evq), len(s.locq)
	return st
}

// Ready reports a store that cannot write (the last commit failed).
func (s *Store) Ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats.LastError != "" && len(s.evq) > 0 {
		return fmt.Errorf("embedded store %s: %s", s.cfg.Path, s.stats.LastError)
	}
	return nil
}

// Backup writes a consistent copy of the database file to w (a read
// transaction: writers go on meanwhile).
func (s *Store) Backup(w interface{ Write([]byte) (int, error) }) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// Close commits what is queued, stops the writer and closes the file.
func (s *Store) Close() error {
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
	// A failed last flush is retried once more; what still fails is reported.
	if !s.flushOnce() {
		s.db.Close()
		return fmt.Errorf("embedded: close: events not written: %s", s.Stats().LastError)
	}
	return s.db.Close()
}

var _ risk.Sink = (*Store)(nil)

// BackupFile writes a consistent copy of the store file at path to w. The
// file must not be open in another process (bbolt holds an exclusive lock
// while cdp serve runs): stop the server first.
func BackupFile(path string, w interface{ Write([]byte) (int, error) }) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return 0, fmt.Errorf("%w: %s is in use by a running cdp serve: stop it first", ErrOpen, path)
		}
		return 0, fmt.Errorf("%w: %s: %w", ErrOpen, path, err)
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// RestoreFile writes the store file at path from a BackupFile copy, which
// it checks opens as a store of this FormatVersion. It refuses to replace an
// existing file.
func RestoreFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("embedded: restore: %w (restore into an empty data directory)", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("embedded: restore: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	f.Close()
	s, err := Open(Config{Path: path})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("embedded: restore: not a store: %w", err)
	}
	return s.Close()
}
