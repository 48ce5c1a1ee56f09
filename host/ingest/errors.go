package ingest

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrSyntax: the input is not well-formed JSON (the API answers 400). The
	// error is a *SyntaxError with the byte offset.
	ErrSyntax = errors.New("ingest: malformed JSON")
	// ErrInvalid: a record failed validation; the error is a *RecordError.
	ErrInvalid = errors.New("ingest: invalid record")
	// ErrUnknownClass: Normalize was given a class name the table lacks.
	ErrUnknownClass = errors.New("ingest: unknown vehicle class")
	// ErrIncomplete: Normalize was given a record without a position or a
	// velocity (one that Validate would have refused).
	ErrIncomplete = errors.New("ingest: record lacks position or velocity")
	// ErrCSVHeader: a CSV recording lacks a required column.
	ErrCSVHeader = errors.New("ingest: CSV header lacks a required column")
	// ErrCSVRow: a CSV row is malformed (wrong column count, bad number).
	ErrCSVRow = errors.New("ingest: malformed CSV row")
	// ErrTooMany: a batch holds more records than the decoder's limit
	// (Decoder.SetMaxRecords; the API answers 413). The error is a
	// *LimitError. Decoding stops at the limit, so memory and time are
	// bounded by it, not by the body.
	ErrTooMany = errors.New("ingest: too many records in one batch")
	// ErrConfig: a class table or option value is invalid; the error is a
	// *ConfigError naming the key.
	ErrConfig = errors.New("ingest: invalid configuration")
)

// LimitError is a batch with more records than the decoder's limit.
// Nothing of the batch is accepted.
type LimitError struct {
	Max    int // the limit
	Offset int // byte offset of the first record beyond it
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("ingest: more than %d records in one batch (record %d starts at byte %d)", e.Max, e.Max+1, e.Offset)
}

// Unwrap returns ErrTooMany.
func (e *LimitError) Unwrap() error { return ErrTooMany }

// SyntaxError is malformed JSON in a batch. Nothing of the batch is accepted.
type SyntaxError struct {
	Offset int    // byte offset of the offending byte (len(data) for a truncated input)
	Msg    string // what was expected, e.g. "expected ',' or '}' after object field"
}

// Error implements error: "ingest: malformed JSON at byte 17: ...".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("ingest: malformed JSON at byte %d: %s", e.Offset, e.Msg)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// RecordError is a well-formed record that was refused; the rest of its batch
// proceeds.
type RecordError struct {
	Index  int    // position of the record in its batch, from 0
	Offset int    // byte offset of the record in its batch (CSV: line number)
	ID     []byte // the record's id when it had one, cut to Options.MaxIDLen bytes; aliases the input like Record.ID
	Field  Field  // the offending field (0 when the record as a whole is at fault)
	Reason Reason // why
}

// Error implements error: "ingest: record 3 (id "abc"): lat: lat_out_of_range".
func (e *RecordError) Error() string {
	f := e.Field.String()
	if f != "" {
		f += ": "
	}
	return fmt.Sprintf("ingest: record %d (id %q): %s%s", e.Index, e.ID, f, e.Reason)
}

// Unwrap returns ErrInvalid.
func (e *RecordError) Unwrap() error { return ErrInvalid }

// ConfigError is an invalid configuration value, naming its key.
type ConfigError struct {
	Key string // e.g. "collision_detection.classes.drone.horizontal"
	Msg string // what is wrong
}

// Error implements error.
func (e *ConfigError) Error() string {
	return fmt.Sprintf("ingest: %s: %s", e.Key, e.Msg)
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// CSVError is a malformed line in a CSV recording.
type CSVError struct {
	Line   int    // 1-based line number
	Column string // the column at fault, "" for the whole line
	Err    error  // ErrCSVHeader or ErrCSVRow
	Msg    string // detail
}

// Error implements error.
func (e *CSVError) Error() string {
	col := ""
	if e.Column != "" {
		col = " column " + e.Column
	}
	return fmt.Sprintf("ingest: CSV line %d%s: %s: %s", e.Line, col, e.Err.Error()[len("ingest: "):], e.Msg)
}

// Unwrap returns the sentinel.
func (e *CSVError) Unwrap() error { return e.Err }

// IsSyntax reports whether err is malformed JSON (answer 400).
func IsSyntax(err error) bool { return errors.Is(err, ErrSyntax) }

// IsInvalid reports whether err is a refused record.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

var (
	_ error = (*SyntaxError)(nil)
	_ error = (*RecordError)(nil)
	_ error = (*ConfigError)(nil)
	_ error = (*CSVError)(nil)
)
