package ingest

import (
	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

// Normalize converts a validated record into the engine's state record. It
// fills every field of dst but Key (the engine's handle, left as it was):
//
//   - Geodetic input (lat/lon/alt): X, Y, Z are the position in frame; the
//     velocity (vx/vy/vz east/north/up, or speed/track/vrate) and the
//     acceleration are rotated from the local axes at the vehicle into the
//     frame's; Alt is the geodetic altitude and VRate the local up velocity;
//     FlagGeodetic is set.
//   - Cartesian input (x/y/z): position and vectors are taken as frame
//     components (speed/track give x east and y north of the frame's axes);
//     Alt = Z and VRate = VZ.
//   - FlagHasAccel is set when ax/ay/az are present.
//   - T, Sigma (default 0) and Class (index into classes; 0, "default", when
//     the record names none); Radius is the record's or else the class's;
//     HSep and VSep are the class's protected zone.
//
// frame may be nil for Cartesian records only. Normalize does not repeat
// validation: it fails only on an unknown class (ErrUnknownClass) or a record
// without position or velocity (ErrIncomplete). It does not allocate.
func Normalize(rec *Record, frame *geo.Frame, classes *Classes, dst *abi.Vehicle) error {
	class := uint32(0)
	if rec.Fields&FieldClass != 0 {
		var ok bool
		if class, ok = classes.Lookup(rec.Class); !ok {
			return ErrUnknownClass
		}
	}
	f := rec.Fields
	var e, n, u float64
	switch {
	case f&fieldsVectorH == fieldsVectorH:
		e, n, u = rec.VX, rec.VY, rec.VZ
	case f&fieldsTrackH == fieldsTrackH:
		e, n, u = geo.SpeedTrackToENU(rec.Speed, rec.Track, rec.VRate)
	default:
		return ErrIncomplete
	}
	flags := uint32(0)
	switch {
	case f&fieldsGeodetic == fieldsGeodetic && frame != nil:
		l := frame.Locate(rec.Lat, rec.Lon, rec.Alt)
		dst.X, dst.Y, dst.Z = l.X, l.Y, l.Z
		dst.VX, dst.VY, dst.VZ = l.Vector(e, n, u)
		if f&fieldsAccel != 0 {
			dst.AX, dst.AY, dst.AZ = l.Vector(rec.AX, rec.AY, rec.AZ)
			flags |= abi.FlagHasAccel
		} else {
			dst.AX, dst.AY, dst.AZ = 0, 0, 0
		}
		dst.Alt, dst.VRate = rec.Alt, u
		flags |= abi.FlagGeodetic
	case f&fieldsCartesian == fieldsCartesian:
		dst.X, dst.Y, dst.Z = rec.X, rec.Y, rec.Z
		dst.VX, dst.VY, dst.VZ = e, n, u
		if f&fieldsAccel != 0 {
			dst.AX, dst.AY, dst.AZ = rec.AX, rec.AY, rec.AZ
			flags |= abi.FlagHasAccel
		} else {
			dst.AX, dst.AY, dst.AZ = 0, 0, 0
		}
		dst.Alt, dst.VRate = rec.Z, u
		if frame != nil && frame.Kind() == geo.ECEF {
			// ECEF z is the distance along the Earth's axis, not a height:
			// vertical windows need the geodetic altitude and the vertical
			// rate along the local up.
			lat, lon, alt := frame.ToGeodetic(rec.X, rec.Y, rec.Z)
			l := frame.Locate(lat, lon, alt)
			_, _, up := l.LocalVector(e, n, u)
			dst.Alt, dst.VRate = alt, up
		}
	default:
		return ErrIncomplete
	}
	spec := classes.Spec(class)
	radius := spec.Radius
	if f&FieldRadius != 0 {
		radius = rec.Radius
	}
	dst.T = rec.T
	dst.Radius = float32(radius)
	dst.HSep = float32(spec.Horizontal)
	dst.VSep = float32(spec.Vertical)
	dst.Sigma = float32(rec.Sigma)
	dst.Class = class
	dst.Flags = flags
	return nil
}
