package grid

// Box returns the box stored under id and whether there is one. It is safe
// concurrently with queries, not with Set, Delete, Grow or Adjust.
func (g *Grid) Box(id uint32) (Box, bool) {
	if int(id) >= len(g.lvl) || g.lvl[id] == lvlAbsent {
		return Box{}, false
	}
	return g.boxes[id], true
}
