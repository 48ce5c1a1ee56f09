package grid

import (
	"math"
	"math/bits"
	"sync"
)

// Cell addressing. A cell index on one axis is floor(coordinate / cell edge),
// kept in [-coordLim, coordLim); 21 bits per axis pack a cell into a uint64
// map key. A box whose cells fall outside that range at every level that fits
// it is stored in the oversize list instead (see levelFor), so the clamping in
// cellIndex never changes the cells of a stored box.
const (
	coordBits = 21
	coordLim  = 1 << (coordBits - 1)
	coordMask = 1<<coordBits - 1

	// blockShift groups 4x4x4 cells of one level into a block; every cell of
	// a block lives in the same shard, so a box's few cells usually share one.
	blockShift = 2

	// Chunk capacity classes: a cell's entries live in a chunk of 1<<class
	// ids in its shard's arena. A cell holds fewer than 2^27 ids (134M
	// boxes sharing one cell, far beyond any traffic that fits in memory).
	minClass   = 1
	numClass   = 28
	classShift = 27
	countMask  = 1<<classShift - 1
)

// cellRef is a non-empty cell: its entries are arena[off : off+n], in a chunk
// of capacity 1<<class. 8 bytes, so a map slot is 16 bytes.
type cellRef struct {
	off  uint32
	meta uint32 // n | class<<classShift
}

func (c cellRef) n() uint32     { return c.meta & countMask }
func (c cellRef) class() uint32 { return c.meta >> classShift }

// shard owns the cells whose block hashes to it, under one mutex.
type shard struct {
	mu    sync.Mutex
	cells [numLevels]map[uint64]cellRef
	// arena holds the entries (ids) of every cell of the shard in chunks.
	// Chunks freed when a cell grows, shrinks or empties go to free[class]
	// and are reused, so a grid in steady state allocates nothing.
	arena     []uint32
	free      [numClass][]uint32
	freeSlots int // ids' worth of chunks on the free lists
	// entries counts (id, cell) entries; sumN0 and sumN20 are Σn and Σn² over
	// the shard's level-0 cells, kept incrementally for the occupancy.
	entries       int64
	sumN0, sumN20 int64
	_             [64]byte // keep neighbouring shards' hot words apart
}

// alloc returns the offset of a free chunk of 1<<class ids.
func (s *shard) alloc(class uint32) uint32 {
	if f := s.free[class]; len(f) > 0 {
		off := f[len(f)-1]
		s.free[class] = f[:len(f)-1]
		s.freeSlots -= 1 << class
		return off
	}
	off := len(s.arena)
	n := 1 << class
	if cap(s.arena)-off < n {
		// Grow by a quarter like append does for large slices: the arena is
		// most of the grid's memory, and growth happens only while the
		// traffic grows.
		grown := make([]uint32, off, cap(s.arena)+cap(s.arena)/4+max(n, 64))
		copy(grown, s.arena)
		s.arena = grown
	}
	s.arena = s.arena[:off+n]
	return uint32(off)
}

// rechunk moves c's entries to a chunk of the given class and frees the old.
func (s *shard) rechunk(c cellRef, class uint32) cellRef {
	off := s.alloc(class)
	n := c.n()
	copy(s.arena[off:off+n], s.arena[c.off:c.off+n])
	s.release(c)
	return cellRef{off: off, meta: n | class<<classShift}
}

// release puts c's chunk on its class's free list.
func (s *shard) release(c cellRef) {
	s.free[c.class()] = append(s.free[c.class()], c.off)
	s.freeSlots += 1 << c.class()
}

// classFor returns the smallest chunk class that holds n ids.
func classFor(n uint32) uint32 {
	return max(minClass, uint32(bits.Len32(n-1)))
}

// compact rewrites the arena with one right-sized chunk per cell and no free
// chunks. Building a grid leaves a free chunk behind each time a cell grows
// (2, 4, 8, ... ids), about as much as the live entries; compacting after a
// rebuild, and in Adjust when free chunks exceed the live ones, gives it back.
// Headroom of an eighth lets new cells start without growing the arena.
func (s *shard) compact() {
	total := 0
	for _, m := range s.cells {
		for _, c := range m {
			total += 1 << classFor(c.n())
		}
	}
	arena := make([]uint32, 0, total+total/8)
	for _, m := range s.cells {
		for k, c := range m {
			n, class := c.n(), classFor(c.n())
			off := len(arena)
			arena = append(arena, s.arena[c.off:c.off+n]...)
			arena = arena[:off+1<<class]
			m[k] = cellRef{off: uint32(off), meta: n | class<<classShift}
		}
	}
	s.arena = arena
	s.free = [numClass][]uint32{}
	s.freeSlots = 0
}

// reset empties the shard and drops its storage. A rebuild moves cells
// between levels, so maps kept from the old layout would hold slots for cells
// that no longer exist (Go maps never shrink); a rebuild is rare enough to
// allocate afresh.
func (s *shard) reset() {
	s.cells = [numLevels]map[uint64]cellRef{}
	s.arena = nil
	s.free = [numClass][]uint32{}
	s.freeSlots = 0
	s.entries, s.sumN0, s.sumN20 = 0, 0, 0
}

// cellRange is the inclusive range of cells a box covers at one level.
type cellRange struct{ x0, y0, z0, x1, y1, z1 int32 }

func (r *cellRange) contains(x, y, z int32) bool {
	return x >= r.x0 && x <= r.x1 && y >= r.y0 && y <= r.y1 && z >= r.z0 && z <= r.z1
}

// cellIndex is floor(v) clamped to the addressable range. Callers pass
// coordinate*inverse edge; multiplication by a positive constant and floor are
// both monotonic, which is all exactness needs (see QueryAppend).
func cellIndex(v float64) int32 {
	f := math.Floor(v)
	if f < -coordLim {
		return -coordLim
	}
	if f > coordLim-1 {
		return coordLim - 1
	}
	return int32(f)
}

func rangeOf(b *Box, inv float64) cellRange {
	return cellRange{
		cellIndex(b.MinX * inv), cellIndex(b.MinY * inv), cellIndex(b.MinZ * inv),
		cellIndex(b.MaxX * inv), cellIndex(b.MaxY * inv), cellIndex(b.MaxZ * inv),
	}
}

// addressable reports whether every cell of b at edge 1/inv is in range.
func addressable(b *Box, inv float64) bool {
	const lo, hi = -coordLim, coordLim
	return b.MinX*inv >= lo && b.MinY*inv >= lo && b.MinZ*inv >= lo &&
		b.MaxX*inv < hi && b.MaxY*inv < hi && b.MaxZ*inv < hi
}

func cellKey(x, y, z int32) uint64 {
	return uint64(uint32(x+coordLim)) | uint64(uint32(y+coordLim))<<coordBits | uint64(uint32(z+coordLim))<<(2*coordBits)
}

func keyCell(k uint64) (x, y, z int32) {
	return int32(k&coordMask) - coordLim, int32(k>>coordBits&coordMask) - coordLim, int32(k>>(2*coordBits)&coordMask) - coordLim
}

// shardOf maps a cell to its shard through its block, mixed with the level.
func (g *Grid) shardOf(level int, x, y, z int32) *shard {
	return &g.shards[g.shardIndex(level, x, y, z)]
}

func (g *Grid) shardIndex(level int, x, y, z int32) int {
	bx := uint64(uint32(x+coordLim) >> blockShift)
	by := uint64(uint32(y+coordLim) >> blockShift)
	bz := uint64(uint32(z+coordLim) >> blockShift)
	h := (bx | by<<coordBits | bz<<(2*coordBits)) ^ uint64(level)<<63 ^ uint64(level)
	h *= 0x9E3779B97F4A7C15
	h ^= h >> 29
	h *= 0xBF58476D1CE4E5B9
	return int((h >> 32 * g.nshards) >> 32)
}

// An entry is an id (below 2^29) tagged with three bits saying whether the
// cell is the first of the box's cells on x, y and z. The query's
// reference-point check needs only those bits, so a box that cannot be
// reported from a cell is skipped without loading it (a cache miss at scale).
// The bits change only when the box's cell range changes, never on the
// lock-free move within the same cells.
const (
	idBits  = 29
	idMask  = 1<<idBits - 1
	firstX  = 1 << idBits
	firstY  = 2 << idBits
	firstZ  = 4 << idBits
	maxIDs  = idMask + 1
	tagMask = firstX | firstY | firstZ
)

// tag returns id's entry for cell (x, y, z) of range r.
func tag(id uint32, r *cellRange, x, y, z int32) uint32 {
	e := id
	if x == r.x0 {
		e |= firstX
	}
	if y == r.y0 {
		e |= firstY
	}
	if z == r.z0 {
		e |= firstZ
	}
	return e
}

// addEntry appends an entry to a cell, creating the cell when needed.
func (g *Grid) addEntry(level int, x, y, z int32, id uint32) {
	s := g.shardOf(level, x, y, z)
	k := cellKey(x, y, z)
	s.mu.Lock()
	if s.add(level, k, id) {
		g.levelCells[level].Add(1)
	}
	s.mu.Unlock()
}

// add appends id to cell k of a level and reports whether it created the
// cell. The caller holds s.mu or owns the shard.
func (s *shard) add(level int, k uint64, id uint32) (created bool) {
	m := s.cells[level]
	if m == nil {
		m = make(map[uint64]cellRef)
		s.cells[level] = m
	}
	c, ok := m[k]
	if !ok {
		c = cellRef{off: s.alloc(minClass), meta: minClass << classShift}
	}
	n := c.n()
	if n == 1<<c.class() {
		c = s.rechunk(c, c.class()+1)
	}
	s.arena[c.off+n] = id
	c.meta++
	m[k] = c
	s.entries++
	if level == 0 {
		s.sumN0++
		s.sumN20 += 2*int64(n) + 1
	}
	return !ok
}

// retagEntry replaces id's entry in a cell by e (same id, new tag bits).
func (g *Grid) retagEntry(level int, x, y, z int32, id, e uint32) {
	s := g.shardOf(level, x, y, z)
	k := cellKey(x, y, z)
	s.mu.Lock()
	if c, ok := s.cells[level][k]; ok {
		for i, v := range s.arena[c.off : c.off+c.n()] {
			if v&idMask == id {
				s.arena[c.off+uint32(i)] = e
				break
			}
		}
	}
	s.mu.Unlock()
}

// removeEntry takes id out of a cell; an emptied cell leaves the map and its
// chunk goes back to the free list.
func (g *Grid) removeEntry(level int, x, y, z int32, id uint32) {
	s := g.shardOf(level, x, y, z)
	k := cellKey(x, y, z)
	s.mu.Lock()
	c, ok := s.cells[level][k]
	if !ok {
		s.mu.Unlock()
		return
	}
	n := c.n()
	ids := s.arena[c.off : c.off+n]
	i := 0
	for i < len(ids) && ids[i]&idMask != id {
		i++
	}
	if i == len(ids) {
		s.mu.Unlock()
		return
	}
	ids[i] = ids[n-1]
	n--
	c.meta--
	s.entries--
	if level == 0 {
		s.sumN0--
		s.sumN20 -= 2*int64(n) + 1
	}
	switch {
	case n == 0:
		s.release(c)
		delete(s.cells[level], k)
		g.levelCells[level].Add(-1)
	case c.class() > minClass && n <= 1<<c.class()/4:
		// Shrink only at a quarter full, so a cell that oscillates around a
		// power of two does not move its chunk on every update.
		s.cells[level][k] = s.rechunk(c, c.class()-1)
	default:
		s.cells[level][k] = c
	}
	s.mu.Unlock()
}
