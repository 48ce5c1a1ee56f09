// Package grid is cdp's broadphase: a sharded, hierarchical, adaptive uniform
// 3D grid of axis-aligned boxes (the vehicles' swept boxes) keyed by dense
// ids. A query returns exactly the stored ids whose boxes overlap the query
// box, touching included, each once; the tests hold it to a brute-force
// all-pairs oracle.
//
// # Layout
//
// Level l has cubic cells of edge s·2^l, where s is the base cell size
// (CellSize). A box goes to the finest level whose cell edge is at least its
// largest extent, so it covers at most 2 cells per axis (8 in all) whatever
// its size, in cells less than twice its extent: a drone's 500 m box and an
// aircraft's 7.5 km swept box each land where they are about a cell. A box
// larger than the top level (24 levels: s·2^23) or too far out for any
// level's addressable cells (±2^20 cells per axis) goes to an oversize list
// that every query tests; a box with a 1e300 m extent is thus stored and
// queried in bounded time. Cells live in hash maps (the world is
// sparse: ships at sea level, aircraft at 11 km, nothing between), split over
// Config.Shards locked shards; each cell holds 4-byte ids in a chunk of its
// shard's arena, and each box is stored once, by id.
//
// A query visits every level that holds cells. Within a level it reports a
// box only from the cell containing the minimum corner of the intersection of
// the two boxes (the reference-point rule), so no per-query set is needed;
// each entry records whether its cell is the box's first on each axis, so the
// rule is checked before the box is read. Ids are below 2^29.
//
// # Phases
//
// The engine drives the grid in phases: Set and Delete run in parallel for
// distinct ids (no global lock; a move within the same cells takes no lock
// at all), then QueryAppend (and Box) run in parallel, then Adjust runs alone
// between ticks. Grow runs alone. Stats may run concurrently with everything but
// Adjust and Grow.
//
// # Invalid input
//
// A box with a NaN or infinite coordinate, or with a minimum above its
// maximum, is invalid (Box.Valid). Set ignores it (the id keeps its previous
// box, or stays absent) and counts it in Stats.Invalid, as it does an id
// beyond Grow; QueryAppend returns dst unchanged for it.
//
// # Resize rule
//
// Let s be the base cell size, T = Config.TargetOccupancy,
// θ = Config.AdjustmentThreshold, f = Config.AdjustmentFactor, and
// q = Σn²/Σn over the non-empty level-0 cells, n being a cell's number of
// ids: the entry-weighted mean number of boxes per cell (0 when level 0 is
// empty, i.e. every box is larger than s). q is maintained incrementally.
// Adjust keeps s while the grid is empty; otherwise it:
//
//  1. picks a candidate: s' = max(s·f, MinSize) if q > T/θ and s > MinSize;
//     s' = min(s/f, MaxSize) if q < T·θ and s < MaxSize; otherwise it keeps s
//     and returns false;
//  2. computes the occupancy q' that s' would give (same formula, from the
//     stored boxes) and adopts s' if q' stays on q's side of T (q' >= T
//     after a shrink, q' <= T after a growth), or else if it brings q closer
//     to T in ratio by at least the band's half-width:
//     |ln(q'/T)| < |ln(q/T)| - |ln θ| (with |ln 0| = +Inf);
//  3. after a rejection, does not evaluate the same candidate again while s is
//     unchanged and q stays within [q_r·θ, q_r/θ] of the q_r it was rejected
//     at, so a rejected resize costs one pass over the boxes, not one per
//     tick.
//
// Adopting s' rebuilds every cell from the stored boxes inside Adjust. Step 2
// is what keeps the rule from oscillating: with the defaults the band is
// [3.2, 5] while halving the cell edge divides q by up to 8, so the plain rule
// would flip between two sizes forever. A resize that lands across T must
// gain a half-band, and the way back must gain another, so only a change in
// the traffic of about a band's width (1/θ² in q) can reverse a resize.
//
// Since a box goes to the level that fits it, the base size matters for the
// boxes smaller than it (they share level-0 cells that may be much larger
// than they are), which is what q measures. q is 0 when every box is larger
// than s, which counts as sparse: the grid grows until level 0 holds boxes.
package grid
