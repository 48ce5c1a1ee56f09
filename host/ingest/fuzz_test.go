package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

// encode writes r back as a wire record (numbers in shortest exact form), for
// the round-trip property.
func encode(buf []byte, r *Record) []byte {
	buf = append(buf, '{')
	for b := FieldID; b < fieldEnd; b <<= 1 {
		if r.Fields&b == 0 {
			continue
		}
		if len(buf) > 1 {
			buf = append(buf, ',')
		}
		buf = strconv.AppendQuote(buf, b.String())
		buf = append(buf, ':')
		switch b {
		case FieldID:
			s, _ := json.Marshal(string(r.ID))
			buf = append(buf, s...)
		case FieldClass:
			s, _ := json.Marshal(string(r.Class))
			buf = append(buf, s...)
		default:
			buf = strconv.AppendFloat(buf, *r.num(b), 'g', -1, 64)
		}
	}
	return append(buf, '}')
}

func sameRecord(a, b *Record) bool {
	if a.Fields != b.Fields || string(a.ID) != string(b.ID) || string(a.Class) != string(b.Class) {
		return false
	}
	for f := FieldT; f < fieldEnd; f <<= 1 {
		if p := a.num(f); p != nil && math.Float64bits(*p) != math.Float64bits(*b.num(f)) {
			return false
		}
	}
	return true
}

func finiteVehicle(v *abi.Vehicle) bool {
	for _, x := range []float64{v.X, v.Y, v.Z, v.VX, v.VY, v.VZ, v.AX, v.AY, v.AZ, v.Alt, v.VRate, v.T,
		float64(v.Radius), float64(v.HSep), float64(v.VSep), float64(v.Sigma)} {
		if !finite(x) {
			return false
		}
	}
	return true
}

// FuzzDecodeBatch: DecodeBatch never panics and always ends (the fuzzer's
// timeout catches a loop); a failed batch leaves the slices as given; every
// element is accounted for exactly once, in order; an accepted record has
// finite fields, passes validation again, normalises, and decodes to the same
// record when written back.
func FuzzDecodeBatch(f *testing.F) {
	seeds := []string{
		good,
		"[" + good + "," + good + "]",
		good + "\n" + good + "\n",
		`{"id":"a\u00e9\ud83d\ude00","t":"2021-07-12T14:00:00.5+01:00","x":1e3,"y":-2,"z":0.5,"speed":10,"track":359,"vrate":1,"ax":0,"ay":0,"az":0,"class":"drone","radius":1,"sigma":2}`,
		`[{"id":235070762,"t":1626098396,"lat":51,"lon":-1,"alt":0,"vx":1,"vy":2,"o":{"a":[true,false,null,"s\"",-0.1e-2]}}, 1, "x", null]`,
		`{"id":"a","lat":NaN,"lon":-Infinity,"alt":"Infinity","vx":1e999}`,
		`{"id":"a","id":"b"}`, `[`, `{"x":[[[[[]]]]]}`, `{"t":"2021-02-29T00:00:00Z"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	d := testDecoder(f)
	classes := d.Validator().Classes()
	frame := geo.MustNew(geo.Config{Lat: 51.5, Lon: -0.12})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := append([]byte(nil), data...)
		sentinel := []Record{{Index: -7}}
		recs, errs, err := d.DecodeBatch(in, now, sentinel, nil)
		if err != nil {
			if len(recs) != 1 || recs[0].Index != -7 || len(errs) != 0 {
				t.Fatalf("failed batch changed the slices")
			}
			return
		}
		recs = recs[1:]
		// Every element once, in order.
		next, ri, ei := 0, 0, 0
		for ri < len(recs) || ei < len(errs) {
			switch {
			case ri < len(recs) && recs[ri].Index == next:
				ri++
			case ei < len(errs) && errs[ei].Index == next:
				if errs[ei].Reason == ReasonOK {
					t.Fatalf("RecordError without a reason")
				}
				ei++
			default:
				t.Fatalf("element %d missing or out of order", next)
			}
			next++
		}
		var out []byte
		for i := range recs {
			r := &recs[i]
			for b := FieldT; b < fieldEnd; b <<= 1 {
				if p := r.num(b); p != nil && r.Fields&b != 0 && !finite(*p) {
					t.Fatalf("accepted record with non-finite %v", b)
				}
			}
			if _, reason := d.Validator().Validate(r, float64(now.Unix())); reason != ReasonOK {
				t.Fatalf("accepted record fails validation: %v", reason)
			}
			var v abi.Vehicle
			if err := Normalize(r, frame, classes, &v); err != nil || !finiteVehicle(&v) {
				t.Fatalf("accepted record does not normalise: %v %+v", err, v)
			}
			out = encode(out[:0], r)
			back, berrs, err := NewDecoder(d.Validator()).DecodeBatch(out, now, nil, nil)
			if err != nil || len(berrs) != 0 || len(back) != 1 || !sameRecord(r, &back[0]) {
				t.Fatalf("round trip of %s: %v %v\n%+v\n%+v", out, err, berrs, *r, back)
			}
		}
	})
}

// FuzzNormalize: any record that validates normalises to finite values; the
// frame velocity has the length of the local one; the position converts back
// to the record's within a millimetre.
func FuzzNormalize(f *testing.F) {
	f.Add(51.5, -0.12, 51.8, -1.35, 472.4, -15.95, -48.87, 0.33, false)
	f.Add(0.0, 179.9, -1.0, -179.5, 11000.0, 100.0, 359.0, -5.0, true)
	f.Add(89.0, 0.0, 90.0, 45.0, 0.0, 1.0, 0.0, 0.0, true)
	classes := testClasses(f)
	v, _ := NewValidator(Options{}, classes)
	f.Fuzz(func(t *testing.T, olat, olon, lat, lon, alt, a, b, c float64, track bool) {
		frame, err := geo.New(geo.Config{Lat: olat, Lon: olon})
		if err != nil {
			return
		}
		r := Record{ID: []byte("x"), T: 1626098396, Lat: lat, Lon: lon, Alt: alt, Fields: FieldID | FieldT | fieldsGeodetic}
		if track {
			r.Speed, r.Track, r.VRate = a, b, c
			r.Fields |= fieldsTrack
		} else {
			r.VX, r.VY, r.VZ = a, b, c
			r.Fields |= fieldsVector
		}
		if _, reason := v.Validate(&r, 1626098400); reason != ReasonOK {
			return
		}
		var veh abi.Vehicle
		if err := Normalize(&r, frame, classes, &veh); err != nil {
			t.Fatal(err)
		}
		if !finiteVehicle(&veh) {
			t.Fatalf("non-finite %+v", veh)
		}
		local := math.Sqrt(a*a + b*b + c*c)
		if track {
			local = math.Sqrt(a*a + c*c)
		}
		if s := math.Sqrt(veh.VX*veh.VX + veh.VY*veh.VY + veh.VZ*veh.VZ); math.Abs(s-local) > 1e-9*(1+local) {
			t.Fatalf("frame speed %v, local %v", s, local)
		}
		lat2, lon2, alt2 := frame.ToGeodetic(veh.X, veh.Y, veh.Z)
		e := geo.MustNew(geo.Config{Kind: "ecef"})
		x1, y1, z1 := e.FromGeodetic(lat, lon, alt)
		x2, y2, z2 := e.FromGeodetic(lat2, lon2, alt2)
		if d := math.Sqrt((x1-x2)*(x1-x2) + (y1-y2)*(y1-y2) + (z1-z2)*(z1-z2)); d > 1e-3 {
			t.Fatalf("position round trip off by %v m", d)
		}
	})
}

// FuzzCSVReader: the CSV reader never panics and always ends on any input
// (at most one Read per input byte); errors are *CSVError, header errors are
// sticky, and rows carry only the recording's fields.
func FuzzCSVReader(f *testing.F) {
	f.Add([]byte("id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\n4077da,1626098396.133,51.8436127,-1.3514668,472.4,-15.95,-48.87,0.33\n"))
	f.Add([]byte("vz_mps,id,t,lat,lon,alt_m,vx_mps,vy_mps,x\n1,\"a\",1,2,3,4,5,6,7\r\n\n,,,,,,,,\n"))
	f.Add([]byte("id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps\na,NaN,1e999,-0,0.0,1,2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewCSVReader(bytes.NewReader(data))
		var rec Record
		for i := 0; i <= len(data)+1; i++ {
			err := r.Read(&rec)
			if err == io.EOF {
				return
			}
			var ce *CSVError
			if err != nil && !errors.As(err, &ce) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			if err != nil && errors.Is(err, ErrCSVHeader) {
				if err2 := r.Read(&rec); err2 != err {
					t.Fatalf("header error not sticky: %v then %v", err, err2)
				}
				return
			}
			if err == nil && rec.Fields&^(FieldID|FieldT|fieldsGeodetic|fieldsVector) != 0 {
				t.Fatalf("unexpected fields %v", rec.Fields)
			}
		}
		t.Fatalf("reader did not end")
	})
}
