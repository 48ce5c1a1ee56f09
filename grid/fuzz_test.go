package grid

import (
	"math"
	"testing"
)

// fuzzOps decodes bytes into grid operations.
type fuzzOps struct{ data []byte }

func (f *fuzzOps) byte() byte {
	if len(f.data) == 0 {
		return 0
	}
	b := f.data[0]
	f.data = f.data[1:]
	return b
}

// coord lands on multiples of 4 m most of the time, so boxes touch each other
// and the faces of power-of-two cells; sometimes it is fractional or huge.
func (f *fuzzOps) coord() float64 {
	b := f.byte()
	switch b {
	case 0xFF:
		return 1e300
	case 0xFE:
		return -1e300
	case 0xFD:
		return math.NaN()
	case 0xFC:
		return 1e11
	}
	v := float64(int8(b&0x7F<<1)) * 4 // -512 .. 508
	if b&0x80 != 0 && b&1 != 0 {
		v += 0.3
	}
	return v
}

func (f *fuzzOps) extent() float64 {
	b := f.byte()
	switch {
	case b == 0xFF:
		return 1e300
	case b >= 0xF0:
		return -1 // inverted
	case b >= 0xC0:
		return float64(b-0xC0) * 64 // up to ~3 km: upper levels
	}
	return float64(b&0x3F) * 2
}

func (f *fuzzOps) box() Box {
	x, y, z := f.coord(), f.coord(), f.coord()
	return Box{x, y, z, x + f.extent(), y + f.extent(), z + f.extent()}
}

// FuzzGridOracle runs random sequences of Set, Delete, QueryAppend, Adjust
// and forced resizes, checking every query and, at the end, every stored box
// against the brute-force oracle.
func FuzzGridOracle(f *testing.F) {
	f.Add([]byte{0, 1, 10, 10, 10, 20, 20, 20, 3, 10, 10, 10, 5, 5, 5, 9})
	f.Add([]byte{0, 1, 0, 0, 0, 4, 4, 4, 0, 2, 2, 0, 0, 4, 4, 4, 5, 3, 3, 0, 0, 0, 1, 1, 1, 7})
	f.Add([]byte{1, 3, 0xFF, 0, 0, 0xFF, 1, 1, 0, 4, 0xFE, 5, 5, 0xFF, 0xFF, 0xFF, 3, 0, 0, 0, 0, 0, 0, 40})
	f.Add([]byte{0, 5, 0xC8, 0x10, 0, 0xD0, 0xD0, 2, 4, 0, 6, 0x81, 0x83, 0, 1, 1, 1, 5, 0, 3, 2, 2, 2, 3, 3, 3, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		const n = 32
		g, err := New(Config{InitialSize: 8, MinSize: 1, MaxSize: 512, Shards: 3, TargetOccupancy: 2})
		if err != nil {
			t.Fatal(err)
		}
		g.Grow(n)
		o := newOracle(n)
		ops := &fuzzOps{data: data}
		var buf []uint32
		for steps := 0; len(ops.data) > 0 && steps < 500; steps++ {
			switch ops.byte() % 6 {
			case 0, 1:
				id := uint32(ops.byte() % (n + 4)) // a few ids beyond Grow
				b := ops.box()
				g.Set(id, b)
				o.set(id, b)
			case 2:
				id := uint32(ops.byte() % n)
				g.Delete(id)
				o.del(id)
			case 3:
				exclude := uint32(ops.byte() % (n + 8))
				buf = checkQuery(t, g, o, ops.box(), exclude, buf)
			case 4:
				// A forced size may lie outside the bounds; from inside
				// them, Adjust must stay inside.
				before := g.CellSize()
				changed := g.Adjust()
				if s := g.CellSize(); changed && before >= 1 && before <= 512 && (s < 1 || s > 512) {
					t.Fatalf("Adjust moved the cell size from %g to %g", before, s)
				}
			case 5:
				g.rebuild(math.Ldexp(1, int(ops.byte()%14)-2)) // 0.25 m .. 2 km
			}
		}
		if g.Len() != o.len() {
			t.Fatalf("Len %d, oracle %d", g.Len(), o.len())
		}
		checkInvariants(t, g)
		for id, ok := range o.ok {
			if ok {
				buf = checkQuery(t, g, o, o.boxes[id], uint32(id), buf)
			}
		}
	})
}
