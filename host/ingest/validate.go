package ingest

import (
	"fmt"
	"math"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reason is why a record was refused. Its String form is a stable snake_case
// token, safe as a Prometheus label value and in API error bodies.
type Reason uint8

// Reasons. The zero Reason (ReasonOK) means the record is valid.
const (
	ReasonOK              Reason = iota // "ok"
	ReasonNotObject                     // "not_object": a batch element is not a JSON object
	ReasonWrongType                     // "wrong_type": e.g. a string where a number belongs
	ReasonDuplicateField                // "duplicate_field": a key appears twice
	ReasonMissingID                     // "missing_id"
	ReasonIDTooLong                     // "id_too_long": more than Options.MaxIDLen bytes
	ReasonInvalidID                     // "invalid_id": empty, not UTF-8 (a lone surrogate), or holds control or bidirectional-control characters
	ReasonMissingTime                   // "missing_t"
	ReasonBadTime                       // "bad_time": a t string that is not RFC 3339
	ReasonTimeInFuture                  // "time_in_future": t > now + Options.MaxSkew
	ReasonTimeTooOld                    // "time_too_old": t before 2000-01-01T00:00:00Z
	ReasonNonFinite                     // "non_finite": NaN or ±Inf (also "NaN", "Infinity" strings, or overflow)
	ReasonLatRange                      // "lat_out_of_range": not in [-90, 90]
	ReasonLonRange                      // "lon_out_of_range": not in [-180, 180]
	ReasonAltRange                      // "alt_out_of_range": not in [Options.MinAlt, Options.MaxAlt]
	ReasonCoordRange                    // "coordinate_out_of_range": |x|, |y| or |z| > Options.MaxCoord
	ReasonPositionMissing               // "position_missing": neither lat/lon/alt nor x/y/z
	ReasonPositionBoth                  // "position_both_forms": lat/lon/alt and x/y/z
	ReasonPositionPartial               // "position_partial": e.g. lat without lon, or no alt
	ReasonVelocityMissing               // "velocity_missing": neither vx/vy nor speed/track
	ReasonVelocityPartial               // "velocity_partial": e.g. vx without vy, speed without track
	ReasonVelocityMixed                 // "velocity_mixed": vx/vy/vz and speed/track/vrate fields together
	ReasonNegativeSpeed                 // "negative_speed"
	ReasonTrackRange                    // "track_out_of_range": not in [0, 360)
	ReasonSpeedRange                    // "speed_out_of_range": faster than Options.MaxSpeed
	ReasonAccelPartial                  // "accel_partial": some but not all of ax, ay, az
	ReasonAccelRange                    // "accel_out_of_range": more than Options.MaxAccel
	ReasonNegativeRadius                // "negative_radius"
	ReasonRadiusRange                   // "radius_out_of_range": more than Options.MaxRadius
	ReasonNegativeSigma                 // "negative_sigma"
	ReasonSigmaRange                    // "sigma_out_of_range": more than Options.MaxSigma
	ReasonUnknownClass                  // "unknown_class": not in the class table
	// The engine's verdicts at submit, for a well-formed record it would
	// drop (the API lists them; Validate never returns them):
	ReasonStale     // "stale": older than the vehicle's stored state
	ReasonDuplicate // "duplicate": the same time as the vehicle's stored state
	ReasonLate      // "late": older than the engine clock minus the vehicle TTL (outside its time window)
	// ReasonInvalidGroup, "invalid_group": a group that is empty, longer than
	// Options.MaxIDLen, not UTF-8 or holds control characters.
	ReasonInvalidGroup
	numReasons
)

var reasonNames = [numReasons]string{
	"ok", "not_object", "wrong_type", "duplicate_field", "missing_id", "id_too_long", "invalid_id",
	"missing_t", "bad_time", "time_in_future", "time_too_old", "non_finite",
	"lat_out_of_range", "lon_out_of_range", "alt_out_of_range", "coordinate_out_of_range",
	"position_missing", "position_both_forms", "position_partial",
	"velocity_missing", "velocity_partial", "velocity_mixed", "negative_speed", "track_out_of_range",
	"speed_out_of_range", "accel_partial", "accel_out_of_range", "negative_radius",
	"radius_out_of_range", "negative_sigma", "sigma_out_of_range", "unknown_class",
	"stale", "duplicate", "late", "invalid_group",
}

// String returns the reason's label, e.g. "lat_out_of_range".
func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason_%d", uint8(r))
}

// Reasons returns every reason but ReasonOK, in order: the label values of
// the refused-records counter, so that it can be pre-registered at zero.
func Reasons() []Reason {
	rs := make([]Reason, 0, numReasons-1)
	for r := ReasonOK + 1; r < numReasons; r++ {
		rs = append(rs, r)
	}
	return rs
}

// MinTime is the earliest timestamp accepted: 2000-01-01T00:00:00Z, Unix s.
const MinTime = 946684800

// Options are the validation limits. A zero field takes its default.
type Options struct {
	// MaxSkew is how far in the future of the batch's now a timestamp may be.
	// Default 5 s. Negative: no limit.
	MaxSkew time.Duration
	// MaxIDLen is the longest id accepted, bytes. Default 64.
	MaxIDLen int
	// MinAlt and MaxAlt bound the altitude, m. Default -2000 and 100000 (when
	// both are zero).
	MinAlt, MaxAlt float64
	// MaxCoord bounds |x|, |y| and |z| of Cartesian input, m. Default 1e8.
	MaxCoord float64
	// MaxSpeed bounds the speed (3D for the vector form, ground speed for the
	// track form) and |vrate|, m/s. Default 1500.
	MaxSpeed float64
	// MaxAccel bounds the acceleration's magnitude, m/s². Default 100.
	MaxAccel float64
	// MaxRadius bounds the hard-body radius, m. Default 10000.
	MaxRadius float64
	// MaxSigma bounds the position uncertainty, m. Default 100000.
	MaxSigma float64
}

// withDefaults resolves zero fields to their defaults.
func (o Options) withDefaults() Options {
	if o.MaxSkew == 0 {
		o.MaxSkew = 5 * time.Second
	}
	if o.MaxIDLen == 0 {
		o.MaxIDLen = 64
	}
	if o.MinAlt == 0 && o.MaxAlt == 0 {
		o.MinAlt, o.MaxAlt = -2000, 100000
	}
	if o.MaxCoord == 0 {
		o.MaxCoord = 1e8
	}
	if o.MaxSpeed == 0 {
		o.MaxSpeed = 1500
	}
	if o.MaxAccel == 0 {
		o.MaxAccel = 100
	}
	if o.MaxRadius == 0 {
		o.MaxRadius = 10000
	}
	if o.MaxSigma == 0 {
		o.MaxSigma = 100000
	}
	return o
}

// validate checks resolved options; keys are relative to ingest.validation.
func (o Options) validate() error {
	pos := func(key string, v float64) error {
		if !(v > 0) || math.IsInf(v, 0) {
			return &ConfigError{Key: key, Msg: fmt.Sprintf("must be positive and finite, got %v", v)}
		}
		return nil
	}
	if o.MaxIDLen < 1 {
		return &ConfigError{Key: "max_id_len", Msg: fmt.Sprintf("must be positive, got %d", o.MaxIDLen)}
	}
	if !(o.MinAlt < o.MaxAlt) || math.IsInf(o.MinAlt, 0) || math.IsInf(o.MaxAlt, 0) {
		return &ConfigError{Key: "min_alt", Msg: fmt.Sprintf("min_alt (%v) must be below max_alt (%v), both finite", o.MinAlt, o.MaxAlt)}
	}
	for _, c := range []struct {
		k string
		v float64
	}{{"max_coord", o.MaxCoord}, {"max_speed", o.MaxSpeed}, {"max_accel", o.MaxAccel}, {"max_radius", o.MaxRadius}, {"max_sigma", o.MaxSigma}} {
		if err := pos(c.k, c.v); err != nil {
			return err
		}
	}
	return nil
}

// Validator checks decoded records against Options and a class table. It is
// immutable and safe for concurrent use.
type Validator struct {
	opts    Options
	classes *Classes
}

// NewValidator resolves the defaults of opts and checks them. classes may be
// nil: only the class "default" is known then.
func NewValidator(opts Options, classes *Classes) (*Validator, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &Validator{opts: opts, classes: classes}, nil
}

// Options returns the resolved options.
func (v *Validator) Options() Options { return v.opts }

// Classes returns the class table (nil: the default class only).
func (v *Validator) Classes() *Classes { return v.classes }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks one record whose timestamp is judged against now (Unix
// seconds). It returns ReasonOK, or the first problem found and the field at
// fault. The checks run in a fixed order: id, time, group, non-finite numbers,
// position, velocity, acceleration, radius, sigma, class.
func (v *Validator) Validate(r *Record, now float64) (Field, Reason) {
	o := &v.opts
	f := r.Fields
	switch {
	case f&FieldID == 0:
		return FieldID, ReasonMissingID
	case len(r.ID) > o.MaxIDLen:
		return FieldID, ReasonIDTooLong
	case !validID(r.ID):
		return FieldID, ReasonInvalidID
	case f&FieldT == 0:
		return FieldT, ReasonMissingTime
	}
	if f&FieldGroup != 0 && (len(r.Group) > o.MaxIDLen || !validID(r.Group)) {
		return FieldGroup, ReasonInvalidGroup
	}
	for m := f &^ (FieldID | FieldClass | FieldGroup); m != 0; m &= m - 1 {
		b := m & -m
		if p := r.num(b); p != nil && !finite(*p) {
			return b, ReasonNonFinite
		}
	}
	if r.T < MinTime {
		return FieldT, ReasonTimeTooOld
	}
	if o.MaxSkew >= 0 && r.T > now+o.MaxSkew.Seconds() {
		return FieldT, ReasonTimeInFuture
	}

	geo, cart := f&fieldsGeodetic, f&fieldsCartesian
	switch {
	case geo != 0 && cart != 0:
		return cart, ReasonPositionBoth
	case geo == 0 && cart == 0:
		return 0, ReasonPositionMissing
	case geo != 0 && geo != fieldsGeodetic:
		return fieldsGeodetic &^ geo, ReasonPositionPartial
	case cart != 0 && cart != fieldsCartesian:
		return fieldsCartesian &^ cart, ReasonPositionPartial
	}
	if geo != 0 {
		switch {
		case r.Lat < -90 || r.Lat > 90:
			return FieldLat, ReasonLatRange
		case r.Lon < -180 || r.Lon > 180:
			return FieldLon, ReasonLonRange
		case r.Alt < o.MinAlt || r.Alt > o.MaxAlt:
			return FieldAlt, ReasonAltRange
		}
	} else {
		switch {
		case math.Abs(r.X) > o.MaxCoord:
			return FieldX, ReasonCoordRange
		case math.Abs(r.Y) > o.MaxCoord:
			return FieldY, ReasonCoordRange
		case math.Abs(r.Z) > o.MaxCoord:
			return FieldZ, ReasonCoordRange
		}
	}

	vec, trk := f&fieldsVector, f&fieldsTrack
	switch {
	case vec != 0 && trk != 0:
		return trk, ReasonVelocityMixed
	case vec == 0 && trk == 0:
		return 0, ReasonVelocityMissing
	case vec != 0 && vec&fieldsVectorH != fieldsVectorH:
		return fieldsVectorH &^ vec, ReasonVelocityPartial
	case trk != 0 && trk&fieldsTrackH != fieldsTrackH:
		return fieldsTrackH &^ trk, ReasonVelocityPartial
	}
	if vec != 0 {
		if math.Sqrt(r.VX*r.VX+r.VY*r.VY+r.VZ*r.VZ) > o.MaxSpeed {
			return fieldsVector & f, ReasonSpeedRange
		}
	} else {
		switch {
		case r.Speed < 0:
			return FieldSpeed, ReasonNegativeSpeed
		case r.Speed > o.MaxSpeed:
			return FieldSpeed, ReasonSpeedRange
		case r.Track < 0 || r.Track >= 360:
			return FieldTrack, ReasonTrackRange
		case math.Abs(r.VRate) > o.MaxSpeed:
			return FieldVRate, ReasonSpeedRange
		}
	}

	if acc := f & fieldsAccel; acc != 0 {
		if acc != fieldsAccel {
			return fieldsAccel &^ acc, ReasonAccelPartial
		}
		if math.Sqrt(r.AX*r.AX+r.AY*r.AY+r.AZ*r.AZ) > o.MaxAccel {
			return fieldsAccel, ReasonAccelRange
		}
	}
	if f&FieldRadius != 0 {
		if r.Radius < 0 {
			return FieldRadius, ReasonNegativeRadius
		}
		if r.Radius > o.MaxRadius {
			return FieldRadius, ReasonRadiusRange
		}
	}
	if f&FieldSigma != 0 {
		if r.Sigma < 0 {
			return FieldSigma, ReasonNegativeSigma
		}
		if r.Sigma > o.MaxSigma {
			return FieldSigma, ReasonSigmaRange
		}
	}
	if f&FieldClass != 0 {
		if _, ok := v.classes.Lookup(r.Class); !ok {
			return FieldClass, ReasonUnknownClass
		}
	}
	return 0, ReasonOK
}

// validID: non-empty UTF-8 without control characters (ids end up in logs,
// metrics exemplars and HTTP responses), without lone surrogates (they
// arrive as \uD800 escapes and are kept as invalid UTF-8 by the decoder, so
// that two different ids never collapse into one), and without
// bidirectional controls (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F,
// U+061C), which make an id display as another.
func validID(id []byte) bool {
	if len(id) == 0 {
		return false
	}
	ascii := true
	for _, c := range id {
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= 0x80 {
			ascii = false
		}
	}
	if ascii {
		return true
	}
	for i := 0; i < len(id); {
		r, n := utf8.DecodeRune(id[i:])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return false
		}
		i += n
	}
	return true
}
