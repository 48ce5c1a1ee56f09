// Package sim is the traffic simulator behind `cdp serve --simulate N`: a
// deterministic, seeded world of N vehicles around a geodetic origin that
// reports like a real fleet, so that a newcomer sees risks within seconds of
// starting the server, and that load generators and tests can replay
// realistic traffic.
//
// # The traffic
//
// A world of N vehicles holds (N = 500 in brackets):
//
//   - Staged encounters, one group of each kind per 100 vehicles (5 each),
//     every group flying a level racetrack at 30-120 m and meeting again
//     and again; the first group of each kind meets 6-14 s after Start:
//     crossing: two drones whose tracks cross at 60-120 degrees, one the
//     mirror image of the other, passing within 20 m and 8 m, twice a lap;
//     head-on: two drones on one track in opposite directions, likewise;
//     overtaking: a drone 5-8 m/s faster passing a slow one 10-30 m abeam,
//     every 3-6 minutes;
//     stacked: three drones on one track 10-20 m above each other (inside
//     the 25 m vertical zone), drifting apart along the track and back
//     together every 4-6 minutes.
//   - Vertiports (one per 150 vehicles; 3) from which an eighth of the
//     fleet (62) shuttles: out to a destination 0.3-3 km away climbing to
//     60-120 m, back descending to a pad within 80 m of the vertiport at
//     30-60 m. They converge there: the dense hotspots. Four drones per
//     vertiport are staged to arrive together 6-14 s after Start.
//   - Helicopters (40-55 m/s, 300-900 m) and light aircraft (45-70 m/s,
//     500-1500 m), 3 % of the fleet (15), on circuits of 3-6 km radius
//     turning at 6 and 4 degrees per second.
//   - The rest (378) are drones at 5-20 m/s on loops of 4-6 waypoints,
//     0.4-2 km across, at 30-120 m, turning at 20 degrees per second.
//
// Drones fly within a square whose area keeps two drones per square
// kilometre outside the vertiports (±7.3 km for N = 500, see Region);
// aircraft within 1.5 times that, at least ±8 km. Routes are straight legs
// joined by turns at a bounded rate; between waypoints vehicles climb or
// descend with a rate that eases in and out (at most 2.5 m/s for drones,
// 5 m/s for aircraft). Every vehicle is of the class "default" (50 m
// horizontal, 25 m vertical protected zone); records carry no class.
//
// With the engine's defaults, a world of 500 opens 90-150 risks in its
// first 10 seconds (the staged ones and what the initial picture holds)
// and about three a second from then on, a third of them staged.
//
// # Vehicle ids
//
// Ids name the kind: sim-drone-0042, sim-heli-0003, sim-plane-0007 and
// sim-hub-0117 count vehicles of their kind from 1; staged members are
// named by group and member, sim-cross-0002a and sim-cross-0002b,
// sim-headon-, sim-overtake-, sim-stack-0005a/b/c. Info, Lookup and
// Encounter tell which group (or vertiport) a vehicle belongs to, so that a
// risk between two members of one group is known to be a staged one.
//
// # Reports
//
// Each vehicle reports Rate times a second (default 1) in its own slot of
// the period, jittered inside it (default a fifth of the period), so that
// reports arrive spread evenly and never out of order. A vehicle's state is
// a pure function of time and its report times a pure function of the
// seed, so the traffic is the same bit for bit however often Step is
// called, and the same Config always gives the same traffic.
//
// A record is a geodetic position (lat, lon, alt) with its velocity east,
// north and up, exactly as the wire decoder yields it (see ingest.Record),
// so it goes through ingest.Validator and ingest.Normalize like any record
// from outside. AppendNDJSON writes the same reports as wire NDJSON for
// POST /api/v1/locations.
//
// # Use
//
// Run is the feeding loop of `cdp serve --simulate N`: it steps the world on
// the wall clock and hands each batch to a function that normalises and
// submits it (a caller with its own clock calls Step instead):
//
//	s, err := sim.New(sim.Config{N: 2000, Seed: 1, OriginLat: lat, OriginLon: lon})
//	...
//	err = s.Run(ctx, cfg.ProcessingInterval, func(now time.Time, recs []ingest.Record) error {
//		ups = ups[:0]
//		for i := range recs {
//			var u engine.Update
//			u.ID = recs[i].ID // Submit copies it
//			if err := ingest.Normalize(&recs[i], frame, classes, &u.V); err != nil {
//				return err
//			}
//			ups = append(ups, u)
//		}
//		return eng.Submit(ctx, ups)
//	})
//
// After a pause (a suspended laptop), SkipTo resumes live instead of
// replaying every report of the pause.
//
// Neither Step nor AppendNDJSON allocates once its buffers have grown.
package sim
