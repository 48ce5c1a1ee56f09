package ingest

import (
	"errors"
	"math"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

var london = geo.MustNew(geo.Config{Lat: 51.5, Lon: -0.12})

func one(t *testing.T, in string) *Record {
	t.Helper()
	recs, errs, err := decode(t, in)
	if err != nil || len(errs) != 0 || len(recs) != 1 {
		t.Fatalf("%s: %v %v %v", in, recs, errs, err)
	}
	return &recs[0]
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestNormalizeGeodetic(t *testing.T) {
	classes := testClasses(t)
	rec := one(t, `{"id":"a","t":1626098396.5,"lat":51.8,"lon":-1.35,"alt":472.4,"vx":-15.95,"vy":-48.87,"vz":0.33,"sigma":12}`)
	v := abi.Vehicle{AX: 9, AY: 9, AZ: 9, Flags: 0xff, Key: 42}
	if err := Normalize(rec, london, classes, &v); err != nil {
		t.Fatal(err)
	}
	l := london.Locate(51.8, -1.35, 472.4)
	vx, vy, vz := l.Vector(-15.95, -48.87, 0.33)
	want := abi.Vehicle{X: l.X, Y: l.Y, Z: l.Z, VX: vx, VY: vy, VZ: vz, Alt: 472.4, VRate: 0.33, T: 1626098396.5,
		Radius: 0, HSep: 50, VSep: 25, Sigma: 12, Class: 0, Flags: abi.FlagGeodetic, Key: 42}
	if v != want {
		t.Fatalf("got  %+v\nwant %+v", v, want)
	}
	// The frame rotation is really applied ~90 km from the origin: the frame
	// velocity differs from the local components but has the same length.
	if near(v.VX, -15.95, 0.01) && near(v.VY, -48.87, 0.01) {
		t.Fatal("velocity was not rotated into the frame")
	}
	if s := math.Sqrt(v.VX*v.VX + v.VY*v.VY + v.VZ*v.VZ); !near(s, math.Sqrt(15.95*15.95+48.87*48.87+0.33*0.33), 1e-9) {
		t.Fatalf("frame speed %v", s)
	}
}

func TestNormalizeSpeedTrackClassAccel(t *testing.T) {
	classes := testClasses(t)
	rec := one(t, `{"id":"a","t":1626098396,"lat":51.5,"lon":-0.12,"alt":3000,"speed":100,"track":90,"vrate":-2,"ax":0,"ay":1,"az":0,"class":"aircraft"}`)
	var v abi.Vehicle
	if err := Normalize(rec, london, classes, &v); err != nil {
		t.Fatal(err)
	}
	ai, _ := classes.Lookup([]byte("aircraft"))
	if !near(v.VX, 100, 1e-9) || !near(v.VY, 0, 1e-9) || !near(v.VZ, -2, 1e-9) || v.VRate != -2 || v.Alt != 3000 {
		t.Fatalf("velocity %v %v %v vrate %v alt %v", v.VX, v.VY, v.VZ, v.VRate, v.Alt)
	}
	if !near(v.AY, 1, 1e-9) || v.Flags != abi.FlagGeodetic|abi.FlagHasAccel {
		t.Fatalf("accel %v %v %v flags %b", v.AX, v.AY, v.AZ, v.Flags)
	}
	if v.Class != ai || v.HSep != 9260 || v.VSep != 300 || v.Radius != 30 {
		t.Fatalf("class %d hsep %v vsep %v radius %v", v.Class, v.HSep, v.VSep, v.Radius)
	}
	rec.Radius, rec.Fields = 5, rec.Fields|FieldRadius
	_ = Normalize(rec, london, classes, &v)
	if v.Radius != 5 {
		t.Fatalf("record radius ignored: %v", v.Radius)
	}
}

func TestNormalizeCartesian(t *testing.T) {
	classes := testClasses(t)
	rec := one(t, `{"id":"a","t":1626098396,"x":100,"y":-200,"z":50,"vx":1,"vy":2,"vz":3,"ax":0.5,"ay":0,"az":-0.5,"class":"drone","radius":2}`)
	var v abi.Vehicle
	if err := Normalize(rec, nil, classes, &v); err != nil {
		t.Fatal(err)
	}
	di, _ := classes.Lookup([]byte("drone"))
	want := abi.Vehicle{X: 100, Y: -200, Z: 50, VX: 1, VY: 2, VZ: 3, AX: 0.5, AZ: -0.5, Alt: 50, VRate: 3, T: 1626098396,
		Radius: 2, HSep: 30, VSep: 15, Class: di, Flags: abi.FlagHasAccel}
	if v != want {
		t.Fatalf("got  %+v\nwant %+v", v, want)
	}
	rec = one(t, `{"id":"a","t":1626098396,"x":0,"y":0,"z":0,"speed":10,"track":180,"vrate":1}`)
	if err := Normalize(rec, london, classes, &v); err != nil || !near(v.VY, -10, 1e-12) || !near(v.VX, 0, 1e-12) || v.VRate != 1 || v.Flags != 0 {
		t.Fatalf("speed/track in frame axes: %+v %v", v, err)
	}
}

func TestNormalizeErrors(t *testing.T) {
	var v abi.Vehicle
	rec := Record{Fields: FieldID | FieldT | fieldsCartesian | fieldsVectorH | FieldClass, Class: []byte("zeppelin")}
	if err := Normalize(&rec, london, testClasses(t), &v); !errors.Is(err, ErrUnknownClass) {
		t.Fatalf("unknown class: %v", err)
	}
	rec = Record{Fields: FieldID | FieldT | fieldsCartesian}
	if err := Normalize(&rec, london, nil, &v); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("no velocity: %v", err)
	}
	rec = Record{Fields: FieldID | FieldT | fieldsGeodetic | fieldsVectorH}
	if err := Normalize(&rec, nil, nil, &v); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("geodetic without frame: %v", err)
	}
}

// TestCartesianInECEFUsesGeodeticAltitude: in an ECEF frame the same state
// given as x/y/z and as lat/lon/alt normalises to the same altitude and
// vertical rate (z is not a height there).
func TestCartesianInECEFUsesGeodeticAltitude(t *testing.T) {
	f := geo.MustNew(geo.Config{Kind: "ecef"})
	geoRec := Record{ID: []byte("a"), T: 1.7e9, Lat: 45, Lon: 7, Alt: 1234, VX: 3, VY: 4, VZ: -2,
		Fields: FieldID | FieldT | FieldLat | FieldLon | FieldAlt | FieldVX | FieldVY | FieldVZ}
	var g abi.Vehicle
	if err := Normalize(&geoRec, f, nil, &g); err != nil {
		t.Fatal(err)
	}
	cart := Record{ID: []byte("a"), T: 1.7e9, X: g.X, Y: g.Y, Z: g.Z, VX: g.VX, VY: g.VY, VZ: g.VZ,
		Fields: FieldID | FieldT | FieldX | FieldY | FieldZ | FieldVX | FieldVY | FieldVZ}
	var c abi.Vehicle
	if err := Normalize(&cart, f, nil, &c); err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.Alt-1234) > 1e-3 || math.Abs(c.VRate-(-2)) > 1e-9 {
		t.Fatalf("x/y/z in ECEF: alt %.4f vrate %.6f, want 1234 and -2 as the geodetic form gives", c.Alt, c.VRate)
	}
}
