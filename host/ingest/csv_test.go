package ingest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const dataDir = "../../examples/data"

// TestCSVRecordings reads both recordings whole: every row decodes, validates
// and normalises, and the row counts are the documented ones.
func TestCSVRecordings(t *testing.T) {
	cases := []struct {
		dir  string
		rows int
		ids  int
	}{
		{"opensky-uk-2021-07-12", 16778, 190},
		{"solent-ais-2016-01-12", 18619, 91},
	}
	v, _ := NewValidator(Options{}, nil)
	for _, c := range cases {
		f, err := os.Open(filepath.Join(dataDir, c.dir, "tracks.csv"))
		if err != nil {
			t.Fatalf("recorded traffic: %v", err)
		}
		r := NewCSVReader(f)
		ids := map[string]bool{}
		n := 0
		var rec Record
		lastT := 0.0
		for {
			err := r.Read(&rec)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", c.dir, err)
			}
			if field, reason := v.Validate(&rec, float64(time.Now().Unix())); reason != ReasonOK {
				t.Fatalf("%s line %d: %v on %v: %+v", c.dir, rec.Offset, reason, field, rec)
			}
			if rec.T < lastT {
				t.Fatalf("%s line %d: rows out of time order", c.dir, rec.Offset)
			}
			lastT = rec.T
			if rec.Index != n || rec.Offset != n+2 {
				t.Fatalf("index %d offset %d at row %d", rec.Index, rec.Offset, n)
			}
			ids[string(rec.ID)] = true
			n++
		}
		f.Close()
		if n != c.rows || len(ids) != c.ids {
			t.Fatalf("%s: %d rows, %d ids; want %d, %d", c.dir, n, len(ids), c.rows, c.ids)
		}
	}
}

func TestCSVFirstRow(t *testing.T) {
	in := "id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\r\n4077da,1626098396.133,51.8436127,-1.3514668,472.4,-15.95,-48.87,0.33\r\n"
	r := NewCSVReader(strings.NewReader(in))
	var rec Record
	if err := r.Read(&rec); err != nil {
		t.Fatal(err)
	}
	if string(rec.ID) != "4077da" || rec.T != 1626098396.133 || rec.Lat != 51.8436127 || rec.Lon != -1.3514668 ||
		rec.Alt != 472.4 || rec.VX != -15.95 || rec.VY != -48.87 || rec.VZ != 0.33 ||
		rec.Fields != FieldID|FieldT|fieldsGeodetic|fieldsVector {
		t.Fatalf("%+v", rec)
	}
	if err := r.Read(&rec); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
}

func TestCSVFlexibleHeader(t *testing.T) {
	in := "\xEF\xBB\xBFvx_mps,vy_mps,vz_mps,\"id\",t,lat,lon,alt_m,name\n1,2,3,\"ship 1\",1452603731,50.1,-1.1,0,HMS X\n\n1,2,,b,1452603731,50.1,-1.1,0,\n"
	r := NewCSVReader(strings.NewReader(in))
	var rec Record
	if err := r.Read(&rec); err != nil || string(rec.ID) != "ship 1" || rec.VX != 1 || rec.Lat != 50.1 {
		t.Fatalf("%+v %v", rec, err)
	}
	if err := r.Read(&rec); err != nil || rec.Fields&FieldVZ != 0 || r.Line() != 4 {
		t.Fatalf("empty cell should leave vz absent: %+v %v line %d", rec, err, r.Line())
	}
}

func TestCSVErrors(t *testing.T) {
	const hdr = "id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n"
	cases := []struct {
		in     string
		want   error
		line   int
		column string
	}{
		{"", ErrCSVHeader, 1, ""},
		{"id,t,lat,lon,alt_m,vx_mps,vy_mps\n", ErrCSVHeader, 1, "vz_mps"},
		{"id,t,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n", ErrCSVHeader, 1, "t"},
		{hdr + "a,1,2,3,4,5,6\n", ErrCSVRow, 2, ""},
		{hdr + "a,1,2,3,4,5,6,7,8\n", ErrCSVRow, 2, ""},
		{hdr + "a,1,2,3,4,5,6,x\n", ErrCSVRow, 2, "vz"},
		{hdr + "a,1,2,3,4,5,6,1e\n", ErrCSVRow, 2, "vz"},
	}
	for _, c := range cases {
		var rec Record
		err := NewCSVReader(strings.NewReader(c.in)).Read(&rec)
		var ce *CSVError
		if !errors.Is(err, c.want) || !errors.As(err, &ce) || ce.Line != c.line || ce.Column != c.column {
			t.Errorf("%q: %v, want %v at line %d column %q", c.in, err, c.want, c.line, c.column)
		}
	}
	// A bad row does not end the stream; NaN is left for validation.
	r := NewCSVReader(strings.NewReader(hdr + "a,1,2,3,4,5,6,x\nb,1,2,3,4,5,6,NaN\n"))
	var rec Record
	_ = r.Read(&rec)
	if err := r.Read(&rec); err != nil || string(rec.ID) != "b" {
		t.Fatalf("after a bad row: %v %+v", err, rec)
	}
	v, _ := NewValidator(Options{}, nil)
	if f, reason := v.Validate(&rec, 0); reason != ReasonNonFinite || f != FieldVZ {
		t.Fatalf("NaN cell: %v %v", f, reason)
	}
}

func TestCSVLongLine(t *testing.T) {
	id := strings.Repeat("x", 100<<10)
	in := "id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n" + id + ",1452603731,50,-1,0,1,2,3\nb,1452603731,50,-1,0,1,2,3"
	r := NewCSVReader(strings.NewReader(in))
	var rec Record
	if err := r.Read(&rec); err != nil || string(rec.ID) != id || rec.VZ != 3 {
		t.Fatalf("long line: %v", err)
	}
	if err := r.Read(&rec); err != nil || string(rec.ID) != "b" || rec.VZ != 3 {
		t.Fatalf("last line without newline: %v %+v", err, rec)
	}
}

func TestCSVAllocs(t *testing.T) {
	row := "4077da,1626098396.133,51.8436127,-1.3514668,472.4,-15.95,-48.87,0.33\n"
	r := NewCSVReader(strings.NewReader("id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n" + strings.Repeat(row, 1000)))
	var rec Record
	_ = r.Read(&rec)
	if n := testing.AllocsPerRun(500, func() {
		if err := r.Read(&rec); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per row", n)
	}
}
