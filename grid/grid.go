package grid

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

const (
	// levelRatio is the edge ratio between consecutive levels.
	levelRatio = 2
	// numLevels bounds the hierarchy: at the default smallest base edge
	// (10 m) the top level's cells are 10·2^23 ≈ 84,000 km, larger than the
	// Earth. Boxes larger still go to the oversize list.
	numLevels = 24

	lvlOversize = 0xFE // stored in the oversize list
	lvlAbsent   = 0xFF // not stored

	counterStripes = 64
)

// Box is an axis-aligned box in metres. Boxes that touch overlap: the
// overlap test is inclusive on every face.
type Box struct{ MinX, MinY, MinZ, MaxX, MaxY, MaxZ float64 }

// Overlaps reports whether b and o share at least one point (touching counts).
func (b Box) Overlaps(o Box) bool {
	return b.MinX <= o.MaxX && o.MinX <= b.MaxX &&
		b.MinY <= o.MaxY && o.MinY <= b.MaxY &&
		b.MinZ <= o.MaxZ && o.MinZ <= b.MaxZ
}

// Valid reports whether every coordinate of b is finite and each minimum is
// at most its maximum. The grid ignores invalid boxes (see Set, QueryAppend).
func (b Box) Valid() bool {
	// x-x is 0 for finite x and NaN for ±Inf and NaN, so one comparison per
	// coordinate rejects all three.
	return b.MinX-b.MinX == 0 && b.MinY-b.MinY == 0 && b.MinZ-b.MinZ == 0 &&
		b.MaxX-b.MaxX == 0 && b.MaxY-b.MaxY == 0 && b.MaxZ-b.MaxZ == 0 &&
		b.MinX <= b.MaxX && b.MinY <= b.MaxY && b.MinZ <= b.MaxZ
}

func (b *Box) extent() float64 {
	return max(b.MaxX-b.MinX, b.MaxY-b.MinY, b.MaxZ-b.MinZ)
}

// queryCounter is one stripe of the query counters, on its own cache line so
// that parallel queries do not contend.
type queryCounter struct {
	queries, tests, hits atomic.Uint64
	_                    [40]byte
}

// Grid is a sharded, hierarchical, adaptive uniform 3D grid of boxes keyed by
// dense ids. See the package documentation for the phases in which each
// method may run concurrently.
type Grid struct {
	cfg     Config
	size    float64            // base (level-0) cell edge
	sizes   [numLevels]float64 // cell edge per level: size·2^level
	inv     [numLevels]float64 // 1/sizes
	boxes   []Box              // per id: the stored box
	lvl     []uint8            // per id: its level, lvlOversize or lvlAbsent
	shards  []shard
	nshards uint64

	count      atomic.Int64
	levelCells [numLevels]atomic.Int64 // non-empty cells per level

	overMu sync.Mutex
	over   []uint32 // ids of oversize boxes

	counters [counterStripes]queryCounter
	prev     struct{ queries, tests, hits uint64 } // interval closed by the last Adjust
	invalid  atomic.Uint64
	resizes  uint64

	// hold remembers the last rejected resize candidate (see Adjust).
	hold struct {
		active     bool
		size, cand float64
		q          float64
	}
}

// New returns an empty grid. Zero fields of cfg take their defaults; an
// invalid value returns an error that names its key and wraps
// ErrInvalidConfig.
func New(cfg Config) (*Grid, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Grid{cfg: cfg, shards: make([]shard, cfg.Shards), nshards: uint64(cfg.Shards)}
	g.setSize(cfg.InitialSize)
	return g, nil
}

func (g *Grid) setSize(size float64) {
	g.size = size
	e := size
	for l := range g.sizes {
		g.sizes[l] = e
		g.inv[l] = 1 / e
		e *= levelRatio
	}
}

// levelFor returns the finest level whose cell edge is at least b's largest
// extent (so b covers at most 2 cells per axis there) and whose cells for b
// are addressable, or lvlOversize.
func (g *Grid) levelFor(b *Box) uint8 {
	e := b.extent()
	for l := 0; l < numLevels; l++ {
		if e <= g.sizes[l] && addressable(b, g.inv[l]) {
			return uint8(l)
		}
	}
	return lvlOversize
}

// Grow makes ids 0..n-1 valid; it never shrinks, and ids stop at 2^29
// (536,870,912 boxes). Call it only while no other method runs.
func (g *Grid) Grow(n int) {
	n = min(n, maxIDs)
	if n <= len(g.lvl) {
		return
	}
	old := len(g.lvl)
	if n > cap(g.lvl) {
		c := max(n, 2*cap(g.lvl))
		boxes := make([]Box, old, c)
		copy(boxes, g.boxes)
		lvl := make([]uint8, old, c)
		copy(lvl, g.lvl)
		g.boxes, g.lvl = boxes, lvl
	}
	g.boxes = g.boxes[:n]
	g.lvl = g.lvl[:n]
	for i := old; i < n; i++ {
		g.lvl[i] = lvlAbsent
		g.boxes[i] = Box{}
	}
}

// Set stores b as id's box, inserting id or moving it. An id outside Grow's
// range or an invalid box (see Box.Valid) is ignored: the grid keeps what it
// had for id, and Stats().Invalid counts the call.
//
// Set may run concurrently with Set and Delete of other ids; not with
// QueryAppend, Adjust, Grow, or a Set/Delete of the same id. A move that keeps
// the box's level and cells (the usual case from one tick to the next) takes
// no lock and allocates nothing.
func (g *Grid) Set(id uint32, b Box) {
	if int(id) >= len(g.lvl) || !b.Valid() {
		g.invalid.Add(1)
		return
	}
	old := g.lvl[id]
	nl := g.levelFor(&b)
	switch {
	case old == lvlAbsent:
		g.count.Add(1)
	case old == nl && nl == lvlOversize:
		g.boxes[id] = b
		return
	case old == nl:
		inv := g.inv[nl]
		or, nr := rangeOf(&g.boxes[id], inv), rangeOf(&b, inv)
		if or != nr {
			g.moveCells(int(nl), &or, &nr, id)
		}
		g.boxes[id] = b
		return
	default:
		g.removeAll(id, old)
	}
	g.boxes[id] = b
	g.lvl[id] = nl
	g.insertAll(id, nl)
}

// Delete removes id; an absent or out-of-range id is a no-op. Same
// concurrency as Set.
func (g *Grid) Delete(id uint32) {
	if int(id) >= len(g.lvl) || g.lvl[id] == lvlAbsent {
		return
	}
	g.removeAll(id, g.lvl[id])
	g.lvl[id] = lvlAbsent
	g.count.Add(-1)
}

func (g *Grid) insertAll(id uint32, level uint8) {
	if level == lvlOversize {
		g.overMu.Lock()
		g.over = append(g.over, id)
		g.overMu.Unlock()
		return
	}
	l := int(level)
	r := rangeOf(&g.boxes[id], g.inv[l])
	for z := r.z0; z <= r.z1; z++ {
		for y := r.y0; y <= r.y1; y++ {
			for x := r.x0; x <= r.x1; x++ {
				g.addEntry(l, x, y, z, tag(id, &r, x, y, z))
			}
		}
	}
}

// removeAll takes id out of every cell of its stored box.
func (g *Grid) removeAll(id uint32, level uint8) {
	if level == lvlOversize {
		g.overMu.Lock()
		for i, o := range g.over {
			if o == id {
				g.over[i] = g.over[len(g.over)-1]
				g.over = g.over[:len(g.over)-1]
				break
			}
		}
		g.overMu.Unlock()
		return
	}
	l := int(level)
	r := rangeOf(&g.boxes[id], g.inv[l])
	for z := r.z0; z <= r.z1; z++ {
		for y := r.y0; y <= r.y1; y++ {
			for x := r.x0; x <= r.x1; x++ {
				g.removeEntry(l, x, y, z, id)
			}
		}
	}
}

// moveCells updates only the cells that differ between the two ranges.
func (g *Grid) moveCells(l int, or, nr *cellRange, id uint32) {
	for z := or.z0; z <= or.z1; z++ {
		for y := or.y0; y <= or.y1; y++ {
			for x := or.x0; x <= or.x1; x++ {
				if !nr.contains(x, y, z) {
					g.removeEntry(l, x, y, z, id)
				}
			}
		}
	}
	for z := nr.z0; z <= nr.z1; z++ {
		for y := nr.y0; y <= nr.y1; y++ {
			for x := nr.x0; x <= nr.x1; x++ {
				e := tag(id, nr, x, y, z)
				switch {
				case !or.contains(x, y, z):
					g.addEntry(l, x, y, z, e)
				case e != tag(id, or, x, y, z):
					g.retagEntry(l, x, y, z, id, e)
				}
			}
		}
	}
}

// QueryAppend appends to dst every stored id whose box overlaps q (touching
// counts), each exactly once, except exclude, and returns the extended
// slice. An invalid q (see Box.Valid) returns dst unchanged. With enough
// capacity in dst it allocates nothing.
//
// QueryAppend may run concurrently with other QueryAppend, Stats, CellSize
// and Len calls, but not with Set, Delete, Grow or Adjust.
//
// Each level holding cells is visited. Within a level a stored box is
// reported only from the cell that contains the minimum corner of its
// intersection with q (the reference-point rule), so a box that covers
// several of the visited cells is reported once without a per-query set.
func (g *Grid) QueryAppend(dst []uint32, q Box, exclude uint32) []uint32 {
	if !q.Valid() {
		return dst
	}
	start := len(dst)
	tests := 0
	for l := 0; l < numLevels; l++ {
		nc := g.levelCells[l].Load()
		if nc == 0 {
			continue
		}
		r := rangeOf(&q, g.inv[l])
		span := float64(r.x1-r.x0+1) * float64(r.y1-r.y0+1) * float64(r.z1-r.z0+1)
		if span > float64(nc) {
			// The query covers more cells than the level holds: walking the
			// level's maps is cheaper than probing every covered cell, and
			// bounds the work of a huge query box.
			for i := range g.shards {
				s := &g.shards[i]
				for k, c := range s.cells[l] {
					x, y, z := keyCell(k)
					if r.contains(x, y, z) {
						var n int
						dst, n = g.scanCell(dst, s.arena[c.off:c.off+c.n()], &q, x, y, z, &r, exclude)
						tests += n
					}
				}
			}
			continue
		}
		for z := r.z0; z <= r.z1; z++ {
			for y := r.y0; y <= r.y1; y++ {
				for x := r.x0; x <= r.x1; x++ {
					s := g.shardOf(l, x, y, z)
					c, ok := s.cells[l][cellKey(x, y, z)]
					if !ok {
						continue
					}
					var n int
					dst, n = g.scanCell(dst, s.arena[c.off:c.off+c.n()], &q, x, y, z, &r, exclude)
					tests += n
				}
			}
		}
	}
	for _, id := range g.over {
		tests++
		if id != exclude && g.boxes[id].Overlaps(q) {
			dst = append(dst, id)
		}
	}
	qc := &g.counters[exclude%counterStripes]
	qc.queries.Add(1)
	qc.tests.Add(uint64(tests))
	qc.hits.Add(uint64(len(dst) - start))
	return dst
}

// scanCell appends the ids of one cell that overlap q and whose reference
// point (the minimum corner of the intersection) lies in this cell. The
// reference cell on an axis is max(cell(b.Min), cell(q.Min)) because floor is
// monotonic; it equals x exactly when x is the query's first cell on that
// axis or the box's first cell, which the entry's tag bits record. So the
// entries whose bits fail are skipped before their box is read, and the
// tests count the boxes read.
func (g *Grid) scanCell(dst, ids []uint32, q *Box, x, y, z int32, r *cellRange, exclude uint32) ([]uint32, int) {
	// need holds the bits an entry must carry to be reported from here.
	var need uint32
	if x != r.x0 {
		need |= firstX
	}
	if y != r.y0 {
		need |= firstY
	}
	if z != r.z0 {
		need |= firstZ
	}
	tests := 0
	for _, e := range ids {
		id := e & idMask
		if e&need != need || id == exclude {
			continue
		}
		tests++
		b := &g.boxes[id]
		if b.MinX <= q.MaxX && q.MinX <= b.MaxX &&
			b.MinY <= q.MaxY && q.MinY <= b.MaxY &&
			b.MinZ <= q.MaxZ && q.MinZ <= b.MaxZ {
			dst = append(dst, id)
		}
	}
	return dst, tests
}

// CellSize returns the current base (level-0) cell edge in metres; level l
// has edge CellSize()·2^l.
func (g *Grid) CellSize() float64 { return g.size }

// Len returns the number of stored ids.
func (g *Grid) Len() int { return int(g.count.Load()) }

// occupancy returns Σn²/Σn over the level-0 cells, 0 when there are none.
func (g *Grid) occupancy() float64 {
	var n, n2 int64
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		n += s.sumN0
		n2 += s.sumN20
		s.mu.Unlock()
	}
	if n == 0 {
		return 0
	}
	return float64(n2) / float64(n)
}

// occupancyAt computes the occupancy that base edge size would give, from the
// stored boxes, without changing the grid.
func (g *Grid) occupancyAt(size float64) float64 {
	inv := 1 / size
	counts := make(map[uint64]int32)
	for id, l := range g.lvl {
		if l == lvlAbsent {
			continue
		}
		b := &g.boxes[id]
		if b.extent() > size || !addressable(b, inv) {
			continue
		}
		r := rangeOf(b, inv)
		for z := r.z0; z <= r.z1; z++ {
			for y := r.y0; y <= r.y1; y++ {
				for x := r.x0; x <= r.x1; x++ {
					counts[cellKey(x, y, z)]++
				}
			}
		}
	}
	var n, n2 int64
	for _, c := range counts {
		n += int64(c)
		n2 += int64(c) * int64(c)
	}
	if n == 0 {
		return 0
	}
	return float64(n2) / float64(n)
}

// Adjust applies the resize rule of the package documentation and reports
// whether the base cell size changed. A change rebuilds every cell from the
// stored boxes before Adjust returns; nothing is lost. It also closes the
// interval of Stats' query counters (kept as Stats.Prev*) and starts a new one. Call it only while no other method runs.
func (g *Grid) Adjust() bool {
	g.prev.queries, g.prev.tests, g.prev.hits = 0, 0, 0
	for i := range g.counters {
		c := &g.counters[i]
		g.prev.queries += c.queries.Load()
		g.prev.tests += c.tests.Load()
		g.prev.hits += c.hits.Load()
		c.queries.Store(0)
		c.tests.Store(0)
		c.hits.Store(0)
	}
	t, th, f := g.cfg.TargetOccupancy, g.cfg.AdjustmentThreshold, g.cfg.AdjustmentFactor
	lo, hi := t*th, t/th
	g.compact(func(s *shard) bool { return s.freeSlots > len(s.arena)/2 })
	q := g.occupancy()
	var cand float64
	switch {
	case g.Len() == 0:
		return false
	case q > hi && g.size > g.cfg.MinSize:
		cand = max(g.size*f, g.cfg.MinSize)
	case q < lo && g.size < g.cfg.MaxSize:
		cand = min(g.size/f, g.cfg.MaxSize)
	default:
		g.hold.active = false
		return false
	}
	if h := &g.hold; h.active && h.size == g.size && h.cand == cand && q >= h.q*th && q <= h.q/th {
		return false
	}
	qc := g.occupancyAt(cand)
	growing := cand > g.size
	crosses := (growing && qc > t) || (!growing && qc < t)
	if crosses && !(distance(qc, t) < distance(q, t)+math.Log(th)) {
		g.hold.active, g.hold.size, g.hold.cand, g.hold.q = true, g.size, cand, q
		return false
	}
	g.hold.active = false
	g.rebuild(cand)
	g.resizes++
	return true
}

// distance is |ln(q/t)|, +Inf for q = 0.
func distance(q, t float64) float64 { return math.Abs(math.Log(q / t)) }

// rebuild lays every stored box out again at base edge size.
func (g *Grid) rebuild(size float64) {
	g.setSize(size)
	for i := range g.shards {
		g.shards[i].reset()
	}
	for l := range g.levelCells {
		g.levelCells[l].Store(0)
	}
	g.over = g.over[:0]
	// Inserting box by box would have every worker take every shard's lock
	// and miss the cache on every map. Instead the entries are first
	// bucketed by shard (workers over id ranges, each writing its own
	// segment of each shard's bucket), then each shard is filled and
	// compacted by one worker, without locks. Adjust waits for every worker
	// before it returns.
	n, ns := len(g.lvl), len(g.shards)
	workers := min(runtime.GOMAXPROCS(0), n/8192+1)
	counts := make([]int, workers*ns) // entries of worker w for shard s at w*ns+s
	eachCell := func(id int, f func(l int, r *cellRange, x, y, z int32)) {
		l := int(g.lvl[id])
		r := rangeOf(&g.boxes[id], g.inv[l])
		for z := r.z0; z <= r.z1; z++ {
			for y := r.y0; y <= r.y1; y++ {
				for x := r.x0; x <= r.x1; x++ {
					f(l, &r, x, y, z)
				}
			}
		}
	}
	parallel(workers, func(w int) {
		cw := counts[w*ns : (w+1)*ns]
		for id := n * w / workers; id < n*(w+1)/workers; id++ {
			if g.lvl[id] == lvlAbsent {
				continue
			}
			l := g.levelFor(&g.boxes[id])
			g.lvl[id] = l
			if l == lvlOversize {
				g.overMu.Lock()
				g.over = append(g.over, uint32(id))
				g.overMu.Unlock()
				continue
			}
			eachCell(id, func(l int, _ *cellRange, x, y, z int32) { cw[g.shardIndex(l, x, y, z)]++ })
		}
	})
	starts := make([]int, ns+1) // shard s's bucket is pending[starts[s]:starts[s+1]]
	offsets := make([]int, workers*ns)
	total := 0
	for s := range ns {
		starts[s] = total
		for w := range workers {
			offsets[w*ns+s] = total
			total += counts[w*ns+s]
		}
	}
	starts[ns] = total
	type entry struct {
		key   uint64
		entry uint32 // tagged id
		level uint8
	}
	pending := make([]entry, total)
	parallel(workers, func(w int) {
		ow := offsets[w*ns : (w+1)*ns]
		for id := n * w / workers; id < n*(w+1)/workers; id++ {
			if l := g.lvl[id]; l == lvlAbsent || l == lvlOversize {
				continue
			}
			eachCell(id, func(l int, r *cellRange, x, y, z int32) {
				s := g.shardIndex(l, x, y, z)
				pending[ow[s]] = entry{cellKey(x, y, z), tag(uint32(id), r, x, y, z), uint8(l)}
				ow[s]++
			})
		}
	})
	var next atomic.Int64
	parallel(min(runtime.GOMAXPROCS(0), ns), func(int) {
		var created [numLevels]int64
		for i := int(next.Add(1) - 1); i < ns; i = int(next.Add(1) - 1) {
			s := &g.shards[i]
			for _, e := range pending[starts[i]:starts[i+1]] {
				if s.add(int(e.level), e.key, e.entry) {
					created[e.level]++
				}
			}
			s.compact()
		}
		for l, c := range created {
			g.levelCells[l].Add(c)
		}
	})
}

// parallel runs f(0) … f(workers-1) on their own goroutines and waits.
func parallel(workers int, f func(w int)) {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { f(w) })
	}
	wg.Wait()
}

// compact compacts the shards that need it, in parallel.
func (g *Grid) compact(need func(*shard) bool) {
	var next atomic.Int64
	parallel(min(runtime.GOMAXPROCS(0), len(g.shards)), func(int) {
		for i := next.Add(1) - 1; i < int64(len(g.shards)); i = next.Add(1) - 1 {
			if s := &g.shards[i]; need(s) {
				s.compact()
			}
		}
	})
}
