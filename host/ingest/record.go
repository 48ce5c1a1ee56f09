package ingest

import "math/bits"

// Record is one decoded wire record, before normalisation. Only the fields
// whose bit is set in Fields were present in the input (a JSON null counts as
// absent); the others are zero.
//
// ID and Class alias the decoder's input (or, when the JSON string held escape
// sequences, the decoder's scratch buffer): they are valid while the input is
// unmodified and until the decoder's next DecodeBatch. Copy them (string(ID))
// to keep them; look them up without copying (m[string(rec.ID)]).
type Record struct {
	ID []byte // "id": vehicle identifier, 1..MaxIDLen bytes of UTF-8

	T float64 // "t": Unix seconds (a number, or an RFC 3339 string on the wire)

	Lat, Lon, Alt float64 // "lat", "lon" (degrees), "alt" (m above the WGS84 ellipsoid)
	X, Y, Z       float64 // "x", "y", "z": metres in the engine frame

	// "vx", "vy", "vz": velocity, m/s. With lat/lon/alt these are the local
	// east, north and up components; with x/y/z they are along the frame's axes.
	VX, VY, VZ float64
	// "speed" (m/s, ground speed), "track" (degrees true, clockwise from north,
	// [0, 360)), "vrate" (m/s, up positive): the ADS-B / AIS velocity form.
	Speed, Track, VRate float64
	// "ax", "ay", "az": acceleration, m/s², in the same axes as vx, vy, vz.
	AX, AY, AZ float64

	Radius float64 // "radius": hard-body radius, m (default: the class's radius)
	Sigma  float64 // "sigma": 1-sigma position uncertainty, m (default 0)
	Class  []byte  // "class": name in the class table (default "default")
	// "group": the vehicle's group (a light show, a formation, a convoy, a
	// moored fleet), 1..MaxIDLen bytes of UTF-8 like an id. Pairs inside one
	// group are not risks; the group is still checked against every other
	// vehicle. Absent: no group.
	Group []byte

	Fields Field // which fields were present
	Index  int   // position of the record in its batch, from 0
	Offset int   // byte offset of the record in its batch (CSV: line number)
}

// Field is a bit set of wire fields.
type Field uint32

// Wire fields, one bit each.
const (
	FieldID Field = 1 << iota
	FieldT
	FieldLat
	FieldLon
	FieldAlt
	FieldX
	FieldY
	FieldZ
	FieldVX
	FieldVY
	FieldVZ
	FieldSpeed
	FieldTrack
	FieldVRate
	FieldAX
	FieldAY
	FieldAZ
	FieldRadius
	FieldSigma
	FieldClass
	FieldGroup
	fieldEnd
)

// Field groups.
const (
	fieldsGeodetic  = FieldLat | FieldLon | FieldAlt
	fieldsCartesian = FieldX | FieldY | FieldZ
	fieldsVector    = FieldVX | FieldVY | FieldVZ
	fieldsVectorH   = FieldVX | FieldVY
	fieldsTrack     = FieldSpeed | FieldTrack | FieldVRate
	fieldsTrackH    = FieldSpeed | FieldTrack
	fieldsAccel     = FieldAX | FieldAY | FieldAZ
)

var fieldNames = [...]string{
	"id", "t", "lat", "lon", "alt", "x", "y", "z", "vx", "vy", "vz",
	"speed", "track", "vrate", "ax", "ay", "az", "radius", "sigma", "class", "group",
}

// String returns the wire name of a single field ("lat"), "" for none, or the
// names joined by "+" for a set.
func (f Field) String() string {
	if f == 0 {
		return ""
	}
	if f&(f-1) == 0 && f < fieldEnd {
		return fieldNames[bits.TrailingZeros32(uint32(f))]
	}
	s := ""
	for f != 0 {
		i := bits.TrailingZeros32(uint32(f))
		f &^= 1 << i
		name := "?"
		if i < len(fieldNames) {
			name = fieldNames[i]
		}
		if s != "" {
			s += "+"
		}
		s += name
	}
	return s
}

// Geodetic reports whether the record gives its position as lat/lon/alt.
func (r *Record) Geodetic() bool { return r.Fields&fieldsGeodetic != 0 }

// HasAccel reports whether the record carries an acceleration.
func (r *Record) HasAccel() bool { return r.Fields&fieldsAccel != 0 }

// lookupField maps a wire key to its field; 0 for an unknown key. The switch
// on string(key) compiles to comparisons without allocating.
func lookupField(key []byte) Field {
	switch string(key) {
	case "id":
		return FieldID
	case "t":
		return FieldT
	case "lat":
		return FieldLat
	case "lon":
		return FieldLon
	case "alt":
		return FieldAlt
	case "x":
		return FieldX
	case "y":
		return FieldY
	case "z":
		return FieldZ
	case "vx":
		return FieldVX
	case "vy":
		return FieldVY
	case "vz":
		return FieldVZ
	case "speed":
		return FieldSpeed
	case "track":
		return FieldTrack
	case "vrate":
		return FieldVRate
	case "ax":
		return FieldAX
	case "ay":
		return FieldAY
	case "az":
		return FieldAZ
	case "radius":
		return FieldRadius
	case "sigma":
		return FieldSigma
	case "class":
		return FieldClass
	case "group":
		return FieldGroup
	}
	return 0
}

// num returns the address of the float64 field f of r, nil for ID, Class and Group.
func (r *Record) num(f Field) *float64 {
	switch f {
	case FieldT:
		return &r.T
	case FieldLat:
		return &r.Lat
	case FieldLon:
		return &r.Lon
	case FieldAlt:
		return &r.Alt
	case FieldX:
		return &r.X
	case FieldY:
		return &r.Y
	case FieldZ:
		return &r.Z
	case FieldVX:
		return &r.VX
	case FieldVY:
		return &r.VY
	case FieldVZ:
		return &r.VZ
	case FieldSpeed:
		return &r.Speed
	case FieldTrack:
		return &r.Track
	case FieldVRate:
		return &r.VRate
	case FieldAX:
		return &r.AX
	case FieldAY:
		return &r.AY
	case FieldAZ:
		return &r.AZ
	case FieldRadius:
		return &r.Radius
	case FieldSigma:
		return &r.Sigma
	}
	return nil
}
