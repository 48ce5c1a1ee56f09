//go:build wasip1

// Package cdp is the Go SDK for cdp plugins (ABI v1, see abi/SPEC.md). A
// plugin is a main package that registers its model in init and is built as
// a WASI reactor:
//
//	package main
//
//	import cdp "github.com/collision-detection-platform/distributed-platform/sdk/go"
//
//	func init() {
//		cdp.Register(cdp.Plugin{
//			Manifest: cdp.Manifest{Name: "my-scorer", Version: "1.0.0"},
//			Score: func(p cdp.Pair) cdp.Result { ... },
//		})
//	}
//
//	func main() {}
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o my.wasm .
//
// The SDK provides every export (cdp_abi_version, cdp_manifest, cdp_alloc,
// cdp_init, cdp_score, cdp_predict, cdp_last_error), owns the memory the host
// writes batches into, and runs the batch loop: unrolled 8 times, because the
// host stops runaway plugins with a check at every loop back-edge and that
// check is what a tight loop pays for. The loop follows the strides in the
// batch header, so a plugin keeps working when a later minor ABI version
// appends fields to the records.
//
// Write the model as a pure function of its inputs: the host splits, merges
// and renumbers batches, and compares instances (SPEC.md 7.2). In Go's wasm
// output math.Max and math.Min are calls; clamp with if for speed.
package cdp

import (
	"strconv"
	"unsafe"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Record types shared with the host; their layouts are ABI v1.
type (
	// Vehicle is one vehicle's state (SPEC.md 5.1).
	Vehicle = abi.Vehicle
	// Result is a scorer's answer for one pair (SPEC.md 5.3).
	Result = abi.Result
	// Params are the batch parameters: horizon, min risk, samples.
	Params = abi.Params
	// Box is an axis-aligned box (predictor output).
	Box = abi.Box
	// Point is one trajectory sample (predictor output).
	Point = abi.Point
)

// Result and vehicle flag bits, re-exported for plugin authors.
const (
	ResultConflict = abi.ResultConflict
	ResultLoS      = abi.ResultLoS
	FlagHasAccel   = abi.FlagHasAccel
	FlagGeodetic   = abi.FlagGeodetic
)

// Pair is the typed view of one pair that a scorer receives, by value: A
// and B point into the batch and are valid only during the call. (By value
// because a *Pair handed to a function value escapes to the heap, and every
// store of A and B into it would then pay a write-barrier check: a branch,
// which under the host's deadline enforcement costs a check of its own.)
type Pair struct {
	A, B   *Vehicle
	Params *Params
}

// Manifest describes the plugin (SPEC.md 2.3). Kind is derived from which of
// Plugin.Score and Plugin.Predict are set.
type Manifest struct {
	Name        string // 1..64 of [A-Za-z0-9._-]
	Version     string
	Description string
	// MatchesBuiltin claims the builtin model's exact outputs (conformance
	// then compares every field).
	MatchesBuiltin bool
}

// Plugin is what a plugin registers. Set Score, Predict or both.
type Plugin struct {
	Manifest Manifest
	// Init receives the JSON configuration once per instance, before any
	// batch; a non-nil error refuses it. Optional.
	Init func(config []byte) error
	// Score rates one pair.
	Score func(p Pair) Result
	// Predict writes v's box over [v.T, v.T+p.Horizon] and its p.Samples
	// samples (at v.T + k*p.Horizon/p.Samples, k = 1..Samples) into samples.
	Predict func(v *Vehicle, p *Params, box *Box, samples []Point)
}

var (
	plugin   Plugin
	manifest []byte
	block    []uint64 // the memory handed out by cdp_alloc (uint64: 8-aligned)
	errMsg   []byte
)

// Register installs the plugin; call it from init. A second call replaces
// the first.
func Register(p Plugin) {
	plugin = p
	kind := "scorer"
	switch {
	case p.Score != nil && p.Predict != nil:
		kind = "predictor+scorer"
	case p.Predict != nil:
		kind = "predictor"
	}
	b := []byte(`{"name":`)
	b = strconv.AppendQuote(b, p.Manifest.Name)
	b = append(b, `,"version":`...)
	b = strconv.AppendQuote(b, p.Manifest.Version)
	b = append(b, `,"kind":"`+kind+`","description":`...)
	b = strconv.AppendQuote(b, p.Manifest.Description)
	if p.Manifest.MatchesBuiltin {
		b = append(b, `,"matches_builtin":true`...)
	}
	manifest = append(b, '}')
}

// SetError records the message cdp_last_error returns; use it before
// returning an error status from a hook.
func SetError(msg string) { errMsg = []byte(msg) }

func ptrLen(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return int64(uint64(uintptr(unsafe.Pointer(&b[0])))<<32 | uint64(len(b)))
}

//go:wasmexport cdp_abi_version
func cdpABIVersion() int32 { return int32(abi.Version) }

//go:wasmexport cdp_manifest
func cdpManifest() int64 { return ptrLen(manifest) }

//go:wasmexport cdp_last_error
func cdpLastError() int64 { return ptrLen(errMsg) }

// cdp_alloc keeps one block: the host never touches an earlier block after a
// new call, so replacing it lets the GC reclaim the old one.
//
//go:wasmexport cdp_alloc
func cdpAlloc(size int32) int32 {
	if size < 0 {
		return 0
	}
	n := (int(size) + 7) / 8
	if n == 0 {
		n = 1
	}
	if n > cap(block) {
		block = make([]uint64, n)
	}
	block = block[:n]
	return int32(uintptr(unsafe.Pointer(&block[0])))
}

// at returns the address of offset off in the block, where the host put the
// batch; pointer arithmetic stays inside the Go object, as unsafe's rules ask.
func at(addr int32) unsafe.Pointer {
	base := uintptr(unsafe.Pointer(&block[0]))
	return unsafe.Add(unsafe.Pointer(&block[0]), uintptr(addr)-base)
}

//go:wasmexport cdp_init
func cdpInit(ptr, n int32) int32 {
	if plugin.Init == nil {
		return abi.StatusOK
	}
	cfg := make([]byte, n)
	if n > 0 {
		copy(cfg, unsafe.Slice((*byte)(at(ptr)), n))
	}
	if err := plugin.Init(cfg); err != nil {
		SetError(err.Error())
		return abi.StatusConfig
	}
	return abi.StatusOK
}

func headerOK(h *abi.Header, op uint32) bool {
	if h.Magic != abi.Magic || h.Version>>16 != abi.VersionMajor || h.Op != op ||
		h.VehicleStride < uint32(abi.VehicleSize) {
		return false
	}
	if op == abi.OpScore {
		return h.PairStride >= uint32(abi.PairSize) && h.ResultStride >= uint32(abi.ResultSize)
	}
	return h.BoxStride >= uint32(abi.BoxSize) && (h.Samples == 0 || h.PointStride >= uint32(abi.PointSize))
}

//go:wasmexport cdp_score
func cdpScore(batch int32) int32 {
	score := plugin.Score
	if score == nil {
		SetError("cdp_score: this plugin is not a scorer")
		return abi.StatusUnsupported
	}
	base := at(batch)
	h := (*abi.Header)(base)
	if !headerOK(h, abi.OpScore) {
		SetError("cdp_score: unsupported batch header")
		return abi.StatusABI
	}
	params := h.Params()
	vt := unsafe.Add(base, h.VehiclesOff)
	pt := unsafe.Add(base, h.PairsOff)
	rt := unsafe.Add(base, h.ResultsOff)
	vs, ps, rs := uintptr(h.VehicleStride), uintptr(h.PairStride), uintptr(h.ResultStride)
	n := uintptr(h.NumPairs)
	pp := &params
	one := func(i uintptr) {
		pr := (*abi.Pair)(unsafe.Add(pt, i*ps))
		*(*Result)(unsafe.Add(rt, i*rs)) = score(Pair{
			A:      (*Vehicle)(unsafe.Add(vt, uintptr(pr.A)*vs)),
			B:      (*Vehicle)(unsafe.Add(vt, uintptr(pr.B)*vs)),
			Params: pp,
		})
	}
	i := uintptr(0)
	// Unrolled: the host's deadline check runs once per loop iteration.
	for ; i+8 <= n; i += 8 {
		one(i)
		one(i + 1)
		one(i + 2)
		one(i + 3)
		one(i + 4)
		one(i + 5)
		one(i + 6)
		one(i + 7)
	}
	for ; i < n; i++ {
		one(i)
	}
	h.OutCount = h.NumPairs
	return abi.StatusOK
}

//go:wasmexport cdp_predict
func cdpPredict(batch int32) int32 {
	predict := plugin.Predict
	if predict == nil {
		SetError("cdp_predict: this plugin is not a predictor")
		return abi.StatusUnsupported
	}
	base := at(batch)
	h := (*abi.Header)(base)
	if !headerOK(h, abi.OpPredict) {
		SetError("cdp_predict: unsupported batch header")
		return abi.StatusABI
	}
	params := h.Params()
	ns := int(h.Samples)
	var samples []Point
	if ns > 0 && h.PointStride == uint32(abi.PointSize) {
		samples = unsafe.Slice((*Point)(unsafe.Add(base, h.SamplesOff)), int(h.NumVehicles)*ns)
	}
	var scratch []Point
	if ns > 0 && samples == nil {
		scratch = make([]Point, ns)
	}
	for i := 0; i < int(h.NumVehicles); i++ {
		v := (*Vehicle)(unsafe.Add(base, uintptr(h.VehiclesOff)+uintptr(i)*uintptr(h.VehicleStride)))
		box := (*Box)(unsafe.Add(base, uintptr(h.BoxesOff)+uintptr(i)*uintptr(h.BoxStride)))
		if samples != nil {
			predict(v, &params, box, samples[i*ns:(i+1)*ns:(i+1)*ns])
			continue
		}
		predict(v, &params, box, scratch)
		for k := range scratch { // a longer point stride: copy out
			*(*Point)(unsafe.Add(base, uintptr(h.SamplesOff)+uintptr(i*ns+k)*uintptr(h.PointStride))) = scratch[k]
		}
	}
	h.OutCount = h.NumVehicles
	return abi.StatusOK
}
