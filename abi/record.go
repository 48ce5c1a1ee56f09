// Package abi holds the types that the engine and every model share: the
// vehicle record, the swept box, the pair index, the score result, the batch
// parameters, and the Predictor and Scorer contracts. The same records are the
// byte layout of the Wasm plugin ABI v1 (see SPEC.md): every record is
// fixed-width, little-endian, 8-byte aligned, and its Go struct has exactly the
// layout the specification gives, so a batch can be copied into guest memory
// without per-record encoding.
//
// abi imports nothing of this module, so nothing can form a cycle through it.
package abi

import "unsafe"

// ABI version spoken by this host. A plugin whose major version differs is
// refused; a plugin with a lower minor version is served records whose strides
// the header states, so it reads the prefix it knows.
const (
	VersionMajor = 1
	VersionMinor = 0
)

// Vehicle flag bits.
const (
	// FlagHasAccel marks a state that carries an acceleration; without it AX, AY
	// and AZ are zero and the constant-velocity model applies.
	FlagHasAccel uint32 = 1 << 0
	// FlagGeodetic marks a state whose position came in as WGS84 (so Alt and
	// VRate are geodetic); otherwise Alt = Z and VRate = VZ of a local frame.
	FlagGeodetic uint32 = 1 << 1
)

// Vehicle is one vehicle's state in the engine frame (ENU metres at the
// configured origin, or ECEF). It is 128 bytes; field offsets are part of ABI v1.
//
// Vertical separation is measured along the local vertical, so the state keeps
// its geodetic altitude and vertical rate beside the Cartesian position: the
// frame's z axis tilts away from the local vertical with distance from the
// origin (see DESIGN.md, "Units and frames").
type Vehicle struct {
	X, Y, Z    float64 // position, m                      offsets 0, 8, 16
	VX, VY, VZ float64 // velocity, m/s                    24, 32, 40
	AX, AY, AZ float64 // acceleration, m/s² (FlagHasAccel) 48, 56, 64
	Alt        float64 // altitude above the ellipsoid, m  72
	VRate      float64 // vertical rate, m/s, up positive  80
	T          float64 // time of this state, Unix seconds 88
	Radius     float32 // hard-body radius, m              96
	HSep       float32 // protected zone, horizontal, m    100
	VSep       float32 // protected zone, vertical, m      104
	Sigma      float32 // 1-sigma position uncertainty, m  108
	Class      uint32  // index into the host's class table 112
	Flags      uint32  // Flag* bits                        116
	Key        uint64  // host's handle of the vehicle; opaque to models 120
}

// Box is an axis-aligned box in the engine frame, 48 bytes.
type Box struct {
	MinX, MinY, MinZ float64
	MaxX, MaxY, MaxZ float64
}

// Overlaps reports whether b and o share at least one point (touching counts).
func (b Box) Overlaps(o Box) bool {
	return b.MinX <= o.MaxX && o.MinX <= b.MaxX &&
		b.MinY <= o.MaxY && o.MinY <= b.MaxY &&
		b.MinZ <= o.MaxZ && o.MinZ <= b.MaxZ
}

// Grow returns b widened by d on every side.
func (b Box) Grow(d float64) Box {
	return Box{b.MinX - d, b.MinY - d, b.MinZ - d, b.MaxX + d, b.MaxY + d, b.MaxZ + d}
}

// Contains reports whether the point lies in b.
func (b Box) Contains(x, y, z float64) bool {
	return x >= b.MinX && x <= b.MaxX && y >= b.MinY && y <= b.MaxY && z >= b.MinZ && z <= b.MaxZ
}

// Point is a position in the engine frame, 24 bytes: one trajectory sample.
type Point struct{ X, Y, Z float64 }

// Pair names two vehicles by their index in the batch's vehicle table, 8 bytes.
type Pair struct{ A, B uint32 }

// Result flag bits.
const (
	// ResultConflict: horizontal and vertical loss-of-separation windows overlap
	// inside the pair's assessment window; TIn and TOut are set.
	ResultConflict uint32 = 1 << 0
	// ResultLoS: the pair is in loss of separation at its reference time.
	ResultLoS uint32 = 1 << 1
)

// Result is a scorer's answer for one pair, 48 bytes. Times are seconds after
// the pair's reference time, the later of the two state times.
type Result struct {
	Risk  float64 // in [0, 1]
	TCA   float64 // time of closest approach in the window, s, >= 0
	DMin  float64 // 3D distance at TCA, m, >= 0
	TIn   float64 // entry into loss of separation, s (ResultConflict), else -1
	TOut  float64 // exit from loss of separation, s (ResultConflict), else -1
	Flags uint32  // Result* bits
	_     uint32
}

// Params are the batch-wide parameters every model receives.
type Params struct {
	// Horizon is collision_detection.prediction_time, s.
	Horizon float64
	// MinRisk is collision_detection.min_risk_level: the level at which a pair
	// is reported. A pair that stays outside its protected zone over the whole
	// window must score below it.
	MinRisk float64
	// Samples is the number of trajectory samples a predictor writes per
	// vehicle after its swept box (0: the box alone).
	Samples uint32
}

// Record sizes in bytes (the v1 strides).
const (
	VehicleSize = int(unsafe.Sizeof(Vehicle{}))
	BoxSize     = int(unsafe.Sizeof(Box{}))
	PointSize   = int(unsafe.Sizeof(Point{}))
	PairSize    = int(unsafe.Sizeof(Pair{}))
	ResultSize  = int(unsafe.Sizeof(Result{}))
)

// Compile-time checks that the Go layout is the v1 layout.
var (
	_ [VehicleSize - 128]struct{}
	_ [128 - VehicleSize]struct{}
	_ [BoxSize - 48]struct{}
	_ [ResultSize - 48]struct{}
	_ [48 - ResultSize]struct{}
	_ [PairSize - 8]struct{}
)
