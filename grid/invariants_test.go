package grid

import (
	"testing"
)

// checkInvariants verifies the grid's internal bookkeeping against its
// stored boxes: every stored box has exactly one correctly tagged entry in
// each of its cells and none elsewhere, and the incremental counters
// (entries, level-0 Σn and Σn², cells per level, Len) match a recount.
func checkInvariants(t testing.TB, g *Grid) {
	t.Helper()
	type cellID struct {
		level int
		key   uint64
	}
	want := map[cellID]map[uint32]uint32{} // cell -> id -> entry
	present, over := 0, 0
	for id, l := range g.lvl {
		switch l {
		case lvlAbsent:
			continue
		case lvlOversize:
			over++
		default:
			if lf := g.levelFor(&g.boxes[id]); lf != l {
				t.Fatalf("id %d stored at level %d, belongs at %d", id, l, lf)
			}
			r := rangeOf(&g.boxes[id], g.inv[l])
			for z := r.z0; z <= r.z1; z++ {
				for y := r.y0; y <= r.y1; y++ {
					for x := r.x0; x <= r.x1; x++ {
						c := cellID{int(l), cellKey(x, y, z)}
						if want[c] == nil {
							want[c] = map[uint32]uint32{}
						}
						want[c][uint32(id)] = tag(uint32(id), &r, x, y, z)
					}
				}
			}
		}
		present++
	}
	if present != g.Len() {
		t.Fatalf("Len %d, %d ids present", g.Len(), present)
	}
	if over != len(g.over) {
		t.Fatalf("oversize list holds %d ids, %d ids are oversize", len(g.over), over)
	}
	var levelCells [numLevels]int
	cells := 0
	for i := range g.shards {
		s := &g.shards[i]
		var entries, n0, n20 int64
		for l, m := range s.cells {
			levelCells[l] += len(m)
			for k, c := range m {
				x, y, z := keyCell(k)
				if g.shardOf(l, x, y, z) != s {
					t.Fatalf("cell %d/%x in the wrong shard", l, k)
				}
				n := c.n()
				if n == 0 || n > 1<<c.class() || int(c.off)+1<<c.class() > len(s.arena) {
					t.Fatalf("cell %d/%x: n %d class %d off %d arena %d", l, k, n, c.class(), c.off, len(s.arena))
				}
				w := want[cellID{l, k}]
				if len(w) != int(n) {
					t.Fatalf("cell %d/%x holds %d entries, want %d", l, k, n, len(w))
				}
				for _, e := range s.arena[c.off : c.off+n] {
					if w[e&idMask] != e {
						t.Fatalf("cell %d/%x: entry %#x, want %#x", l, k, e, w[e&idMask])
					}
				}
				entries += int64(n)
				if l == 0 {
					n0 += int64(n)
					n20 += int64(n) * int64(n)
				}
				cells++
			}
		}
		if entries != s.entries || n0 != s.sumN0 || n20 != s.sumN20 {
			t.Fatalf("shard %d counters: entries %d/%d Σn %d/%d Σn² %d/%d", i, s.entries, entries, s.sumN0, n0, s.sumN20, n20)
		}
	}
	if cells != len(want) {
		t.Fatalf("%d cells, want %d", cells, len(want))
	}
	for l, c := range levelCells {
		if int64(c) != g.levelCells[l].Load() {
			t.Fatalf("level %d: %d cells, counter says %d", l, c, g.levelCells[l].Load())
		}
	}
}
