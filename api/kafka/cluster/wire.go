package cluster

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Record headers of the routed vehicle-locations.
const (
	// HeaderKind says what a routed message holds: KindStates or KindTick.
	HeaderKind = "cdp-kind"
	// KindStates: a batch of routed states and leaves (see appendState).
	KindStates = "states"
	// KindTick: a tick marker; everything before it in the partition
	// belongs to that tick or an earlier one.
	KindTick = "tick"
)

// Entry ops.
const (
	opUpdate byte = 1
	opLeave  byte = 2
)

const wireVersion = 1

// vehicleWire is the encoded size of an abi.Vehicle (its ABI layout).
const vehicleWire = 128

// entry is one decoded state or leave; ID aliases the message.
type entry struct {
	op byte
	id []byte
	v  abi.Vehicle
}

// appendState appends one entry to a states message: op, id length (u16),
// id, and for an update the vehicle's 128 ABI bytes (little-endian). A states
// message starts with the wire version byte. States travel as the engine's
// normalised record so that every node computes the same halo, bit for bit,
// as the router did, and decoding is a copy.
func appendState(b []byte, op byte, id []byte, v *abi.Vehicle) []byte {
	if len(b) == 0 {
		b = append(b, wireVersion)
	}
	b = append(b, op)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(id)))
	b = append(b, id...)
	if op != opUpdate {
		return b
	}
	for _, f := range [...]float64{v.X, v.Y, v.Z, v.VX, v.VY, v.VZ, v.AX, v.AY, v.AZ, v.Alt, v.VRate, v.T} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	for _, f := range [...]float32{v.Radius, v.HSep, v.VSep, v.Sigma} {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	b = binary.LittleEndian.AppendUint32(b, v.Class)
	b = binary.LittleEndian.AppendUint32(b, v.Flags)
	return binary.LittleEndian.AppendUint64(b, v.Key)
}

// decodeStates appends the entries of a states message to dst.
func decodeStates(b []byte, dst []entry) ([]entry, error) {
	if len(b) == 0 || b[0] != wireVersion {
		return dst, fmt.Errorf("%w: states message of wire version %v", ErrWire, first(b))
	}
	b = b[1:]
	for len(b) > 0 {
		if len(b) < 3 {
			return dst, fmt.Errorf("%w: truncated entry", ErrWire)
		}
		op, n := b[0], int(binary.LittleEndian.Uint16(b[1:]))
		b = b[3:]
		if len(b) < n {
			return dst, fmt.Errorf("%w: truncated id", ErrWire)
		}
		e := entry{op: op, id: b[:n]}
		b = b[n:]
		switch op {
		case opLeave:
		case opUpdate:
			if len(b) < vehicleWire {
				return dst, fmt.Errorf("%w: truncated state", ErrWire)
			}
			f := func(i int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])) }
			g := func(off int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b[off:])) }
			v := &e.v
			v.X, v.Y, v.Z, v.VX, v.VY, v.VZ = f(0), f(1), f(2), f(3), f(4), f(5)
			v.AX, v.AY, v.AZ, v.Alt, v.VRate, v.T = f(6), f(7), f(8), f(9), f(10), f(11)
			v.Radius, v.HSep, v.VSep, v.Sigma = g(96), g(100), g(104), g(108)
			v.Class = binary.LittleEndian.Uint32(b[112:])
			v.Flags = binary.LittleEndian.Uint32(b[116:])
			v.Key = binary.LittleEndian.Uint64(b[120:])
			b = b[vehicleWire:]
		default:
			return dst, fmt.Errorf("%w: unknown op %d", ErrWire, op)
		}
		dst = append(dst, e)
	}
	return dst, nil
}

func first(b []byte) any {
	if len(b) == 0 {
		return "none (empty)"
	}
	return b[0]
}

// marker is a tick marker: the ingest's tick sequence number and the
// cluster's data clock (the newest state time routed so far).
type marker struct {
	seq   uint64
	clock float64
}

func appendMarker(b []byte, m marker) []byte {
	b = append(b, wireVersion)
	b = binary.LittleEndian.AppendUint64(b, m.seq)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(m.clock))
}

func decodeMarker(b []byte) (marker, error) {
	if len(b) != 17 || b[0] != wireVersion {
		return marker{}, fmt.Errorf("%w: tick marker of %d bytes, version %v", ErrWire, len(b), first(b))
	}
	return marker{seq: binary.LittleEndian.Uint64(b[1:]), clock: math.Float64frombits(binary.LittleEndian.Uint64(b[9:]))}, nil
}
