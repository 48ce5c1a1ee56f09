package engine

import (
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// traffic is a deterministic synthetic world in local Cartesian metres
// (Alt = Z, VRate = VZ), used by the oracle tests and the benchmarks.
type traffic struct {
	rng *rand.Rand
	// clusterSigma is the spread of hotspot clusters in metres (default 150:
	// very dense, for the oracle tests).
	clusterSigma float64
	ids          [][]byte
	v            []abi.Vehicle
	kind         string
}

const (
	droneH, droneV = 50, 25
	planeH, planeV = 150, 60
)

func newTraffic(kind string, n int, seed uint64, area float64) *traffic {
	return newTrafficSigma(kind, n, seed, area, 150, 5)
}

func newTrafficSigma(kind string, n int, seed uint64, area, sigma float64, clusters int) *traffic {
	t := &traffic{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), kind: kind, clusterSigma: sigma}
	t.ids = make([][]byte, n)
	t.v = make([]abi.Vehicle, n)
	centers := make([][2]float64, clusters)
	for i := range centers {
		centers[i] = [2]float64{t.rng.Float64() * area, t.rng.Float64() * area}
	}
	for i := range t.v {
		t.ids[i] = []byte("v" + strconv.Itoa(i))
		v := &t.v[i]
		v.T = 1_700_000_000
		v.HSep, v.VSep = droneH, droneV
		v.Radius = float32(t.rng.Float64() * 2)
		speed := 5 + t.rng.Float64()*15
		hdg := t.rng.Float64() * 2 * math.Pi
		v.X, v.Y, v.Z = t.rng.Float64()*area, t.rng.Float64()*area, 20+t.rng.Float64()*150
		v.VX, v.VY, v.VZ = speed*math.Sin(hdg), speed*math.Cos(hdg), (t.rng.Float64()-0.5)*2
		switch kind {
		case "hotspot":
			if i%10 < 7 {
				c := centers[i%len(centers)]
				v.X = c[0] + t.rng.NormFloat64()*sigma
				v.Y = c[1] + t.rng.NormFloat64()*sigma
			}
		case "fast":
			if i%10 == 0 {
				v.HSep, v.VSep = planeH, planeV
				v.Z = 100 + t.rng.Float64()*3000
				v.VX, v.VY = 250*math.Sin(hdg), 250*math.Cos(hdg)
				v.VZ = (t.rng.Float64() - 0.5) * 20
			}
		case "stacked":
			col := i / 8
			v.X = float64(col%20) * area / 20
			v.Y = float64(col/20) * 300
			v.Z = 30 + float64(i%8)*(10+t.rng.Float64()*30)
			v.VX, v.VY = t.rng.Float64(), t.rng.Float64()
			v.VZ = (t.rng.Float64() - 0.5) * 4
		case "borders":
			// On cell borders of the initial 100 m cells, axis-aligned motion.
			v.X = math.Round(v.X/100) * 100
			v.Y = math.Round(v.Y/100) * 100
			v.Z = math.Round(v.Z/100) * 100
			switch i % 3 {
			case 0:
				v.VX, v.VY, v.VZ = 0, 0, 0
			case 1:
				v.VX, v.VY, v.VZ = 10, 0, 0
			default:
				v.VX, v.VY, v.VZ = 0, -10, 0
			}
		case "accel":
			if i%2 == 0 {
				v.AX, v.AY, v.AZ = t.rng.NormFloat64(), t.rng.NormFloat64(), t.rng.NormFloat64()*0.2
				v.Flags |= abi.FlagHasAccel
			}
		}
		v.Alt, v.VRate = v.Z, v.VZ
	}
	return t
}

// step advances vehicle i by dt seconds along its velocity with a little
// noise in its heading, as a real track would move.
func (t *traffic) step(i int, dt float64) {
	v := &t.v[i]
	v.X += v.VX * dt
	v.Y += v.VY * dt
	v.Z += v.VZ * dt
	if v.Z < 0 {
		v.Z, v.VZ = 0, -v.VZ
	}
	a := t.rng.NormFloat64() * 0.02
	s, c := math.Sincos(a)
	v.VX, v.VY = v.VX*c-v.VY*s, v.VX*s+v.VY*c
	v.T += dt
	v.Alt, v.VRate = v.Z, v.VZ
}

func (t *traffic) update(i int) Update { return Update{ID: t.ids[i], V: t.v[i]} }
