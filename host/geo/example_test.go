package geo_test

import (
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

// An aircraft 10 km north of a London origin at FL350, tracking 090 at
// 230 m/s and descending at 5 m/s.
func Example() {
	f, err := geo.New(geo.Config{Kind: "enu", Lat: 51.4775, Lon: -0.4614, Alt: 25})
	if err != nil {
		panic(err)
	}
	l := f.Locate(51.5674, -0.4614, 10668)
	fmt.Printf("position  %.1f %.1f %.1f m\n", l.X, l.Y, l.Z)

	e, n, u := geo.SpeedTrackToENU(230, 90, -5)
	vx, vy, vz := l.Vector(e, n, u)
	fmt.Printf("velocity  %.3f %.3f %.3f m/s\n", vx, vy, vz)

	lat, lon, alt := f.ToGeodetic(l.X, l.Y, l.Z)
	fmt.Printf("geodetic  %.4f %.4f %.1f\n", lat, lon, alt)
	// Output:
	// position  0.0 10018.9 10635.1 m
	// velocity  230.000 -0.008 -5.000 m/s
	// geodetic  51.5674 -0.4614 10668.0
}
