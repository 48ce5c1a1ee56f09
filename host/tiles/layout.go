package tiles

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// MapVersion is the version of the tile-to-partition function this build
// speaks (see Layout.Partition). A change of the function, the tile size or
// the partition count is a new layout; records carry it in their header.
const MapVersion = 1

// DefaultTileSize is compute.tile_size's default, metres: with the default
// horizon (30 s) and max_distance (200 m), drone traffic (about 15 m/s) sends
// fewer than 10 % extra records as ghosts (BenchmarkHaloOverhead).
const DefaultTileSize = 20_000

// Tile names one tile: the tile (X, Y) covers x in [(X-½)·size, (X+½)·size)
// and y in [(Y-½)·size, (Y+½)·size) of the engine frame, so the frame's origin
// (usually the middle of the area served) is a tile's centre, not a corner. Tiles are columns: the z axis
// is not divided (altitudes span kilometres, tiles tens of kilometres).
type Tile struct{ X, Y int32 }

// Layout is the tile grid and the tile-to-partition map. Every ingest and
// compute node of a cluster must use the same Layout; its String is recorded
// in every routed record (HeaderLayout) and checked by the consumer.
type Layout struct {
	// Version is the map function's version. Default MapVersion.
	Version int
	// Size is the tile edge, metres (compute.tile_size). Default
	// DefaultTileSize.
	Size float64
	// Partitions is the partition count of vehicle-locations. Required.
	Partitions int
}

// HeaderLayout is the record header that carries Layout.String.
const HeaderLayout = "cdp-layout"

// New returns the layout of the given tile size and partition count, with
// the current map version.
func New(size float64, partitions int) (Layout, error) {
	l := Layout{Version: MapVersion, Size: size, Partitions: partitions}
	return l, l.Validate()
}

// Validate reports a bad field naming its key.
func (l Layout) Validate() error {
	switch {
	case l.Version != MapVersion:
		return &LayoutError{Key: "layout version", Value: l.Version, Reason: fmt.Sprintf("is not spoken by this build (it speaks %d)", MapVersion)}
	case !(l.Size >= 1) || math.IsInf(l.Size, 0):
		return &LayoutError{Key: "compute.tile_size", Value: l.Size, Reason: "must be a finite number of metres >= 1"}
	case l.Partitions < 1 || l.Partitions > 1<<16:
		return &LayoutError{Key: "vehicle-locations partitions", Value: l.Partitions, Reason: "must be in [1, 65536]"}
	}
	return nil
}

// String is the layout's record form, "v1/s20000/p16".
func (l Layout) String() string {
	return "v" + strconv.Itoa(l.Version) + "/s" + strconv.FormatFloat(l.Size, 'g', -1, 64) + "/p" + strconv.Itoa(l.Partitions)
}

// ParseLayout reads String's form.
func ParseLayout(s string) (Layout, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "v") || !strings.HasPrefix(parts[1], "s") || !strings.HasPrefix(parts[2], "p") {
		return Layout{}, fmt.Errorf("%w: %q is not v<version>/s<size>/p<partitions>", ErrLayout, s)
	}
	v, err1 := strconv.Atoi(parts[0][1:])
	size, err2 := strconv.ParseFloat(parts[1][1:], 64)
	p, err3 := strconv.Atoi(parts[2][1:])
	if err1 != nil || err2 != nil || err3 != nil {
		return Layout{}, fmt.Errorf("%w: %q is not v<version>/s<size>/p<partitions>", ErrLayout, s)
	}
	l := Layout{Version: v, Size: size, Partitions: p}
	return l, l.Validate()
}

// TileOf returns the tile that holds the point (x, y). A point on a border
// belongs to the tile above it (floor). Coordinates beyond ±2^31 tiles are
// clamped to the outermost tile.
func (l Layout) TileOf(x, y float64) Tile {
	return Tile{index(x/l.Size + 0.5), index(y/l.Size + 0.5)}
}

// Corner returns the minimum corner of tile t.
func (l Layout) Corner(t Tile) (x, y float64) {
	return (float64(t.X) - 0.5) * l.Size, (float64(t.Y) - 0.5) * l.Size
}

func index(f float64) int32 {
	f = math.Floor(f)
	switch {
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32 || f != f: // NaN: the engine refuses such states
		return math.MinInt32
	}
	return int32(f)
}

// Partition maps a tile to its partition (map version 1): a 64-bit mix of
// the tile's coordinates modulo the partition count, so that neighbouring
// tiles spread over partitions and a dense area loads several nodes.
func (l Layout) Partition(t Tile) int32 {
	h := uint64(uint32(t.X))<<32 | uint64(uint32(t.Y))
	// splitmix64's finaliser.
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return int32(h % uint64(l.Partitions))
}

// Halo is the square a vehicle's swept box can reach, in x and y.
type Halo struct{ MinX, MinY, MaxX, MaxY float64 }

// Reach returns how far from its position v's swept box can reach over the
// horizon (s) with the separation margin maxDistance (m): horizon × |v|, plus
// ½|a|·horizon² when the state has an acceleration, plus maxDistance/2, plus
// √2 × the radius (the engine grows a swept box by the last two). Any
// predictor whose trajectory stays within that distance of the position
// (constant velocity or acceleration, a constant turn) has its swept box
// inside the halo; the 3D speed bounds the x and y of any frame.
func Reach(v *abi.Vehicle, horizon, maxDistance float64) float64 {
	speed := math.Sqrt(v.VX*v.VX + v.VY*v.VY + v.VZ*v.VZ)
	r := horizon*speed + maxDistance/2 + math.Sqrt2*float64(v.Radius)
	if v.Flags&abi.FlagHasAccel != 0 {
		r += 0.5 * math.Sqrt(v.AX*v.AX+v.AY*v.AY+v.AZ*v.AZ) * horizon * horizon
	}
	// A little more than the engine's own growth, so that rounding in the
	// engine's box arithmetic (and the builtin's rounding allowance of
	// 1e-12 × the coordinates) can never put a box edge outside the halo.
	return r*(1+1e-9) + 1e-9*(math.Abs(v.X)+math.Abs(v.Y)+math.Abs(v.Z)) + 1e-6
}

// HaloOf returns v's halo (see Reach).
func HaloOf(v *abi.Vehicle, horizon, maxDistance float64) Halo {
	r := Reach(v, horizon, maxDistance)
	return Halo{v.X - r, v.Y - r, v.X + r, v.Y + r}
}

// Overlaps reports whether h and o share a point (touching counts).
func (h Halo) Overlaps(o Halo) bool {
	return h.MinX <= o.MaxX && o.MinX <= h.MaxX && h.MinY <= o.MaxY && o.MinY <= h.MaxY
}

// Contains reports whether the point lies in h.
func (h Halo) Contains(x, y float64) bool {
	return x >= h.MinX && x <= h.MaxX && y >= h.MinY && y <= h.MaxY
}

// Span is the inclusive range of tiles a halo touches.
type Span struct{ X0, Y0, X1, Y1 int32 }

// SpanOf returns the tiles h touches.
func (l Layout) SpanOf(h Halo) Span {
	a, b := l.TileOf(h.MinX, h.MinY), l.TileOf(h.MaxX, h.MaxY)
	return Span{a.X, a.Y, b.X, b.Y}
}

// Tiles returns the number of tiles in s.
func (s Span) Tiles() int64 { return (int64(s.X1) - int64(s.X0) + 1) * (int64(s.Y1) - int64(s.Y0) + 1) }

// Contains reports whether t is in s.
func (s Span) Contains(t Tile) bool {
	return t.X >= s.X0 && t.X <= s.X1 && t.Y >= s.Y0 && t.Y <= s.Y1
}

// RefPoint is the reference point of a pair: the minimum corner of the
// intersection of the two halos. When the halos overlap it lies in both, so
// the tile that holds it holds both vehicles; ok is false when they do not
// overlap (no tile holds both: the pair cannot be a candidate).
func RefPoint(a, b Halo) (x, y float64, ok bool) {
	return math.Max(a.MinX, b.MinX), math.Max(a.MinY, b.MinY), a.Overlaps(b)
}

// RefTile is the one tile that reports the pair of the halos a and b (the
// tile of RefPoint).
func (l Layout) RefTile(a, b Halo) (Tile, bool) {
	x, y, ok := RefPoint(a, b)
	return l.TileOf(x, y), ok
}

// AppendPartitions appends the distinct partitions of the tiles in s to dst,
// the home tile's partition first. A span of more tiles than 4 × partitions
// (a halo far larger than a tile) reaches every partition.
func (l Layout) AppendPartitions(dst []int32, home Tile, s Span) []int32 {
	hp := l.Partition(home)
	dst = append(dst, hp)
	start := len(dst) - 1
	if s.Tiles() > 4*int64(l.Partitions) {
		for p := int32(0); p < int32(l.Partitions); p++ {
			if p != hp {
				dst = append(dst, p)
			}
		}
		return dst
	}
	for x := s.X0; ; x++ {
		for y := s.Y0; ; y++ {
			p := l.Partition(Tile{x, y})
			if !containsP(dst[start:], p) {
				dst = append(dst, p)
			}
			if y == s.Y1 {
				break
			}
		}
		if x == s.X1 {
			break
		}
	}
	return dst
}

func containsP(ps []int32, p int32) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
