package api

import (
	"math/rand/v2"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
)

// The frame-space pre-test of GET /api/v1/map never leaves out a point of
// the box, in either frame, for random boxes and points from the ground to
// high altitude (and it does leave out far points, or it would not help).
func TestBoxSphereIsConservative(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, kind := range []geo.Kind{geo.ENU, geo.ECEF} {
		f := geo.MustNew(geo.Config{Kind: kind.String(), Lat: 51.5, Lon: -0.12})
		skipped := 0
		for range 200 {
			lat0, lon0 := rng.Float64()*160-80, rng.Float64()*360-180
			w, h := rng.Float64()*20, rng.Float64()*10
			if rng.IntN(2) == 0 {
				w, h = w/100, h/100 // city-sized
			}
			box := &area{geodetic: true, minX: lon0, minY: lat0, maxX: lon0 + w, maxY: min(lat0+h, 89)}
			if box.maxX > 180 {
				box.maxX -= 360
			}
			width := box.maxX - box.minX
			if width < 0 {
				width += 360
			}
			bs := newBoxSphere(f, box, width, box.maxY-box.minY)
			for range 200 {
				// Half the points in the box, half anywhere.
				lat, lon := box.minY+rng.Float64()*(box.maxY-box.minY), box.minX+rng.Float64()*width
				if rng.IntN(2) == 0 {
					lat, lon = rng.Float64()*170-85, rng.Float64()*360-180
				}
				if lon > 180 {
					lon -= 360
				}
				alt := rng.Float64()*50000 - 500
				var v abi.Vehicle
				v.X, v.Y, v.Z = f.FromGeodetic(lat, lon, alt)
				if !bs.mayHold(v.X, v.Y, v.Z) {
					skipped++
					if box.contains(f, &v) {
						t.Fatalf("%v frame: box %+v: the pre-test leaves out %f,%f at %.0f m, which is in it", kind, *box, lat, lon, alt)
					}
				}
			}
		}
		if skipped < 5000 {
			t.Fatalf("%v frame: the pre-test left out only %d of 40000 points", kind, skipped)
		}
	}
}
