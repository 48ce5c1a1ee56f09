package abi

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randVehicle(r *rand.Rand, key uint64) Vehicle {
	f := func() float64 { return (r.Float64() - 0.5) * 1e4 }
	return Vehicle{X: f(), Y: f(), Z: f(), VX: f(), VY: f(), VZ: f(), AX: f(), AY: f(), AZ: f(),
		Alt: f(), VRate: f(), T: 1.7e9 + r.Float64(), Radius: float32(r.Float64()), HSep: 50, VSep: 25,
		Sigma: 3, Class: uint32(r.IntN(8)), Flags: uint32(r.IntN(4)), Key: key}
}

// eachPath runs f with the in-place fast path and with the portable
// per-field path, so the big-endian fallback is tested on this machine too.
func eachPath(t *testing.T, f func(t *testing.T)) {
	t.Run("fast", func(t *testing.T) { f(t) })
	t.Run("portable", func(t *testing.T) {
		fastPath = false
		defer func() { fastPath = nativeLE }()
		f(t)
	})
}

func TestScoreBatchRoundTrip(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		p := Params{Horizon: 30, MinRisk: 0.3}
		vs := make([]Vehicle, 17)
		for i := range vs {
			vs[i] = randVehicle(r, uint64(i)+100)
		}
		ps := []Pair{{0, 1}, {3, 16}, {16, 2}}
		rs := []Result{{Risk: 0.5, TCA: 3, DMin: 7, TIn: 1, TOut: 4, Flags: ResultConflict},
			{Risk: 0.1, TIn: -1, TOut: -1}, {Risk: 1, Flags: ResultConflict | ResultLoS}}
		h, err := ScoreHeader(p, len(vs), len(ps))
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, h.BatchSize)
		PutHeader(b, &h)
		PutVehicles(b, &h, vs)
		PutPairs(b, &h, ps)
		PutResults(b, &h, rs)

		h2, err := DecodeHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h2 != h {
			t.Fatalf("header: got %+v want %+v", h2, h)
		}
		if h2.Params() != (Params{Horizon: 30, MinRisk: 0.3}) {
			t.Fatalf("params %+v", h2.Params())
		}
		for i := range vs {
			var v Vehicle
			GetVehicle(b, &h2, i, &v)
			if v != vs[i] {
				t.Fatalf("vehicle %d: got %+v want %+v", i, v, vs[i])
			}
		}
		for i := range ps {
			if got := GetPair(b, &h2, i); got != ps[i] {
				t.Fatalf("pair %d: %v want %v", i, got, ps[i])
			}
		}
		out := make([]Result, len(rs))
		GetResults(b, &h2, out)
		for i := range rs {
			if out[i] != rs[i] {
				t.Fatalf("result %d: %+v want %+v", i, out[i], rs[i])
			}
		}
		// Spot-check the byte layout the specification gives.
		if got := b[0:4]; string(got) != "CDPB" {
			t.Fatalf("magic bytes %q", got)
		}
		vo := int(h.VehiclesOff) + 1*VehicleSize
		if got := math.Float64frombits(le64(b[vo+88:])); got != vs[1].T {
			t.Fatalf("vehicle 1 t at +88: %v want %v", got, vs[1].T)
		}
		if got := le64(b[vo+120:]); got != vs[1].Key {
			t.Fatalf("vehicle 1 key at +120: %v", got)
		}
		ro := int(h.ResultsOff)
		if got := math.Float64frombits(le64(b[ro+32:])); got != 4 {
			t.Fatalf("result 0 t_out at +32: %v", got)
		}
	})
}

func le64(b []byte) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

func TestPredictBatchRoundTrip(t *testing.T) {
	eachPath(t, func(t *testing.T) {
		p := Params{Horizon: 10, MinRisk: 0.3, Samples: 3}
		h, err := PredictHeader(p, 2)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, h.BatchSize)
		PutHeader(b, &h)
		boxes := []Box{{1, 2, 3, 4, 5, 6}, {-1, -2, -3, 7, 8, 9}}
		pts := []Point{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {1, 1, 1}, {2, 2, 2}, {3, 3, 3}}
		PutBoxes(b, &h, boxes)
		PutSamples(b, &h, pts)
		h2, err := DecodeHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		gb := make([]Box, 2)
		gp := make([]Point, 6)
		GetBoxes(b, &h2, gb)
		GetSamples(b, &h2, gp)
		for i := range boxes {
			if gb[i] != boxes[i] {
				t.Fatalf("box %d", i)
			}
		}
		for i := range pts {
			if gp[i] != pts[i] {
				t.Fatalf("point %d", i)
			}
		}
		if h2.ExpectedOut() != 2 {
			t.Fatalf("expected out %d", h2.ExpectedOut())
		}
	})
}

func TestDecodeHeaderRefuses(t *testing.T) {
	good, _ := ScoreHeader(Params{Horizon: 30, MinRisk: 0.3}, 4, 2)
	cases := []struct {
		name  string
		edit  func(h *Header)
		want  error
		field string
	}{
		{"magic", func(h *Header) { h.Magic = 0 }, ErrMagic, "magic"},
		{"major", func(h *Header) { h.Version = 2 << 16 }, ErrVersion, "version"},
		{"header size", func(h *Header) { h.HeaderSize = 64 }, ErrLayout, "header_size"},
		{"short stride", func(h *Header) { h.VehicleStride = 120 }, ErrLayout, "vehicle_stride"},
		{"odd stride", func(h *Header) { h.ResultStride = 52 }, ErrLayout, "result_stride"},
		{"table outside", func(h *Header) { h.ResultsOff = h.BatchSize }, ErrLayout, "results_off"},
		{"overlap", func(h *Header) { h.PairsOff = h.VehiclesOff + 8 }, ErrLayout, "pairs_off"},
		{"misaligned", func(h *Header) { h.PairsOff++ }, ErrLayout, "pairs_off"},
		{"op", func(h *Header) { h.Op = 9 }, ErrLayout, "op"},
		{"batch beyond buffer", func(h *Header) { h.BatchSize += 8 }, ErrShort, "batch_size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := good
			c.edit(&h)
			b := make([]byte, good.BatchSize)
			PutHeader(b, &h)
			_, err := DecodeHeader(b)
			var he *HeaderError
			if !errors.Is(err, c.want) || !errors.As(err, &he) || he.Field != c.field {
				t.Fatalf("got %v, want %v on %s", err, c.want, c.field)
			}
		})
	}
	// A later minor version with longer records is accepted.
	h := good
	h.Version = 1<<16 | 7
	h.VehicleStride = 136
	h.PairsOff += 8 * 4
	h.ResultsOff += 8 * 4
	h.BatchSize += 8 * 4
	b := make([]byte, h.BatchSize)
	PutHeader(b, &h)
	if _, err := DecodeHeader(b); err != nil {
		t.Fatalf("minor 7 with a longer stride: %v", err)
	}
	if VehiclesView(b, &h) != nil {
		t.Fatal("a 136-byte stride must not be viewed as []Vehicle")
	}
}

func TestWireDoesNotAllocate(t *testing.T) {
	vs := make([]Vehicle, 1024)
	ps := make([]Pair, 1024)
	rs := make([]Result, 1024)
	h, _ := ScoreHeader(Params{Horizon: 30, MinRisk: 0.3}, len(vs), len(ps))
	b := make([]byte, h.BatchSize)
	eachPath(t, func(t *testing.T) {
		n := testing.AllocsPerRun(20, func() {
			PutHeader(b, &h)
			PutVehicles(b, &h, vs)
			PutPairs(b, &h, ps)
			GetResults(b, &h, rs)
			if _, err := DecodeHeader(b); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Fatalf("%v allocations per batch", n)
		}
	})
}

func FuzzDecodeHeader(f *testing.F) {
	h, _ := ScoreHeader(Params{Horizon: 30, MinRisk: 0.3}, 3, 2)
	b := make([]byte, h.BatchSize)
	PutHeader(b, &h)
	f.Add(b)
	h, _ = PredictHeader(Params{Horizon: 30, Samples: 4}, 3)
	b = make([]byte, h.BatchSize)
	PutHeader(b, &h)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		// A header that validates must let every accessor stay in bounds.
		switch h.Op {
		case OpScore:
			for i := 0; i < int(h.NumVehicles); i++ {
				var v Vehicle
				GetVehicle(b, &h, i, &v)
			}
			for i := 0; i < int(h.NumPairs); i++ {
				var r Result
				GetPair(b, &h, i)
				GetResult(b, &h, i, &r)
			}
		case OpPredict:
			GetBoxes(b, &h, make([]Box, h.NumVehicles))
			GetSamples(b, &h, make([]Point, int(h.NumVehicles)*int(h.Samples)))
		}
	})
}

func BenchmarkPutVehicles(b *testing.B) {
	vs := make([]Vehicle, 1024)
	h, _ := ScoreHeader(Params{Horizon: 30}, len(vs), 0)
	buf := make([]byte, h.BatchSize)
	b.SetBytes(int64(len(vs) * VehicleSize))
	for b.Loop() {
		PutVehicles(buf, &h, vs)
	}
}
