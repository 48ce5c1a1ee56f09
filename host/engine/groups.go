package engine

import (
	"math"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/grid"
)

// Groups. A vehicle may fly in a named group (Update.Group: a light show, a
// formation, a convoy, a moored fleet). Pairs inside one group are not risks,
// and they must not cost anything either: a 10,000-drone show at 2 m spacing
// has 50 million internal pairs. So a group's members are not in the grid;
// the group is, as one box (the union of its members' swept boxes) in a
// grid of its own. A vehicle's query finds the other vehicles in the main
// grid and the groups whose union box it overlaps, and tests the members of
// those (other than its own group) one by one. A member's query therefore
// costs what a query in a grid without the show costs, and an intruder's
// what one dense cell costs (see RATIONALE.md, "Why are groups one box in a
// grid of their own?").

// vgroup is one group of vehicles.
type vgroup struct {
	name    string
	members []uint32  // slots
	boxes   []abi.Box // each member's grown swept box, as the grid would hold it
	marked  bool      // in gdirty: the union is recomputed after this tick's predictions
}

// noGroup excludes nothing in a query of the group grid.
const noGroup = math.MaxUint32

// groupOf returns slot's group index + 1, or 0.
func (e *Engine) groupOf(slot uint32) uint32 {
	if int(slot) < len(e.group) {
		return e.group[slot]
	}
	return 0
}

// sameGroup reports whether two vehicles fly in one group.
func (e *Engine) sameGroup(a, b uint32) bool {
	g := e.groupOf(a)
	return g != 0 && g == e.groupOf(b)
}

// setGroup moves slot into the group named name (none when empty). The
// caller holds mu for writing. It returns whether the membership changed.
func (e *Engine) setGroup(slot uint32, name []byte) bool {
	old := e.groupOf(slot)
	if old != 0 && e.groups[old-1].name == string(name) {
		return false
	}
	if old == 0 && len(name) == 0 {
		return false
	}
	if old != 0 {
		e.leaveGroup(slot)
	} else {
		e.grid.Delete(slot) // a member's box lives in its group, not the grid
	}
	if len(name) == 0 {
		return true
	}
	if e.group == nil {
		e.group = make([]uint32, cap(e.veh))
		e.gpos = make([]uint32, cap(e.veh))
	}
	gi, ok := e.groupIdx[string(name)]
	if !ok {
		if n := len(e.freeGroups); n > 0 {
			gi = e.freeGroups[n-1]
			e.freeGroups = e.freeGroups[:n-1]
		} else {
			gi = uint32(len(e.groups))
			e.groups = append(e.groups, vgroup{})
			e.ggrid.Grow(len(e.groups))
		}
		e.groups[gi] = vgroup{name: string(name)}
		e.groupIdx[e.groups[gi].name] = gi
	}
	g := &e.groups[gi]
	e.group[slot], e.gpos[slot] = gi+1, uint32(len(g.members))
	g.members = append(g.members, slot)
	g.boxes = append(g.boxes, abi.Box{})
	e.markGroup(gi)
	return true
}

// leaveGroup removes slot from its group (it must have one); an emptied group
// is freed.
func (e *Engine) leaveGroup(slot uint32) {
	gi := e.group[slot] - 1
	g := &e.groups[gi]
	i, last := e.gpos[slot], len(g.members)-1
	moved := g.members[last]
	g.members[i], g.boxes[i] = moved, g.boxes[last]
	e.gpos[moved] = i
	g.members, g.boxes = g.members[:last], g.boxes[:last]
	e.group[slot], e.gpos[slot] = 0, 0
	if len(g.members) == 0 {
		delete(e.groupIdx, g.name)
		e.ggrid.Delete(gi)
		*g = vgroup{}
		e.freeGroups = append(e.freeGroups, gi)
		return
	}
	e.markGroup(gi)
}

// markGroup schedules the group's union box for recompute after this tick's
// predictions.
func (e *Engine) markGroup(gi uint32) {
	if g := &e.groups[gi]; !g.marked {
		g.marked = true
		e.gdirty = append(e.gdirty, gi)
	}
}

// placeGroups recomputes the union boxes of the groups marked this tick (a
// member moved, joined or left) and places them in the group grid.
func (e *Engine) placeGroups() {
	for _, gi := range e.gdirty {
		g := &e.groups[gi]
		g.marked = false
		if len(g.members) == 0 {
			continue
		}
		u := g.boxes[0]
		for _, b := range g.boxes[1:] {
			u.MinX, u.MinY, u.MinZ = min(u.MinX, b.MinX), min(u.MinY, b.MinY), min(u.MinZ, b.MinZ)
			u.MaxX, u.MaxY, u.MaxZ = max(u.MaxX, b.MaxX), max(u.MaxY, b.MaxY), max(u.MaxZ, b.MaxZ)
		}
		e.ggrid.Set(gi, grid.Box(u))
	}
	e.gdirty = e.gdirty[:0]
}

// appendGroupCands appends the members of other groups whose boxes overlap q
// (slot s's box; own is s's group index + 1, or 0).
func (e *Engine) appendGroupCands(wk *worker, q abi.Box, own uint32) {
	if len(e.groups) == len(e.freeGroups) {
		return
	}
	ex := uint32(noGroup)
	if own != 0 {
		ex = own - 1
	}
	wk.gcands = e.ggrid.QueryAppend(wk.gcands[:0], grid.Box(q), ex)
	for _, gi := range wk.gcands {
		g := &e.groups[gi]
		for i := range g.boxes {
			if g.boxes[i].Overlaps(q) {
				wk.cands = append(wk.cands, g.members[i])
			}
		}
	}
}

// memberBox returns a member's grown swept box.
func (e *Engine) memberBox(slot uint32) abi.Box {
	g := &e.groups[e.group[slot]-1]
	return g.boxes[e.gpos[slot]]
}

// GroupOf returns the group the vehicle named id flies in ("" for none).
func (e *Engine) GroupOf(id string) (string, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	slot, ok := e.ids.find(e.names, []byte(id))
	if !ok {
		return "", false
	}
	if g := e.groupOf(slot); g != 0 {
		return e.groups[g-1].name, true
	}
	return "", true
}
