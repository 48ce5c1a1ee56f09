package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
)

// FileName is the audit log's name in the data directory.
const FileName = "audit.jsonl"

// maxLine bounds one entry when reading the file back.
const maxLine = 1 << 20

// FileSink appends entries as JSON lines to a file (mode 0600) and syncs
// each one: an acknowledged admin action is on disk.
type FileSink struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenFile opens (creating) the audit file at path.
func OpenFile(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return &FileSink{path: path, f: f}, nil
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// Append implements Sink.
func (s *FileSink) Append(_ context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(b); err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return s.f.Sync()
}

// Last implements Sink: it reads the file's last line.
func (s *FileSink) Last(_ context.Context) (Entry, bool, error) {
	var last Entry
	found := false
	err := s.scan(func(_ int, e Entry) error { last, found = e, true; return nil })
	return last, found, err
}

// Query implements Sink. It streams the file and keeps the newest
// f.Limit matches, so memory is bounded by the limit, not the file.
func (s *FileSink) Query(_ context.Context, f Filter) ([]Entry, error) {
	ring := make([]Entry, 0, f.Limit)
	start := 0
	err := s.scan(func(_ int, e Entry) error {
		if !f.match(&e) {
			return nil
		}
		if len(ring) < f.Limit {
			ring = append(ring, e)
		} else {
			ring[start] = e
			start = (start + 1) % f.Limit
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(ring[start:len(ring):len(ring)], ring[:start]...), nil
}

func (s *FileSink) scan(fn func(line int, e Entry) error) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return Scan(f, fn)
}

// Scan decodes a JSON-lines audit log, calling fn for every entry with its
// 1-based line number. A line that does not decode is an error naming it.
func Scan(r io.Reader, fn func(line int, e Entry) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return &VerifyError{Line: n, Msg: "not an audit entry: " + err.Error()}
		}
		if err := fn(n, e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("audit: line %d: %w", n+1, err)
	}
	return nil
}

// Verify checks a whole log read from r and returns the number of entries
// and the last hash, or the first break as a *VerifyError.
func Verify(r io.Reader) (int, string, error) {
	var v Verifier
	err := Scan(r, func(line int, e Entry) error {
		if err := v.Next(e); err != nil {
			if ve, ok := err.(*VerifyError); ok {
				ve.Line = line
			}
			return err
		}
		return nil
	})
	return v.Count(), v.Last(), err
}

// SlogSink writes entries to a slog.Logger (the process log) when cdp has
// no data directory. It keeps nothing: Query answers ErrNoQuery, and a
// restart starts a new chain.
type SlogSink struct {
	// Log receives one line per entry at level INFO, message "audit".
	Log *slog.Logger
}

// Append implements Sink.
func (s SlogSink) Append(ctx context.Context, e Entry) error {
	attrs := []any{"seq", e.Seq, "action", e.Action, "outcome", e.Outcome, "subject", e.Subject,
		"address", e.Address, "request_id", e.RequestID, "hash", e.Hash, "prev", e.Prev}
	if e.Status != 0 {
		attrs = append(attrs, "status", e.Status)
	}
	if e.Reason != "" {
		attrs = append(attrs, "reason", e.Reason)
	}
	for k, v := range e.Detail {
		attrs = append(attrs, "detail."+k, v)
	}
	s.Log.InfoContext(ctx, "audit", attrs...)
	return nil
}

// Last implements Sink: the process log is not read back.
func (SlogSink) Last(context.Context) (Entry, bool, error) { return Entry{}, false, nil }

// Query implements Sink.
func (SlogSink) Query(context.Context, Filter) ([]Entry, error) { return nil, ErrNoQuery }

var (
	_ Sink = (*FileSink)(nil)
	_ Sink = SlogSink{}
)
