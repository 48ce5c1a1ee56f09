package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
)

// csvColumns are the columns of a recording (see examples/data/README.md), in
// their usual order, and the field each fills.
var csvColumns = [...]struct {
	name  string
	field Field
}{
	{"id", FieldID}, {"t", FieldT}, {"lat", FieldLat}, {"lon", FieldLon}, {"alt_m", FieldAlt},
	{"vx_mps", FieldVX}, {"vy_mps", FieldVY}, {"vz_mps", FieldVZ},
}

// CSVReader streams Records from a recording in the CSV format
// id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps (t Unix seconds, WGS84 position,
// velocity east/north/up m/s) for replay. The header line is required; columns
// may come in any order, extra columns are ignored, and an empty cell leaves
// its field absent (so that validation reports it). Cells may be quoted when
// they contain no quote, comma or newline. It reads line by line and holds one
// line at a time.
type CSVReader struct {
	r    *bufio.Reader
	line int
	cols []Field // field of each column, 0 for ignored ones
	long []byte  // a line longer than the bufio buffer, assembled
	n    int     // records returned
	err  error
}

// NewCSVReader returns a reader of r. The header is read on the first Read.
func NewCSVReader(r io.Reader) *CSVReader {
	return &CSVReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Line returns the number of the line last read (1 is the header).
func (c *CSVReader) Line() int { return c.line }

// Read fills rec with the next row: Fields says which cells were present,
// Index counts records from 0 and Offset is the line number. rec.ID aliases
// the reader's buffer until the next Read. It returns io.EOF at the end, a
// *CSVError (matching ErrCSVHeader or ErrCSVRow) for a malformed header or
// row; after a row error the reader can go on with the next row, after a
// header or I/O error it keeps returning that error. Read does not validate:
// pass the record to Validator.Validate. It does not allocate per row.
func (c *CSVReader) Read(rec *Record) error {
	if c.err != nil {
		return c.err
	}
	if c.cols == nil {
		if err := c.header(); err != nil {
			c.err = err
			return err
		}
	}
	for {
		line, err := c.next()
		if err != nil {
			c.err = err
			return err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue // blank lines (a trailing one, typically)
		}
		*rec = Record{Index: c.n, Offset: c.line}
		col := 0
		for {
			cell, rest, more := cut(line)
			if col >= len(c.cols) {
				return &CSVError{Line: c.line, Err: ErrCSVRow, Msg: "more cells than the header has columns"}
			}
			if f := c.cols[col]; f != 0 {
				if err := c.cell(rec, f, cell); err != nil {
					return err
				}
			}
			col++
			if !more {
				break
			}
			line = rest
		}
		if col != len(c.cols) {
			return &CSVError{Line: c.line, Err: ErrCSVRow, Msg: "fewer cells than the header has columns"}
		}
		c.n++
		return nil
	}
}

func (c *CSVReader) cell(rec *Record, f Field, cell []byte) error {
	cell = bytes.TrimSpace(cell)
	if len(cell) >= 2 && cell[0] == '"' && cell[len(cell)-1] == '"' {
		cell = cell[1 : len(cell)-1]
	}
	if len(cell) == 0 {
		return nil
	}
	if f == FieldID {
		rec.ID = cell[:len(cell):len(cell)]
		rec.Fields |= f
		return nil
	}
	s := scanner{data: cell}
	tok, _, val, fast, err := s.numberValue()
	if err != nil || s.pos != len(cell) {
		if nonFiniteWord(cell) {
			// Refused by validation, like "NaN" in JSON.
			*rec.num(f) = math.NaN()
			rec.Fields |= f
			return nil
		}
		return &CSVError{Line: c.line, Column: f.String(), Err: ErrCSVRow, Msg: "not a number"}
	}
	if !fast {
		val = parseFloat(tok)
	}
	*rec.num(f) = val
	rec.Fields |= f
	return nil
}

// cut splits line at its first comma.
func cut(line []byte) (cell, rest []byte, more bool) {
	if i := bytes.IndexByte(line, ','); i >= 0 {
		return line[:i], line[i+1:], true
	}
	return line, nil, false
}

// next returns the next line without its line ending.
func (c *CSVReader) next() ([]byte, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		c.long = append(c.long[:0], line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = c.r.ReadSlice('\n')
			c.long = append(c.long, line...)
		}
		line = c.long
	}
	if err != nil && !(err == io.EOF && len(line) > 0) {
		return nil, err
	}
	c.line++
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, nil
}

func (c *CSVReader) header() error {
	line, err := c.next()
	if err == io.EOF {
		return &CSVError{Line: 1, Err: ErrCSVHeader, Msg: "empty file"}
	}
	if err != nil {
		return err
	}
	line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	var seen Field
	for {
		cell, rest, more := cut(line)
		name := string(bytes.Trim(bytes.TrimSpace(cell), `"`))
		var f Field
		for _, col := range csvColumns {
			if col.name == name {
				f = col.field
			}
		}
		if f != 0 && seen&f != 0 {
			return &CSVError{Line: c.line, Column: name, Err: ErrCSVHeader, Msg: "column appears twice"}
		}
		seen |= f
		c.cols = append(c.cols, f)
		if !more {
			break
		}
		line = rest
	}
	for _, col := range csvColumns {
		if seen&col.field == 0 {
			c.cols = nil
			return &CSVError{Line: c.line, Column: col.name, Err: ErrCSVHeader, Msg: "want id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps"}
		}
	}
	return nil
}
