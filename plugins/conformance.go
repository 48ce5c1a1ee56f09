package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Report is the outcome of a conformance run (`cdp plugin test FILE.wasm`).
type Report struct {
	SHA256  string   `json:"sha256"`
	Size    int      `json:"size"`
	Exports []string `json:"exports"`
	Imports []string `json:"imports"`
	// ABIVersion is the plugin's cdp_abi_version as "major.minor".
	ABIVersion string   `json:"abi_version,omitempty"`
	Manifest   Manifest `json:"manifest"`
	// Mode is "exact" (the manifest claims matches_builtin: every output
	// field must equal the builtin's) or "well-formed" (ranges, counts,
	// finiteness and determinism only).
	Mode string `json:"mode"`
	// LoadError is set when the module was refused; no vector ran then.
	LoadError string `json:"load_error,omitempty"`
	// LoadCause is the refusal's cause (RefusedTooLarge, RefusedCompile, ...).
	LoadCause string         `json:"load_cause,omitempty"`
	Vectors   []VectorReport `json:"vectors"`
	// NsPerPair is the time per scored pair through Plugin.ScoreModel in
	// batches of 1,024 pairs with deadline enforcement on (0: not a scorer).
	NsPerPair float64 `json:"ns_per_pair,omitempty"`
	// NsPerVehicle is NsPerPair for prediction.
	NsPerVehicle float64 `json:"ns_per_vehicle,omitempty"`
	Pass         bool    `json:"pass"`
}

// VectorReport is one conformance vector's outcome.
type VectorReport struct {
	Name    string `json:"name"`
	Op      string `json:"op"`
	Records int    `json:"records"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"` // the plugin does not implement the op
	// Detail names the first failure: the first differing field with both
	// values, a range violation, a nondeterministic record, or a guest failure.
	Detail string `json:"detail,omitempty"`
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "module   sha256 %s (%d bytes)\n", r.SHA256, r.Size)
	fmt.Fprintf(w, "exports  %s\n", strings.Join(r.Exports, " "))
	if len(r.Imports) > 0 {
		fmt.Fprintf(w, "imports  %s\n", strings.Join(r.Imports, " "))
	}
	if r.LoadError != "" {
		fmt.Fprintf(w, "refused  %s\nresult   FAIL\n", r.LoadError)
		return
	}
	fmt.Fprintf(w, "abi      %s\n", r.ABIVersion)
	fmt.Fprintf(w, "model    %s %s (%s)\n", r.Manifest.Name, r.Manifest.Version, r.Manifest.Kind)
	fmt.Fprintf(w, "check    %s\n", r.Mode)
	for _, v := range r.Vectors {
		status := "PASS"
		switch {
		case v.Skipped:
			status = "SKIP"
		case !v.Pass:
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s     %-16s %-7s %6d records", status, v.Name, v.Op, v.Records)
		if v.Detail != "" {
			fmt.Fprintf(w, "  %s", v.Detail)
		}
		fmt.Fprintln(w)
	}
	if r.NsPerPair > 0 {
		fmt.Fprintf(w, "time     %.1f ns/pair (batches of 1024, deadline enforcement on)\n", r.NsPerPair)
	}
	if r.NsPerVehicle > 0 {
		fmt.Fprintf(w, "time     %.1f ns/vehicle (batches of 1024, 6 samples each, deadline enforcement on)\n", r.NsPerVehicle)
	}
	if r.Pass {
		fmt.Fprintln(w, "result   PASS")
	} else {
		fmt.Fprintln(w, "result   FAIL")
	}
}

// Conformance runs module against the conformance vectors with default
// limits and an in-memory compilation cache; see Runtime.Conformance.
func Conformance(ctx context.Context, module []byte) Report {
	r, err := NewRuntime(RuntimeConfig{})
	if err != nil {
		return Report{LoadError: err.Error()}
	}
	defer r.Close(context.WithoutCancel(ctx))
	return r.Conformance(ctx, module, Options{})
}

// Conformance loads module with opts (its fallbacks are ignored) and runs it
// against abi.Vectors: each vector on one instance, again on a fresh
// instance, and (score vectors) once more through ScoreModel with the pairs
// in reverse order, split in two batches. The outputs must be well formed
// and identical across the three runs; with matches_builtin they must also
// equal the builtin's. The report says which vector failed and why.
func (r *Runtime) Conformance(ctx context.Context, module []byte, opts Options) Report {
	sum := sha256.Sum256(module)
	rep := Report{SHA256: hex.EncodeToString(sum[:]), Size: len(module), Mode: "well-formed"}
	rep.Exports, rep.Imports = inspect(ctx, module)
	opts.Fallback, opts.FallbackPredictor = nil, nil
	opts.Instances = 1
	opts.Breaker.Failures = -1
	p, err := r.Load(ctx, module, opts)
	if err != nil {
		rep.LoadError, rep.LoadCause = err.Error(), RefusalCause(err)
		return rep
	}
	defer p.Close(context.WithoutCancel(ctx))
	rep.Manifest = p.Manifest()
	rep.ABIVersion = fmt.Sprintf("%d.%d", p.version>>16, p.version&0xffff)
	if rep.Manifest.MatchesBuiltin {
		rep.Mode = "exact"
	}
	vectors, err := abi.Vectors()
	if err != nil {
		rep.LoadError = err.Error()
		return rep
	}
	rep.Pass = true
	ran := 0
	for i := range vectors {
		vr := p.runVector(ctx, &vectors[i], rep.Manifest.MatchesBuiltin)
		if !vr.Skipped {
			ran++
			rep.Pass = rep.Pass && vr.Pass
		}
		rep.Vectors = append(rep.Vectors, vr)
	}
	if ran == 0 {
		rep.Pass = false
	}
	if rep.Pass {
		rep.NsPerPair, rep.NsPerVehicle = p.timeVectors(ctx, vectors)
	}
	return rep
}

// inspect lists a module's exports and imports, even for a module that
// Load refuses, from its sections (nothing is compiled); nil when the module
// is malformed.
func inspect(_ context.Context, module []byte) (exports, imports []string) {
	if scanModule(module) != nil {
		return nil, nil
	}
	ex, imports := moduleInterface(module)
	for name, kind := range ex {
		switch kind {
		case 0:
			exports = append(exports, name)
		case 2:
			exports = append(exports, name+" (memory)")
		}
	}
	sortStrings(exports)
	return exports, imports
}

func (p *Plugin) runVector(ctx context.Context, v *abi.Vector, exact bool) VectorReport {
	h := v.Header
	vr := VectorReport{Name: v.Name, Op: "score", Records: int(h.NumPairs)}
	if h.Op == abi.OpPredict {
		vr.Op, vr.Records = "predict", int(h.NumVehicles)
	}
	if h.Op == abi.OpScore && p.kind&abi.KindScorer == 0 || h.Op == abi.OpPredict && p.kind&abi.KindPredictor == 0 {
		vr.Skipped, vr.Pass = true, true
		return vr
	}
	first, err := p.runImageOnce(ctx, v)
	if err != nil {
		vr.Detail = err.Error()
		return vr
	}
	// Well-formed output.
	if h.Op == abi.OpScore {
		res := decodeResults(first, &h)
		if i, what := checkResults(h.Horizon, res); i >= 0 {
			vr.Detail = describeResult(i, what, &res[i])
			return vr
		}
	} else {
		vs, boxes, pts := decodePredict(v.Data, first, &h)
		if i, what := checkPredictions(vs, boxes, pts, int(h.Samples), h.Horizon, p.opts.MaxSpeeds); i >= 0 {
			vr.Detail = fmt.Sprintf("vehicle %d: %s", i, what)
			return vr
		}
	}
	if exact {
		if d := firstDifference(v.Data, first, &h); d != "" {
			vr.Detail = d
			return vr
		}
	}
	// Determinism: a fresh instance must give the same bits.
	second, err := p.runImageOnce(ctx, v)
	if err != nil {
		vr.Detail = "second run: " + err.Error()
		return vr
	}
	if d := firstDifference(first, second, &h); d != "" {
		vr.Detail = "not deterministic across instances: " + d
		return vr
	}
	// Independence of batch composition and order.
	if h.Op == abi.OpScore {
		if d := p.reorderedDifference(ctx, v.Data, first, &h); d != "" {
			vr.Detail = d
			return vr
		}
	}
	vr.Pass = true
	return vr
}

// runImageOnce runs a vector on a new instance and returns a copy of the
// batch bytes after the call.
func (p *Plugin) runImageOnce(ctx context.Context, v *abi.Vector) ([]byte, error) {
	in, err := p.newInstance(ctx)
	if err != nil {
		return nil, err
	}
	defer in.close()
	h := v.Header
	b, err := in.prepare(h.BatchSize)
	if err != nil {
		return nil, err
	}
	copy(b, v.Data)
	binary.LittleEndian.PutUint32(b[abi.OutCountOffset:], 0)
	op, fn := "score", in.scoreFn
	if h.Op == abi.OpScore {
		clear(b[h.ResultsOff : uint64(h.ResultsOff)+uint64(h.NumPairs)*uint64(h.ResultStride)])
	} else {
		op, fn = "predict", in.predictFn
		clear(b[h.BoxesOff : uint64(h.BoxesOff)+uint64(h.NumVehicles)*uint64(h.BoxStride)])
		if h.Samples > 0 {
			clear(b[h.SamplesOff : uint64(h.SamplesOff)+uint64(h.NumVehicles)*uint64(h.Samples)*uint64(h.PointStride)])
		}
	}
	out, err := in.invoke(op, fn, &h)
	if err != nil {
		return nil, err
	}
	// Only the output tables and out_count may change.
	if d := writesOutside(v.Data, out, &h); d != "" {
		return nil, fmt.Errorf("wrote outside its output table: %s", d)
	}
	return bytes.Clone(out), nil
}

// writesOutside compares everything but out_count and the output tables.
func writesOutside(want, got []byte, h *abi.Header) string {
	type span struct{ lo, hi uint64 }
	var outs []span
	if h.Op == abi.OpScore {
		outs = append(outs, span{uint64(h.ResultsOff), uint64(h.ResultsOff) + uint64(h.NumPairs)*uint64(h.ResultStride)})
	} else {
		outs = append(outs, span{uint64(h.BoxesOff), uint64(h.BoxesOff) + uint64(h.NumVehicles)*uint64(h.BoxStride)})
		outs = append(outs, span{uint64(h.SamplesOff), uint64(h.SamplesOff) + uint64(h.NumVehicles)*uint64(h.Samples)*uint64(h.PointStride)})
	}
	outs = append(outs, span{uint64(abi.OutCountOffset), uint64(abi.OutCountOffset) + 4})
next:
	for i := range want {
		for _, s := range outs {
			if uint64(i) >= s.lo && uint64(i) < s.hi {
				continue next
			}
		}
		if want[i] != got[i] {
			return fmt.Sprintf("byte %d of the batch", i)
		}
	}
	return ""
}

func decodeResults(b []byte, h *abi.Header) []abi.Result {
	res := make([]abi.Result, h.NumPairs)
	for i := range res {
		abi.GetResult(b, h, i, &res[i])
	}
	return res
}

func decodePredict(in, out []byte, h *abi.Header) ([]abi.Vehicle, []abi.Box, []abi.Point) {
	vs := make([]abi.Vehicle, h.NumVehicles)
	for i := range vs {
		abi.GetVehicle(in, h, i, &vs[i])
	}
	boxes := make([]abi.Box, h.NumVehicles)
	abi.GetBoxes(out, h, boxes)
	pts := make([]abi.Point, int(h.NumVehicles)*int(h.Samples))
	abi.GetSamples(out, h, pts)
	return vs, boxes, pts
}

// same is field equality as the conformance rule states it: == on floats
// (so the sign of a zero may differ; NaN never equals).
func same(a, b float64) bool { return a == b }

// firstDifference compares the output tables of two batch images and names
// the first differing field.
func firstDifference(want, got []byte, h *abi.Header) string {
	if h.Op == abi.OpScore {
		var w, g abi.Result
		for i := 0; i < int(h.NumPairs); i++ {
			abi.GetResult(want, h, i, &w)
			abi.GetResult(got, h, i, &g)
			pr := abi.GetPair(want, h, i)
			names := [...]string{"risk", "tca", "dmin", "t_in", "t_out"}
			wf := [...]float64{w.Risk, w.TCA, w.DMin, w.TIn, w.TOut}
			gf := [...]float64{g.Risk, g.TCA, g.DMin, g.TIn, g.TOut}
			for k := range wf {
				if !same(wf[k], gf[k]) {
					return fmt.Sprintf("pair %d (a=%d, b=%d): %s = %v, want %v (%v apart)", i, pr.A, pr.B, names[k], gf[k], wf[k], math.Abs(gf[k]-wf[k]))
				}
			}
			if w.Flags != g.Flags {
				return fmt.Sprintf("pair %d (a=%d, b=%d): flags = %#x, want %#x", i, pr.A, pr.B, g.Flags, w.Flags)
			}
		}
		return ""
	}
	n, ns := int(h.NumVehicles), int(h.Samples)
	wb, gb := make([]abi.Box, n), make([]abi.Box, n)
	abi.GetBoxes(want, h, wb)
	abi.GetBoxes(got, h, gb)
	names := [...]string{"min_x", "min_y", "min_z", "max_x", "max_y", "max_z"}
	for i := range wb {
		wf := [...]float64{wb[i].MinX, wb[i].MinY, wb[i].MinZ, wb[i].MaxX, wb[i].MaxY, wb[i].MaxZ}
		gf := [...]float64{gb[i].MinX, gb[i].MinY, gb[i].MinZ, gb[i].MaxX, gb[i].MaxY, gb[i].MaxZ}
		for k := range wf {
			if !same(wf[k], gf[k]) {
				return fmt.Sprintf("vehicle %d: box %s = %v, want %v", i, names[k], gf[k], wf[k])
			}
		}
	}
	wp, gp := make([]abi.Point, n*ns), make([]abi.Point, n*ns)
	abi.GetSamples(want, h, wp)
	abi.GetSamples(got, h, gp)
	for i := range wp {
		if !same(wp[i].X, gp[i].X) || !same(wp[i].Y, gp[i].Y) || !same(wp[i].Z, gp[i].Z) {
			return fmt.Sprintf("vehicle %d: sample %d = %v, want %v", i/ns, i%ns+1, gp[i], wp[i])
		}
	}
	return ""
}

// reorderedDifference scores the vector's pairs in reverse order, in two
// batches, through the normal Score path (which renumbers the vehicles) and
// compares with the first run pair for pair.
func (p *Plugin) reorderedDifference(ctx context.Context, img, first []byte, h *abi.Header) string {
	vs := make([]abi.Vehicle, h.NumVehicles)
	for i := range vs {
		abi.GetVehicle(img, h, i, &vs[i])
	}
	n := int(h.NumPairs)
	pairs := make([]abi.Pair, n)
	for i := range pairs {
		pairs[i] = abi.GetPair(img, h, n-1-i)
	}
	res := make([]abi.Result, n)
	half := n / 2
	for _, part := range [][2]int{{0, half}, {half, n}} {
		if _, err := p.ScoreModel(ctx, h.Params(), vs, pairs[part[0]:part[1]], res[part[0]:part[1]]); err != nil {
			return "reordered batch: " + err.Error()
		}
	}
	want := decodeResults(first, h)
	for i := range res {
		w, g := want[n-1-i], res[i]
		if math.Float64bits(w.Risk) != math.Float64bits(g.Risk) || math.Float64bits(w.TCA) != math.Float64bits(g.TCA) ||
			math.Float64bits(w.DMin) != math.Float64bits(g.DMin) || math.Float64bits(w.TIn) != math.Float64bits(g.TIn) ||
			math.Float64bits(w.TOut) != math.Float64bits(g.TOut) || w.Flags != g.Flags {
			return fmt.Sprintf("pair %d scored differently when the batch was reordered and split: %+v, first run %+v", n-1-i, g, w)
		}
	}
	return ""
}

// timeVectors measures ns per pair on score-random and ns per vehicle on
// predict-samples (6 samples per vehicle), in batches of 1024 through the
// normal call path.
func (p *Plugin) timeVectors(ctx context.Context, vectors []abi.Vector) (nsPair, nsVehicle float64) {
	for i := range vectors {
		v := &vectors[i]
		h := &v.Header
		vs := make([]abi.Vehicle, h.NumVehicles)
		for k := range vs {
			abi.GetVehicle(v.Data, h, k, &vs[k])
		}
		switch {
		case v.Name == "score-random" && p.kind&abi.KindScorer != 0:
			pairs := make([]abi.Pair, 0, 1024)
			for len(pairs) < 1024 {
				pairs = append(pairs, abi.GetPair(v.Data, h, len(pairs)%int(h.NumPairs)))
			}
			res := make([]abi.Result, len(pairs))
			nsPair = measure(func() error { return p.Score(ctx, h.Params(), vs, pairs, res) }) / float64(len(pairs))
		case v.Name == "predict-samples" && p.kind&abi.KindPredictor != 0:
			prm := h.Params()
			for len(vs) < 1024 {
				vs = append(vs, vs[len(vs)%int(h.NumVehicles)])
			}
			boxes := make([]abi.Box, len(vs))
			pts := make([]abi.Point, len(vs)*int(prm.Samples))
			nsVehicle = measure(func() error { return p.Predict(ctx, prm, vs, boxes, pts) }) / float64(len(vs))
		}
	}
	return nsPair, nsVehicle
}

// measure returns the mean ns per call of f over about 100 ms.
func measure(f func() error) float64 {
	if f() != nil { // warm up
		return 0
	}
	n := 0
	start := time.Now()
	for time.Since(start) < 100*time.Millisecond {
		if f() != nil {
			return 0
		}
		n++
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}
