package abi

import (
	"encoding/binary"
	"math"
	"strconv"
	"unsafe"
)

// Wire constants of ABI v1 (SPEC.md, section 4).
const (
	// Magic is the first u32 of every batch: the bytes "CDPB".
	Magic uint32 = 0x42504443
	// Version is this host's ABI version as the header and cdp_abi_version
	// carry it: major<<16 | minor.
	Version uint32 = VersionMajor<<16 | VersionMinor
	// HeaderSize is the size of the v1.0 batch header in bytes.
	HeaderSize = int(unsafe.Sizeof(Header{}))
	// MaxManifestSize bounds the manifest JSON a host reads (64 KiB).
	MaxManifestSize = 64 << 10
	// MaxErrorSize bounds the cdp_last_error message a host reads (1 KiB).
	MaxErrorSize = 1 << 10
)

// Batch operations (Header.Op).
const (
	OpPredict uint32 = 1
	OpScore   uint32 = 2
)

// Status codes that cdp_init, cdp_score and cdp_predict return. Any non-zero
// value is a failure; these are the conventional ones.
const (
	StatusOK          int32 = 0
	StatusABI         int32 = 1 // header unusable
	StatusConfig      int32 = 2 // configuration refused
	StatusUnsupported int32 = 3 // operation not implemented
	StatusInternal    int32 = 4
)

// StatusText names a status code ("ERR_ABI", ...; "status 17" for others).
func StatusText(code int32) string {
	switch code {
	case StatusOK:
		return "OK"
	case StatusABI:
		return "ERR_ABI"
	case StatusConfig:
		return "ERR_CONFIG"
	case StatusUnsupported:
		return "ERR_UNSUPPORTED"
	case StatusInternal:
		return "ERR_INTERNAL"
	}
	return "status " + strconv.Itoa(int(code))
}

// Header is the 128-byte batch header (SPEC.md, section 4). Its Go layout is
// the wire layout on a little-endian machine. Offsets are relative to the
// header's own address.
type Header struct {
	Magic         uint32  // 0: Magic
	Version       uint32  // 4: host ABI version, major<<16 | minor
	HeaderSize    uint32  // 8: 128 in v1.0
	Op            uint32  // 12: OpPredict or OpScore
	NumVehicles   uint32  // 16
	NumPairs      uint32  // 20: score only
	Samples       uint32  // 24: predict only
	Flags         uint32  // 28: 0 in v1.0
	VehicleStride uint32  // 32
	BoxStride     uint32  // 36
	PointStride   uint32  // 40
	PairStride    uint32  // 44
	ResultStride  uint32  // 48
	OutCount      uint32  // 52: written by the plugin
	VehiclesOff   uint32  // 56
	PairsOff      uint32  // 60
	BoxesOff      uint32  // 64
	SamplesOff    uint32  // 68
	ResultsOff    uint32  // 72
	BatchSize     uint32  // 76: bytes from the header to the end of the last table
	Horizon       float64 // 80
	MinRisk       float64 // 88
	Reserved      [32]byte
}

var (
	_ [HeaderSize - 128]struct{}
	_ [128 - HeaderSize]struct{}
)

// Params returns the batch-wide parameters the header carries.
func (h *Header) Params() Params {
	return Params{Horizon: h.Horizon, MinRisk: h.MinRisk, Samples: h.Samples}
}

// ExpectedOut is the OutCount a correct plugin writes: NumPairs for a score
// batch, NumVehicles for a predict batch.
func (h *Header) ExpectedOut() uint32 {
	if h.Op == OpScore {
		return h.NumPairs
	}
	return h.NumVehicles
}

func align8(n uint64) uint64 { return (n + 7) &^ 7 }

// ScoreHeader returns the v1.0 layout of a score batch of nVehicles vehicles
// and nPairs pairs: header, vehicles, pairs, results, each 8-aligned. It fails
// with ErrTooLarge when the batch exceeds 32-bit offsets.
func ScoreHeader(p Params, nVehicles, nPairs int) (Header, error) {
	h := baseHeader(OpScore, p)
	if nVehicles < 0 || nPairs < 0 {
		return h, &HeaderError{Field: "n_pairs", Value: uint64(nPairs), Err: ErrTooLarge}
	}
	off := uint64(HeaderSize)
	h.VehiclesOff = uint32(off)
	off = align8(off + uint64(nVehicles)*uint64(VehicleSize))
	h.PairsOff = uint32(off)
	off = align8(off + uint64(nPairs)*uint64(PairSize))
	h.ResultsOff = uint32(off)
	off = align8(off + uint64(nPairs)*uint64(ResultSize))
	if off > math.MaxUint32 {
		return h, &HeaderError{Field: "batch_size", Value: off, Err: ErrTooLarge}
	}
	h.NumVehicles, h.NumPairs, h.BatchSize = uint32(nVehicles), uint32(nPairs), uint32(off)
	return h, nil
}

// PredictHeader returns the v1.0 layout of a predict batch of nVehicles
// vehicles with p.Samples samples each: header, vehicles, boxes, samples.
func PredictHeader(p Params, nVehicles int) (Header, error) {
	h := baseHeader(OpPredict, p)
	h.Samples = p.Samples
	if nVehicles < 0 {
		return h, &HeaderError{Field: "n_vehicles", Value: uint64(nVehicles), Err: ErrTooLarge}
	}
	off := uint64(HeaderSize)
	h.VehiclesOff = uint32(off)
	off = align8(off + uint64(nVehicles)*uint64(VehicleSize))
	h.BoxesOff = uint32(off)
	off = align8(off + uint64(nVehicles)*uint64(BoxSize))
	if p.Samples > 0 {
		h.SamplesOff = uint32(off)
		off = align8(off + uint64(nVehicles)*uint64(p.Samples)*uint64(PointSize))
	}
	if off > math.MaxUint32 {
		return h, &HeaderError{Field: "batch_size", Value: off, Err: ErrTooLarge}
	}
	h.NumVehicles, h.BatchSize = uint32(nVehicles), uint32(off)
	return h, nil
}

func baseHeader(op uint32, p Params) Header {
	return Header{
		Magic: Magic, Version: Version, HeaderSize: uint32(HeaderSize), Op: op,
		VehicleStride: uint32(VehicleSize), BoxStride: uint32(BoxSize), PointStride: uint32(PointSize),
		PairStride: uint32(PairSize), ResultStride: uint32(ResultSize),
		Horizon: p.Horizon, MinRisk: p.MinRisk,
	}
}

// Validate checks what a reader of the batch relies on: magic, major version,
// header size, strides at least the v1.0 record sizes, and every table
// 8-aligned, inside [HeaderSize, BatchSize) and not overlapping another. It
// does not check the contents of the tables.
func (h *Header) Validate() error {
	if h.Magic != Magic {
		return &HeaderError{Field: "magic", Value: uint64(h.Magic), Err: ErrMagic}
	}
	if h.Version>>16 != VersionMajor {
		return &HeaderError{Field: "version", Value: uint64(h.Version), Err: ErrVersion}
	}
	if h.HeaderSize < uint32(HeaderSize) || h.HeaderSize%8 != 0 {
		return &HeaderError{Field: "header_size", Value: uint64(h.HeaderSize), Err: ErrLayout}
	}
	type table struct {
		name, strideName string
		off              uint32
		n, stride        uint64
		min              uint64
	}
	var tabs [3]table
	nt := 0
	add := func(name string, off uint32, n uint64, stride uint32, min int, strideName string) {
		tabs[nt] = table{name, strideName, off, n, uint64(stride), uint64(min)}
		nt++
	}
	switch h.Op {
	case OpScore:
		add("vehicles_off", h.VehiclesOff, uint64(h.NumVehicles), h.VehicleStride, VehicleSize, "vehicle_stride")
		add("pairs_off", h.PairsOff, uint64(h.NumPairs), h.PairStride, PairSize, "pair_stride")
		add("results_off", h.ResultsOff, uint64(h.NumPairs), h.ResultStride, ResultSize, "result_stride")
	case OpPredict:
		add("vehicles_off", h.VehiclesOff, uint64(h.NumVehicles), h.VehicleStride, VehicleSize, "vehicle_stride")
		add("boxes_off", h.BoxesOff, uint64(h.NumVehicles), h.BoxStride, BoxSize, "box_stride")
		if h.Samples > 0 {
			add("samples_off", h.SamplesOff, uint64(h.NumVehicles)*uint64(h.Samples), h.PointStride, PointSize, "point_stride")
		}
	default:
		return &HeaderError{Field: "op", Value: uint64(h.Op), Err: ErrLayout}
	}
	for i := 0; i < nt; i++ {
		t := &tabs[i]
		if t.stride < t.min || t.stride%8 != 0 {
			return &HeaderError{Field: t.strideName, Value: t.stride, Err: ErrLayout}
		}
		end := uint64(t.off) + t.n*t.stride
		if t.off%8 != 0 || t.off < h.HeaderSize || end > uint64(h.BatchSize) {
			return &HeaderError{Field: t.name, Value: uint64(t.off), Err: ErrLayout}
		}
		for j := 0; j < i; j++ {
			u := &tabs[j]
			uend := uint64(u.off) + u.n*u.stride
			if t.n > 0 && u.n > 0 && uint64(t.off) < uend && uint64(u.off) < end {
				return &HeaderError{Field: t.name, Value: uint64(t.off), Err: ErrLayout}
			}
		}
	}
	return nil
}

// nativeLE reports whether this machine is little-endian: then every record's
// Go layout is its wire layout, and tables are copied or viewed in place.
var nativeLE = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// fastPath is nativeLE; the tests turn it off to exercise the portable path.
var fastPath = nativeLE

// PutHeader writes h into b[:HeaderSize].
func PutHeader(b []byte, h *Header) {
	_ = b[HeaderSize-1]
	if fastPath {
		*(*[128]byte)(b) = *(*[128]byte)(unsafe.Pointer(h))
		return
	}
	le := binary.LittleEndian
	u := [...]uint32{h.Magic, h.Version, h.HeaderSize, h.Op, h.NumVehicles, h.NumPairs, h.Samples, h.Flags,
		h.VehicleStride, h.BoxStride, h.PointStride, h.PairStride, h.ResultStride, h.OutCount,
		h.VehiclesOff, h.PairsOff, h.BoxesOff, h.SamplesOff, h.ResultsOff, h.BatchSize}
	for i, v := range u {
		le.PutUint32(b[4*i:], v)
	}
	le.PutUint64(b[80:], math.Float64bits(h.Horizon))
	le.PutUint64(b[88:], math.Float64bits(h.MinRisk))
	copy(b[96:128], h.Reserved[:])
}

// DecodeHeader reads the header at b[0:] and validates it against len(b).
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, &HeaderError{Field: "header_size", Value: uint64(len(b)), Err: ErrShort}
	}
	if fastPath {
		*(*[128]byte)(unsafe.Pointer(&h)) = *(*[128]byte)(b)
	} else {
		le := binary.LittleEndian
		u := [...]*uint32{&h.Magic, &h.Version, &h.HeaderSize, &h.Op, &h.NumVehicles, &h.NumPairs, &h.Samples, &h.Flags,
			&h.VehicleStride, &h.BoxStride, &h.PointStride, &h.PairStride, &h.ResultStride, &h.OutCount,
			&h.VehiclesOff, &h.PairsOff, &h.BoxesOff, &h.SamplesOff, &h.ResultsOff, &h.BatchSize}
		for i, p := range u {
			*p = le.Uint32(b[4*i:])
		}
		h.Horizon = math.Float64frombits(le.Uint64(b[80:]))
		h.MinRisk = math.Float64frombits(le.Uint64(b[88:]))
		copy(h.Reserved[:], b[96:128])
	}
	if err := h.Validate(); err != nil {
		return h, err
	}
	if uint64(len(b)) < uint64(h.BatchSize) {
		return h, &HeaderError{Field: "batch_size", Value: uint64(h.BatchSize), Err: ErrShort}
	}
	return h, nil
}

// OutCountOffset is the byte offset of Header.OutCount, which the plugin writes.
const OutCountOffset = int(unsafe.Offsetof(Header{}.OutCount))

// ReadOutCount returns the OutCount field of the header at b[0:].
func ReadOutCount(b []byte) uint32 { return binary.LittleEndian.Uint32(b[OutCountOffset:]) }

// view returns b[off:off+n*size] as a []T when T's layout is its wire layout,
// the stride equals size, and the address is aligned for T; otherwise nil.
// Such a view aliases b: it is valid as long as b is (for guest memory: until
// the guest grows its memory).
func view[T any](b []byte, off, n uint32, stride uint32) []T {
	var zero T
	size := uint32(unsafe.Sizeof(zero))
	if !fastPath || stride != size || n == 0 {
		if n == 0 && fastPath {
			return []T{}
		}
		return nil
	}
	end := uint64(off) + uint64(n)*uint64(size)
	if end > uint64(len(b)) {
		return nil
	}
	p := unsafe.Pointer(&b[off])
	if uintptr(p)%unsafe.Alignof(zero) != 0 {
		return nil
	}
	return unsafe.Slice((*T)(p), n)
}

// VehiclesView returns the batch's vehicle table in b as a []Vehicle aliasing
// b, or nil when it cannot be viewed in place (big-endian machine, a stride
// other than VehicleSize, misaligned b); use GetVehicle/PutVehicle then.
func VehiclesView(b []byte, h *Header) []Vehicle {
	return view[Vehicle](b, h.VehiclesOff, h.NumVehicles, h.VehicleStride)
}

// PairsView is VehiclesView for the pair list.
func PairsView(b []byte, h *Header) []Pair {
	return view[Pair](b, h.PairsOff, h.NumPairs, h.PairStride)
}

// ResultsView is VehiclesView for the results.
func ResultsView(b []byte, h *Header) []Result {
	return view[Result](b, h.ResultsOff, h.NumPairs, h.ResultStride)
}

// BoxesView is VehiclesView for the boxes of a predict batch.
func BoxesView(b []byte, h *Header) []Box {
	return view[Box](b, h.BoxesOff, h.NumVehicles, h.BoxStride)
}

// SamplesView is VehiclesView for the samples of a predict batch.
func SamplesView(b []byte, h *Header) []Point {
	return view[Point](b, h.SamplesOff, h.NumVehicles*h.Samples, h.PointStride)
}

// PutVehicles writes vs as rows 0..len(vs)-1 of the vehicle table. It does not
// allocate: one copy on a little-endian machine, per-field encoding otherwise.
func PutVehicles(b []byte, h *Header, vs []Vehicle) {
	if dst := view[Vehicle](b, h.VehiclesOff, uint32(len(vs)), h.VehicleStride); dst != nil {
		copy(dst, vs)
		return
	}
	for i := range vs {
		PutVehicle(b, h, i, &vs[i])
	}
}

// PutVehicle writes v as row i of the vehicle table.
func PutVehicle(b []byte, h *Header, i int, v *Vehicle) {
	o := int(h.VehiclesOff) + i*int(h.VehicleStride)
	EncodeVehicle(b[o:o+VehicleSize], v)
}

// GetVehicle reads row i of the vehicle table into v.
func GetVehicle(b []byte, h *Header, i int, v *Vehicle) {
	o := int(h.VehiclesOff) + i*int(h.VehicleStride)
	DecodeVehicle(b[o:o+VehicleSize], v)
}

// PutPairs writes ps as the pair list.
func PutPairs(b []byte, h *Header, ps []Pair) {
	if dst := view[Pair](b, h.PairsOff, uint32(len(ps)), h.PairStride); dst != nil {
		copy(dst, ps)
		return
	}
	for i := range ps {
		PutPair(b, h, i, ps[i])
	}
}

// PutPair writes p as row i of the pair list.
func PutPair(b []byte, h *Header, i int, p Pair) {
	o := int(h.PairsOff) + i*int(h.PairStride)
	binary.LittleEndian.PutUint32(b[o:], p.A)
	binary.LittleEndian.PutUint32(b[o+4:], p.B)
}

// GetPair reads row i of the pair list.
func GetPair(b []byte, h *Header, i int) Pair {
	o := int(h.PairsOff) + i*int(h.PairStride)
	return Pair{binary.LittleEndian.Uint32(b[o:]), binary.LittleEndian.Uint32(b[o+4:])}
}

// GetResults reads results 0..len(out)-1 into out.
func GetResults(b []byte, h *Header, out []Result) {
	if src := view[Result](b, h.ResultsOff, uint32(len(out)), h.ResultStride); src != nil {
		copy(out, src)
		return
	}
	for i := range out {
		GetResult(b, h, i, &out[i])
	}
}

// GetResult reads result i into r.
func GetResult(b []byte, h *Header, i int, r *Result) {
	o := int(h.ResultsOff) + i*int(h.ResultStride)
	DecodeResult(b[o:o+ResultSize], r)
}

// PutResults writes rs as results 0..len(rs)-1.
func PutResults(b []byte, h *Header, rs []Result) {
	if dst := view[Result](b, h.ResultsOff, uint32(len(rs)), h.ResultStride); dst != nil {
		copy(dst, rs)
		return
	}
	for i := range rs {
		o := int(h.ResultsOff) + i*int(h.ResultStride)
		EncodeResult(b[o:o+ResultSize], &rs[i])
	}
}

// GetBoxes reads boxes 0..len(out)-1 of a predict batch into out.
func GetBoxes(b []byte, h *Header, out []Box) {
	if src := view[Box](b, h.BoxesOff, uint32(len(out)), h.BoxStride); src != nil {
		copy(out, src)
		return
	}
	for i := range out {
		o := int(h.BoxesOff) + i*int(h.BoxStride)
		getF64s(b[o:o+BoxSize], (*[6]float64)(unsafe.Pointer(&out[i]))[:])
	}
}

// PutBoxes writes bs as boxes 0..len(bs)-1 of a predict batch.
func PutBoxes(b []byte, h *Header, bs []Box) {
	if dst := view[Box](b, h.BoxesOff, uint32(len(bs)), h.BoxStride); dst != nil {
		copy(dst, bs)
		return
	}
	for i := range bs {
		o := int(h.BoxesOff) + i*int(h.BoxStride)
		putF64s(b[o:o+BoxSize], (*[6]float64)(unsafe.Pointer(&bs[i]))[:])
	}
}

// GetSamples reads samples 0..len(out)-1 (vehicle-major) of a predict batch.
func GetSamples(b []byte, h *Header, out []Point) {
	if src := view[Point](b, h.SamplesOff, uint32(len(out)), h.PointStride); src != nil {
		copy(out, src)
		return
	}
	for i := range out {
		o := int(h.SamplesOff) + i*int(h.PointStride)
		getF64s(b[o:o+PointSize], (*[3]float64)(unsafe.Pointer(&out[i]))[:])
	}
}

// PutSamples writes ps as samples 0..len(ps)-1 of a predict batch.
func PutSamples(b []byte, h *Header, ps []Point) {
	if dst := view[Point](b, h.SamplesOff, uint32(len(ps)), h.PointStride); dst != nil {
		copy(dst, ps)
		return
	}
	for i := range ps {
		o := int(h.SamplesOff) + i*int(h.PointStride)
		putF64s(b[o:o+PointSize], (*[3]float64)(unsafe.Pointer(&ps[i]))[:])
	}
}

// EncodeVehicle writes v's 128-byte wire form into b[:VehicleSize].
func EncodeVehicle(b []byte, v *Vehicle) {
	_ = b[VehicleSize-1]
	if fastPath {
		*(*[128]byte)(b) = *(*[128]byte)(unsafe.Pointer(v))
		return
	}
	le := binary.LittleEndian
	putF64s(b[:96], (*[12]float64)(unsafe.Pointer(v))[:])
	le.PutUint32(b[96:], math.Float32bits(v.Radius))
	le.PutUint32(b[100:], math.Float32bits(v.HSep))
	le.PutUint32(b[104:], math.Float32bits(v.VSep))
	le.PutUint32(b[108:], math.Float32bits(v.Sigma))
	le.PutUint32(b[112:], v.Class)
	le.PutUint32(b[116:], v.Flags)
	le.PutUint64(b[120:], v.Key)
}

// DecodeVehicle reads a 128-byte wire vehicle from b into v.
func DecodeVehicle(b []byte, v *Vehicle) {
	_ = b[VehicleSize-1]
	if fastPath {
		*(*[128]byte)(unsafe.Pointer(v)) = *(*[128]byte)(b)
		return
	}
	le := binary.LittleEndian
	getF64s(b[:96], (*[12]float64)(unsafe.Pointer(v))[:])
	v.Radius = math.Float32frombits(le.Uint32(b[96:]))
	v.HSep = math.Float32frombits(le.Uint32(b[100:]))
	v.VSep = math.Float32frombits(le.Uint32(b[104:]))
	v.Sigma = math.Float32frombits(le.Uint32(b[108:]))
	v.Class = le.Uint32(b[112:])
	v.Flags = le.Uint32(b[116:])
	v.Key = le.Uint64(b[120:])
}

// EncodeResult writes r's 48-byte wire form into b[:ResultSize]; the
// reserved word is written as zero.
func EncodeResult(b []byte, r *Result) {
	_ = b[ResultSize-1]
	putF64s(b[:40], (*[5]float64)(unsafe.Pointer(r))[:])
	binary.LittleEndian.PutUint32(b[40:], r.Flags)
	binary.LittleEndian.PutUint32(b[44:], 0)
}

// DecodeResult reads a 48-byte wire result from b into r; the reserved word is
// ignored.
func DecodeResult(b []byte, r *Result) {
	_ = b[ResultSize-1]
	getF64s(b[:40], (*[5]float64)(unsafe.Pointer(r))[:])
	r.Flags = binary.LittleEndian.Uint32(b[40:])
}

func putF64s(b []byte, fs []float64) {
	for i, f := range fs {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(f))
	}
}

func getF64s(b []byte, fs []float64) {
	for i := range fs {
		fs[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
}
