package grid

import "unsafe"

// Stats is a snapshot of the grid's shape and work, for /system/status,
// health and the Prometheus collector alike.
type Stats struct {
	// Boxes is the number of stored ids (Len).
	Boxes int
	// Oversize is the number of boxes too large or too far out for any
	// level; every query tests them one by one.
	Oversize int
	// Cells is the number of non-empty cells over all levels.
	Cells int
	// Entries is the number of (id, cell) entries over all levels.
	Entries int
	// Levels is the number of levels that hold at least one cell.
	Levels int
	// LevelCells is the number of non-empty cells per level; level l has
	// cell edge CellSize·2^l.
	LevelCells [numLevels]int
	// Occupancy is q = Σn²/Σn over the level-0 cells (n = ids in a cell):
	// the mean number of boxes sharing a cell with an entry, counting
	// itself. It is 0 when level 0 is empty. Adjust steers it towards
	// Config.TargetOccupancy.
	Occupancy float64
	// CellSize is the base (level-0) cell edge, metres.
	CellSize float64
	// Resizes counts the cell-size changes made by Adjust since New.
	Resizes uint64
	// Invalid counts the Set calls ignored since New for an out-of-range id
	// or an invalid box.
	Invalid uint64
	// Queries counts QueryAppend calls since the last Adjust.
	Queries uint64
	// PairTests counts the candidate boxes those queries read and tested
	// for overlap (entries that the reference-point rule excludes from a
	// cell are skipped unread); PairTests/Queries is the mean candidates per
	// query.
	PairTests uint64
	// PairHits counts the ids those queries returned.
	PairHits uint64
	// PrevQueries, PrevPairTests and PrevPairHits are the same counts for
	// the interval the last Adjust closed (one tick when the engine adjusts
	// every tick), stable while the next interval runs.
	PrevQueries, PrevPairTests, PrevPairHits uint64
	// Bytes estimates the memory the grid holds: per-id boxes and levels,
	// entry arenas, and map slots (at 16 bytes a slot plus control bytes).
	Bytes int64
}

// Stats returns a snapshot. It may run concurrently with any method but
// Adjust and Grow; run concurrently with Set or Delete, its fields may
// disagree with each other by the updates in flight.
func (g *Grid) Stats() Stats {
	st := Stats{
		Boxes:    g.Len(),
		CellSize: g.size,
		Resizes:  g.resizes,
		Invalid:  g.invalid.Load(),

		PrevQueries:   g.prev.queries,
		PrevPairTests: g.prev.tests,
		PrevPairHits:  g.prev.hits,
	}
	st.Bytes = int64(cap(g.boxes))*int64(unsafe.Sizeof(Box{})) + int64(cap(g.lvl)) +
		int64(len(g.shards))*int64(unsafe.Sizeof(shard{}))
	var n0, n20 int64
	for i := range g.shards {
		s := &g.shards[i]
		s.mu.Lock()
		st.Entries += int(s.entries)
		n0 += s.sumN0
		n20 += s.sumN20
		st.Bytes += int64(cap(s.arena)) * 4
		for _, f := range s.free {
			st.Bytes += int64(cap(f)) * 4
		}
		for l, m := range s.cells {
			st.LevelCells[l] += len(m)
		}
		s.mu.Unlock()
	}
	for _, c := range st.LevelCells {
		st.Cells += c
		if c > 0 {
			st.Levels++
		}
	}
	// A Go map keeps at most 7/8 of its slots full; count 8/7 slots of 17
	// bytes (16-byte slot, 1 control byte) per cell.
	st.Bytes += int64(st.Cells) * 17 * 8 / 7
	if n0 > 0 {
		st.Occupancy = float64(n20) / float64(n0)
	}
	g.overMu.Lock()
	st.Oversize = len(g.over)
	st.Bytes += int64(cap(g.over)) * 4
	g.overMu.Unlock()
	for i := range g.counters {
		c := &g.counters[i]
		st.Queries += c.queries.Load()
		st.PairTests += c.tests.Load()
		st.PairHits += c.hits.Load()
	}
	return st
}
