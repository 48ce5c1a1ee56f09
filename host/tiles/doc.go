// Package tiles divides the engine frame into a fixed grid of square spatial
// tiles and maps tiles to the partitions of vehicle-locations, so that
// several compute nodes can share the world (DESIGN.md, "Scaling out").
//
// A Layout is the tile size, the number of partitions and the version of the
// tile-to-partition map; it is recorded in every routed record (header
// cdp-layout) so that a node never mixes two layouts. A vehicle's halo is the
// square around its position that its swept box can reach over the horizon:
// prediction_time × speed (plus ½|a|·horizon² with an acceleration), plus
// max_distance/2, plus √2 × its hard-body radius, exactly the growth the engine
// gives a swept box. The Router sends each state to its home tile's partition
// and ghost copies to every other partition whose tiles the halo touches, and
// a leave to a partition it no longer touches.
//
// Each pair is reported by exactly one tile, without coordination: the tile
// holding the minimum corner of the intersection of the two halos (the
// reference-point rule of spatial joins, see Layout.RefTile). That point lies
// in both halos, so both vehicles are present in its tile's partition.
package tiles
