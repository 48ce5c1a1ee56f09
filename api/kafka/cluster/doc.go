// Package cluster runs cdp on several compute nodes that share the world by
// spatial tiles (DESIGN.md, "Scaling out"), with Kafka as the distributed
// engine: its consumer group is the scheduler.
//
// # Ingest
//
// Ingest is the repartitioning stage of `cdp serve --role ingest`: each
// normalised state goes to the partition of its home tile and, as ghost
// copies, to every other partition whose tiles its halo reaches; a partition
// it no longer reaches gets a leave (host/tiles.Router). States travel as the
// engine's 128-byte record, batched per partition (header cdp-kind: states),
// so that every node computes the router's halo bit for bit. Ingest closes
// ticks: a marker (cdp-kind: tick) with a sequence number and the cluster's
// data clock goes to every partition; everything before it belongs to that
// tick. Every message carries the tile layout (cdp-layout).
//
// # Compute
//
// Compute is one member of the compute nodes' consumer group
// (cooperative-sticky) on vehicle-locations. It holds the vehicles of its
// partitions, and ticks its engine when every partition it owns has
// delivered the same marker, with the engine clock advanced to the marker's
// clock, so that its ticks and clock are those of one engine holding the
// whole world (and of `cdp replay` when ingest cuts ticks on data time). An
// event is reported only when the pair's reference tile (the tile of the
// minimum corner of the two halos' intersection) maps to one of its
// partitions: each pair is reported by exactly one node. Offsets are
// committed after the events of the ticks they close are delivered.
package cluster
