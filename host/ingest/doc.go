// Package ingest defines the wire record that every input path carries (REST
// as a JSON array or NDJSON, Kafka as one record or an array per message, file
// replay), decodes it without allocating per record, validates it with typed
// reasons, and normalises it into the engine's abi.Vehicle.
//
// # The wire record
//
// A record is a flat JSON object:
//
//	{"id":"4009cc", "t":1626098396.13,
//	 "lat":51.8436, "lon":-1.3515, "alt":472.4,
//	 "vx":-15.95, "vy":-48.87, "vz":0.33,
//	 "ax":0, "ay":0, "az":0, "radius":20, "class":"aircraft", "sigma":15}
//
// Fields (SI units):
//
//	id      string (or an integer, taken literally), 1..64 bytes of UTF-8. Required.
//	t       Unix seconds (number) or an RFC 3339 string ("2021-07-12T14:00:00Z",
//	        fractions and ±hh:mm offsets allowed). Required; not before 2000-01-01,
//	        not more than 5 s (Options.MaxSkew) after the server's clock.
//	position, one form, required:
//	  lat, lon, alt   WGS84 degrees, degrees, metres above the ellipsoid; all three.
//	  x, y, z         metres in the engine frame (system.frame); all three.
//	velocity, one form, required:
//	  vx, vy [, vz]   m/s; east, north, up with lat/lon/alt, frame axes with x/y/z.
//	                  vz defaults to 0.
//	  speed, track [, vrate]
//	                  ground speed m/s (>= 0), track degrees true clockwise from
//	                  north in [0, 360), vertical rate m/s up positive (default 0):
//	                  the ADS-B / AIS form.
//	ax, ay, az      acceleration m/s², same axes as vx, vy, vz; all three or none.
//	radius          hard-body radius, m, >= 0 (default: the class's radius).
//	sigma           1-sigma position uncertainty, m, >= 0 (default 0).
//	class           a name of collision_detection.classes (default "default").
//	group           the vehicle's group (a light show, a formation, a convoy, a
//	                  moored fleet), 1-64 bytes like an id: pairs inside one
//	                  group are not risks, the group is still checked against
//	                  every other vehicle (default: none).
//
// A batch is a JSON array of records, a single record, or any sequence of
// records and arrays separated by whitespace (NDJSON: one record per line).
//
// Decisions on the edges of the format:
//   - Unknown fields are ignored (their values must still be well-formed
//     JSON), so producers can add their own fields (callsign, squawk) and newer
//     producers can talk to older servers.
//   - null is the same as an absent field.
//   - A key given twice refuses the record (duplicate_field): which one the
//     producer meant is unknowable.
//   - Numbers must be JSON numbers: "12.5" as a string is wrong_type. The
//     non-finite spellings producers emit — NaN, Infinity, -Infinity bare (as
//     Python's json module writes them) or in strings, and numbers too large
//     for float64 — refuse the record as non_finite rather than failing the
//     batch.
//   - Malformed JSON fails the whole batch (a *SyntaxError with the byte
//     offset; the API answers 400). A well-formed record that fails validation
//     is refused alone with a RecordError {Index, Field, Reason}; the rest of
//     the batch proceeds.
//
// # Use
//
//	v, _ := ingest.NewValidator(ingest.Options{}, classes)
//	d := ingest.NewDecoder(v)                  // one per goroutine
//	recs, errs, err := d.DecodeBatch(body, time.Now(), recs[:0], errs[:0])
//	for i := range recs {
//		ingest.Normalize(&recs[i], frame, classes, &vehicles[i])
//	}
//
// Recordings in CSV (id,t,lat,lon,alt_m,vx_mps,vy_mps,vz_mps) are read by
// CSVReader into the same Record.
package ingest
