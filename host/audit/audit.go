// Package audit is cdp's tamper-evident audit log: every admin action,
// every authentication failure, every configuration load and change, with
// its time, subject, client address, request id and outcome.
//
// Entries are hash-chained: each carries the SHA-256 of the previous entry's
// hash and its own canonical JSON, so an edited, removed, reordered or
// inserted entry breaks the chain from that point (Verify, `cdp audit
// verify`). The chain detects tampering; it does not prevent someone who can
// rewrite the whole file from forging a new consistent chain: ship the log
// (or its latest hash) somewhere else for that.
//
// A Log chains entries and hands them to a Sink: FileSink writes JSON lines
// in the data directory, SlogSink writes them to the process log when there
// is no data directory. A PostgreSQL sink implements the same interface.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Outcomes.
const (
	// OutcomeOK: the action was done.
	OutcomeOK = "ok"
	// OutcomeDenied: the caller was not authenticated or not allowed.
	OutcomeDenied = "denied"
	// OutcomeFailed: the action was allowed but failed or was refused.
	OutcomeFailed = "failed"
)

// Entry is one audit record.
type Entry struct {
	// Seq numbers the entries of a chain from 1.
	Seq uint64 `json:"seq"`
	// Time is when the action happened (UTC).
	Time time.Time `json:"time"`
	// Action names what was attempted: "auth", "config.load",
	// "plugin.upload", "state.import", ... ("METHOD /path" for an admin
	// call without a finer name).
	Action string `json:"action"`
	// Subject is the token's subject, "" when unauthenticated.
	Subject string `json:"subject,omitempty"`
	// Address is the client address, "" for local actions.
	Address string `json:"address,omitempty"`
	// RequestID is the request's X-Request-ID.
	RequestID string `json:"request_id,omitempty"`
	// Outcome is ok, denied or failed.
	Outcome string `json:"outcome"`
	// Status is the HTTP status answered, 0 for local actions.
	Status int `json:"status,omitempty"`
	// Reason says why an action was denied or failed.
	Reason string `json:"reason,omitempty"`
	// Detail holds action-specific fields (plugin id, config source, ...).
	Detail map[string]string `json:"detail,omitempty"`
	// Prev is the previous entry's Hash ("" for the first).
	Prev string `json:"prev"`
	// Hash is hex SHA-256 of Prev and this entry's JSON without Hash.
	Hash string `json:"hash"`
}

// computeHash is the entry's chain hash: SHA-256 over the entry encoded as
// JSON with Hash empty (encoding/json writes struct fields in declaration
// order and map keys sorted, so the encoding is canonical).
func computeHash(e Entry) (string, error) {
	e.Hash = ""
	b, err := json.Marshal(e)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Filter selects entries for Query.
type Filter struct {
	// From and To bound Time, [From, To); zero is open.
	From, To time.Time
	// Action, Subject and Outcome, when set, must match exactly.
	Action, Subject, Outcome string
	// Limit caps the answer (the newest entries are kept). Default 100.
	Limit int
}

func (f Filter) match(e *Entry) bool {
	return (f.From.IsZero() || !e.Time.Before(f.From)) && (f.To.IsZero() || e.Time.Before(f.To)) &&
		(f.Action == "" || f.Action == e.Action) && (f.Subject == "" || f.Subject == e.Subject) &&
		(f.Outcome == "" || f.Outcome == e.Outcome)
}

// Sink stores chained entries. Append is called with entries in chain
// order, one at a time; Last returns the newest stored entry so that a
// restarted Log continues the chain.
type Sink interface {
	// Append stores e (Seq, Prev and Hash are set).
	Append(ctx context.Context, e Entry) error
	// Last returns the newest entry, ok false when there is none.
	Last(ctx context.Context) (Entry, bool, error)
	// Query returns the entries matching f, oldest first.
	Query(ctx context.Context, f Filter) ([]Entry, error)
}

// ErrNoQuery: the sink cannot answer queries (the process log).
var ErrNoQuery = errors.New("audit: this audit sink cannot be queried (set system.data_dir to keep the audit log)")

// Log chains entries and writes them to its sink. It is safe for concurrent
// use. A write failure is logged and counted, never returned to the caller
// of Record: an audit problem must not take the API down, and it shows in
// Stats and /system/status.
type Log struct {
	mu     sync.Mutex
	sink   Sink
	log    *slog.Logger
	now    func() time.Time
	seq    uint64
	last   string
	failed uint64
}

// New continues the chain in sink. log receives write failures (default
// slog.Default()).
func New(ctx context.Context, sink Sink, log *slog.Logger) (*Log, error) {
	if log == nil {
		log = slog.Default()
	}
	l := &Log{sink: sink, log: log, now: time.Now}
	last, ok, err := sink.Last(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: read the last entry: %w", err)
	}
	if ok {
		l.seq, l.last = last.Seq, last.Hash
	}
	return l, nil
}

// Record chains e (Time defaults to now, Outcome to ok) and stores it.
func (l *Log) Record(e Entry) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	e.Seq, e.Prev = l.seq+1, l.last
	h, err := computeHash(e)
	if err == nil {
		e.Hash = h
		err = l.sink.Append(context.Background(), e)
	}
	if err != nil {
		l.failed++
		l.log.Error("audit: cannot record an entry", "action", e.Action, "err", err)
		return
	}
	l.seq, l.last = e.Seq, e.Hash
}

// Query returns the entries matching f, oldest first.
func (l *Log) Query(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return l.sink.Query(ctx, f)
}

// Stats is a snapshot of the log.
type Stats struct {
	// Entries is the sequence number of the newest entry.
	Entries uint64 `json:"entries"`
	// LastHash is the newest entry's hash (keep it elsewhere to detect a
	// rewritten log).
	LastHash string `json:"last_hash"`
	// WriteFailures counts entries that could not be stored.
	WriteFailures uint64 `json:"write_failures"`
}

// Stats returns a snapshot.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{Entries: l.seq, LastHash: l.last, WriteFailures: l.failed}
}

// VerifyError says where a chain breaks.
type VerifyError struct {
	// Line is the 1-based line (entry position) where the chain breaks.
	Line int
	// Seq is the sequence number found there.
	Seq uint64
	// Msg says what is wrong.
	Msg string
}

// Error formats as "audit: line N (seq S): MSG".
func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit: chain broken at line %d (seq %d): %s", e.Line, e.Seq, e.Msg)
}

// Verifier checks a chain entry by entry.
type Verifier struct {
	n    int
	seq  uint64
	last string
}

// Next checks the next entry of the chain.
func (v *Verifier) Next(e Entry) error {
	v.n++
	if e.Seq != v.seq+1 {
		return &VerifyError{Line: v.n, Seq: e.Seq, Msg: fmt.Sprintf("sequence %d follows %d: an entry was removed or inserted", e.Seq, v.seq)}
	}
	if e.Prev != v.last {
		return &VerifyError{Line: v.n, Seq: e.Seq, Msg: "prev does not match the previous entry's hash: an entry was removed, inserted or edited"}
	}
	h, err := computeHash(e)
	if err != nil {
		return &VerifyError{Line: v.n, Seq: e.Seq, Msg: err.Error()}
	}
	if h != e.Hash {
		return &VerifyError{Line: v.n, Seq: e.Seq, Msg: "hash does not match the entry: the entry was edited"}
	}
	v.seq, v.last = e.Seq, e.Hash
	return nil
}

// Count is the number of entries verified; Last their last hash.
func (v *Verifier) Count() int { return v.n }

// Last is the hash of the last entry verified.
func (v *Verifier) Last() string { return v.last }

var (
	_ error = (*VerifyError)(nil)
)
