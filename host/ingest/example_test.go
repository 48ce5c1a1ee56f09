package ingest_test

import (
	"fmt"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// A REST batch in NDJSON: one aircraft in the ADS-B form, one drone in local
// Cartesian metres, and one record with a latitude out of range.
func Example() {
	frame, _ := geo.New(geo.Config{Lat: 51.4775, Lon: -0.4614})
	classes, _ := ingest.NewClasses(map[string]ingest.ClassSpec{
		"aircraft": {Horizontal: 9260, Vertical: 300, Radius: 30},
		"drone":    {Horizontal: 30, Vertical: 15, Radius: 1},
	})
	v, _ := ingest.NewValidator(ingest.Options{}, classes)
	d := ingest.NewDecoder(v)

	body := []byte(`{"id":"4009cc","t":"2021-07-12T14:00:00Z","lat":51.5674,"lon":-0.4614,"alt":10668,"speed":230,"track":90,"vrate":-5,"class":"aircraft"}
{"id":"drone-7","t":1626098400.5,"x":120,"y":-40,"z":60,"vx":5,"vy":0,"vz":1,"class":"drone"}
{"id":"bad","t":1626098400,"lat":95,"lon":0,"alt":0,"vx":0,"vy":0}
`)
	now := time.Date(2021, 7, 12, 14, 0, 1, 0, time.UTC)
	recs, errs, err := d.DecodeBatch(body, now, nil, nil)
	if err != nil {
		fmt.Println("400:", err)
		return
	}
	for i := range recs {
		var s abi.Vehicle
		if err := ingest.Normalize(&recs[i], frame, classes, &s); err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: pos %.1f %.1f %.1f  vel %.2f %.2f %.2f  alt %.0f  zone %.0f/%.0f\n",
			recs[i].ID, s.X, s.Y, s.Z, s.VX, s.VY, s.VZ, s.Alt, s.HSep, s.VSep)
	}
	for _, e := range errs {
		fmt.Printf("record %d (%s): %s %s\n", e.Index, e.ID, e.Field, e.Reason)
	}
	// Output:
	// 4009cc: pos 0.0 10018.9 10660.1  vel 230.00 -0.01 -5.00  alt 10668  zone 9260/300
	// drone-7: pos 120.0 -40.0 60.0  vel 5.00 0.00 1.00  alt 60  zone 30/15
	// record 2 (bad): lat lat_out_of_range
}
