package tiles_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
	"github.com/collision-detection-platform/distributed-platform/host/tiles"
)

// recording reads a recording in examples/data as engine states (ENU at
// its first position), in file order, with its vehicle ids.
func recording(tb testing.TB, name string) ([]string, []abi.Vehicle) {
	tb.Helper()
	f, err := os.Open(filepath.Join("..", "..", "examples", "data", name, "tracks.csv"))
	if err != nil {
		tb.Fatalf("the recordings are part of the repository: %v", err)
	}
	defer f.Close()
	classes, err := ingest.NewClasses(nil)
	if err != nil {
		tb.Fatal(err)
	}
	r := ingest.NewCSVReader(f)
	var (
		frame *geo.Frame
		ids   []string
		vs    []abi.Vehicle
		rec   ingest.Record
	)
	for {
		err := r.Read(&rec)
		if err == io.EOF {
			return ids, vs
		}
		if errors.Is(err, ingest.ErrCSVRow) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		if frame == nil {
			if frame, err = geo.New(geo.Config{Kind: "enu", Lat: rec.Lat, Lon: rec.Lon}); err != nil {
				tb.Fatal(err)
			}
		}
		var v abi.Vehicle
		if err := ingest.Normalize(&rec, frame, classes, &v); err != nil {
			continue
		}
		ids = append(ids, string(rec.ID))
		vs = append(vs, v)
	}
}

// uniform is n drones spread evenly at 2 per km², 5–20 m/s in random
// headings, reporting at 1 Hz for the given seconds.
func uniform(n, seconds int) ([]string, []abi.Vehicle) {
	rng := rand.New(rand.NewPCG(1, 2))
	side := math.Sqrt(float64(n)/2) * 1000
	base := make([]abi.Vehicle, n)
	names := make([]string, n)
	for i := range base {
		sp, hd := 5+rng.Float64()*15, rng.Float64()*2*math.Pi
		base[i] = abi.Vehicle{X: (rng.Float64() - 0.5) * side, Y: (rng.Float64() - 0.5) * side, Z: 100,
			VX: sp * math.Cos(hd), VY: sp * math.Sin(hd), Radius: 1}
		names[i] = "d" + strconv.Itoa(i)
	}
	ids := make([]string, 0, n*seconds)
	vs := make([]abi.Vehicle, 0, n*seconds)
	for s := range seconds {
		for i := range base {
			v := base[i]
			v.X += v.VX * float64(s)
			v.Y += v.VY * float64(s)
			v.T = 1e9 + float64(s)
			ids = append(ids, names[i])
			vs = append(vs, v)
		}
	}
	return ids, vs
}

// BenchmarkHaloOverhead reports the extra records (ghosts and leaves) per
// routed state at tile sizes and partition counts, on the recordings and on
// uniform 100k-drone traffic. 4096 partitions stand for "every tile its own
// partition" (the worst case); 16 is a small cluster. Horizon 30 s,
// max_distance 200 m (the defaults).
func BenchmarkHaloOverhead(b *testing.B) {
	type traffic struct {
		name string
		ids  []string
		vs   []abi.Vehicle
	}
	var ts []traffic
	for _, name := range []string{"opensky-uk-2021-07-12", "solent-ais-2016-01-12"} {
		ids, vs := recording(b, name)
		ts = append(ts, traffic{name, ids, vs})
	}
	ids, vs := uniform(100_000, 5)
	ts = append(ts, traffic{"uniform-100k", ids, vs})
	for _, tr := range ts {
		for _, size := range []float64{tiles.DefaultTileSize, 50_000, 200_000} {
			for _, parts := range []int{16, 4096} {
				b.Run(fmt.Sprintf("%s/tile=%gkm/partitions=%d", tr.name, size/1000, parts), func(b *testing.B) {
					l, err := tiles.New(size, parts)
					if err != nil {
						b.Fatal(err)
					}
					var st tiles.RouterStats
					var dst []tiles.Target
					for range b.N {
						r, err := tiles.NewRouter(tiles.RouterConfig{Layout: l, Horizon: 30, MaxDistance: 200, VehicleTTL: 30})
						if err != nil {
							b.Fatal(err)
						}
						for i := range tr.vs {
							dst, _ = r.Route([]byte(tr.ids[i]), &tr.vs[i], dst[:0])
						}
						st = r.Stats()
					}
					b.ReportMetric(float64(st.Ghosts)/float64(st.States), "ghosts/record")
					b.ReportMetric(float64(st.Leaves)/float64(st.States), "leaves/record")
					b.ReportMetric(float64(st.Ghosts+st.Leaves)/float64(st.States)*100, "%extra")
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tr.vs)), "ns/record")
				})
			}
		}
	}
}
