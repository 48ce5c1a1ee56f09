// Package wasmtest writes small WebAssembly modules for tests: hostile plugins and minimal scorers, without a toolchain.
//
// wazero has no text-format parser, and modules assembled here need no
// compiler, so a test states the misbehaviour it wants in a few instructions.
package wasmtest

import (
	"encoding/binary"
	"math"
)

// Value types of the WebAssembly binary format, for Func and Import
// signatures and Func locals.
const (
	// TypeI32 is the i32 value type.
	TypeI32 = 0x7f
	// TypeI64 is the i64 value type.
	TypeI64 = 0x7e
	// TypeF64 is the f64 value type.
	TypeF64 = 0x7c
)

// Arena layout of the modules Hostile writes: the manifest at ManifestAt, the
// last error at ErrorAt, the batch arena at ArenaAt (up to ArenaCap bytes).
const (
	// ManifestAt is the memory offset of the manifest JSON.
	ManifestAt = 1024
	// ErrorAt is the memory offset of the last-error message.
	ErrorAt = 2048
	// ArenaAt is the offset cdp_alloc returns for every request.
	ArenaAt = 65536
	// ArenaCap is the largest size cdp_alloc grants; larger requests get 0.
	ArenaCap = 16 << 16
)

// Func is one function defined by a Module. Each gets its own type.
type Func struct {
	Export string // export name; "": not exported
	Params []byte // valtypes
	Result []byte // valtypes
	Locals []byte // one valtype per local
	Body   Code   // without the final end
}

// Import is one imported function of a Module.
type Import struct {
	Module, Name   string
	Params, Result []byte // valtypes
}

// Data is an active data segment of memory 0.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Module is a whole module: imported functions come first in the function
// index space, then Funcs. Its memory, unless NoMemory, is exported as
// "memory".
type Module struct {
	Imports  []Import
	Funcs    []Func
	MemMin   uint32 // pages
	MemMax   int64  // pages; -1: no maximum
	NoMemory bool
	Data     []Data
	Start    int // function index + 1 of the start function; 0: none
	// Tables are funcref tables by their minimum size, without a maximum.
	Tables []uint32
}

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func wstr(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }

func section(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = uleb(out, uint64(len(body)))
	return append(out, body...)
}

func vec(b []byte, n int) []byte { return uleb(b, uint64(n)) }

// Bytes encodes the module in the WebAssembly binary format.
func (m *Module) Bytes() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	// Types: imports first, then functions.
	var types []byte
	n := len(m.Imports) + len(m.Funcs)
	types = vec(types, n)
	sig := func(b, params, result []byte) []byte {
		b = append(b, 0x60)
		b = append(vec(b, len(params)), params...)
		return append(vec(b, len(result)), result...)
	}
	for _, im := range m.Imports {
		types = sig(types, im.Params, im.Result)
	}
	for _, f := range m.Funcs {
		types = sig(types, f.Params, f.Result)
	}
	out = section(out, 1, types)
	if len(m.Imports) > 0 {
		var ib []byte
		ib = vec(ib, len(m.Imports))
		for i, im := range m.Imports {
			ib = wstr(ib, im.Module)
			ib = wstr(ib, im.Name)
			ib = append(ib, 0x00)
			ib = uleb(ib, uint64(i))
		}
		out = section(out, 2, ib)
	}
	var fb []byte
	fb = vec(fb, len(m.Funcs))
	for i := range m.Funcs {
		fb = uleb(fb, uint64(len(m.Imports)+i))
	}
	out = section(out, 3, fb)
	if len(m.Tables) > 0 {
		tb := vec(nil, len(m.Tables))
		for _, n := range m.Tables {
			tb = append(tb, 0x70, 0x00)
			tb = uleb(tb, uint64(n))
		}
		out = section(out, 4, tb)
	}
	if !m.NoMemory {
		mb := vec(nil, 1)
		if m.MemMax >= 0 {
			mb = append(mb, 1)
			mb = uleb(mb, uint64(m.MemMin))
			mb = uleb(mb, uint64(m.MemMax))
		} else {
			mb = append(mb, 0)
			mb = uleb(mb, uint64(m.MemMin))
		}
		out = section(out, 5, mb)
	}
	var eb []byte
	ne := 0
	for _, f := range m.Funcs {
		if f.Export != "" {
			ne++
		}
	}
	if !m.NoMemory {
		ne++
	}
	eb = vec(eb, ne)
	if !m.NoMemory {
		eb = wstr(eb, "memory")
		eb = append(eb, 0x02, 0)
	}
	for i, f := range m.Funcs {
		if f.Export != "" {
			eb = wstr(eb, f.Export)
			eb = append(eb, 0x00)
			eb = uleb(eb, uint64(len(m.Imports)+i))
		}
	}
	out = section(out, 7, eb)
	if m.Start > 0 {
		out = section(out, 8, uleb(nil, uint64(m.Start-1)))
	}
	var cb []byte
	cb = vec(cb, len(m.Funcs))
	for _, f := range m.Funcs {
		var body []byte
		body = vec(body, len(f.Locals))
		for _, l := range f.Locals {
			body = append(body, 1, l)
		}
		body = append(body, f.Body...)
		body = append(body, 0x0b)
		cb = uleb(cb, uint64(len(body)))
		cb = append(cb, body...)
	}
	out = section(out, 10, cb)
	if len(m.Data) > 0 {
		var db []byte
		db = vec(db, len(m.Data))
		for _, d := range m.Data {
			db = append(db, 0x00, 0x41)
			db = sleb(db, int64(int32(d.Offset)))
			db = append(db, 0x0b)
			db = uleb(db, uint64(len(d.Bytes)))
			db = append(db, d.Bytes...)
		}
		out = section(out, 11, db)
	}
	return out
}

// Code is a function body under construction. Each method appends one
// instruction (or a few) and returns the longer body, so that bodies read as
// chains: Code{}.Get(0).I32(1).I32Add().
type Code []byte

// I32 appends i32.const v.
func (c Code) I32(v int32) Code { return sleb(append(c, 0x41), int64(v)) }

// I64 appends i64.const v.
func (c Code) I64(v int64) Code { return sleb(append(c, 0x42), v) }

// F64 appends f64.const v.
func (c Code) F64(v float64) Code {
	c = append(c, 0x44)
	return binary.LittleEndian.AppendUint64(c, math.Float64bits(v))
}

// Get appends local.get i.
func (c Code) Get(i uint32) Code { return uleb(append(c, 0x20), uint64(i)) }

// Set appends local.set i.
func (c Code) Set(i uint32) Code { return uleb(append(c, 0x21), uint64(i)) }

// Op appends raw opcode bytes, for instructions without a method.
func (c Code) Op(ops ...byte) Code { return append(c, ops...) }

// Load32 appends i32.load at offset off (alignment 4).
func (c Code) Load32(off uint32) Code { return uleb(append(c, 0x28, 2), uint64(off)) }

// Store32 appends i32.store at offset off (alignment 4).
func (c Code) Store32(off uint32) Code { return uleb(append(c, 0x36, 2), uint64(off)) }

// StoreF64 appends f64.store at offset off (alignment 8).
func (c Code) StoreF64(off uint32) Code { return uleb(append(c, 0x39, 3), uint64(off)) }

// LoadF64 appends f64.load at offset off (alignment 8).
func (c Code) LoadF64(off uint32) Code { return uleb(append(c, 0x2b, 3), uint64(off)) }

// Call appends call f, f being an index in the function index space
// (imports first).
func (c Code) Call(f uint32) Code { return uleb(append(c, 0x10), uint64(f)) }

// BrIf appends br_if depth.
func (c Code) BrIf(depth uint32) Code { return uleb(append(c, 0x0d), uint64(depth)) }

// Br appends br depth.
func (c Code) Br(depth uint32) Code { return uleb(append(c, 0x0c), uint64(depth)) }

// Block opens a block without a result; End closes it.
func (c Code) Block() Code { return append(c, 0x02, 0x40) }

// Loop opens a loop without a result; End closes it.
func (c Code) Loop() Code { return append(c, 0x03, 0x40) }

// End appends end, closing the innermost Block or Loop.
func (c Code) End() Code { return append(c, 0x0b) }

// MemGrow appends memory.grow of memory 0.
func (c Code) MemGrow() Code { return append(c, 0x40, 0) }

// Unreachable appends unreachable: a trap.
func (c Code) Unreachable() Code { return append(c, 0x00) }

// Drop appends drop.
func (c Code) Drop() Code { return append(c, 0x1a) }

// I32Add appends i32.add.
func (c Code) I32Add() Code { return append(c, 0x6a) }

// I32Sub appends i32.sub.
func (c Code) I32Sub() Code { return append(c, 0x6b) }

// I32GeU appends i32.ge_u.
func (c Code) I32GeU() Code { return append(c, 0x4f) }

// I32Eq appends i32.eq.
func (c Code) I32Eq() Code { return append(c, 0x46) }

// I32GtU appends i32.gt_u.
func (c Code) I32GtU() Code { return append(c, 0x4b) }

// F64Gt appends f64.gt.
func (c Code) F64Gt() Code { return append(c, 0x64) }

// IfElseI32 appends an if with an i32 result: then runs when the popped
// condition is non-zero, els otherwise.
func (c Code) IfElseI32(then, els Code) Code {
	return append(append(append(append(c, 0x04, TypeI32), then...), 0x05), append(els, 0x0b)...)
}

// IfThen appends an if without a result or else branch.
func (c Code) IfThen(then Code) Code { return append(append(append(c, 0x04, 0x40), then...), 0x0b) }

// Spin appends a loop that never ends.
func (c Code) Spin() Code { return c.Loop().Br(0).End() }

// With appends more, a body built elsewhere.
func (c Code) With(more Code) Code { return append(c, more...) }

// Hostile describes a test module as changes to a well-formed scorer whose
// every result is {risk 0, tca 0, dmin 0, t_in -1, t_out -1, flags 0}. Its
// zero value is that scorer.
type Hostile struct {
	Manifest   string // manifest JSON; default: a scorer named "hostile"
	Version    int32  // cdp_abi_version; default 1<<16 (ABI 1.0)
	MemMin     uint32 // pages; default enough for the arena
	MemMax     int64  // pages; 0: no maximum
	Initialize Code   // body of _initialize; nil: not exported
	Init       Code   // body of cdp_init(ptr, len) -> i32; nil: not exported
	Score      Code   // replaces the body of cdp_score(batch) -> i32 when set
	After      Code   // runs after the result loop, before out_count; local 0 = batch, 1 = i, 2 = r
	OutCount   Code   // pushes the out_count value (default n_pairs); local 0 = batch
	Status     int32  // what cdp_score returns; default 0 (ok)
	Imports    []Import
	NoAlloc    bool // leave out cdp_alloc
	NoScore    bool // leave out cdp_score
	StartOnly  bool // export an empty _start, as a WASI command does
	Extra      []Func
	Data       []Data
	ErrorMsg   string // what cdp_last_error points at; default "test module failure"
	StartLoop  bool   // a wasm start function that never returns
}

// ExtraIndex returns the function index of h.Extra[0] in the module that
// h.Module writes (imports first, then the exports Hostile defines).
func (h Hostile) ExtraIndex() uint32 {
	n := len(h.Imports) + 3 // cdp_abi_version, cdp_manifest, cdp_last_error
	for _, present := range []bool{!h.NoAlloc, h.Initialize != nil, h.StartOnly, h.Init != nil, !h.NoScore} {
		if present {
			n++
		}
	}
	return uint32(n)
}

// CallTree returns depth functions, to be placed at function index first
// (Hostile.Extra at Hostile.ExtraIndex): function k calls function k+1
// twice and the last does nothing, so calling the first makes 2^depth calls
// without a single loop. At depth 48 it runs for days.
func CallTree(first uint32, depth int) []Func {
	fs := make([]Func, depth)
	for k := range fs {
		if k < depth-1 {
			next := first + uint32(k) + 1
			fs[k].Body = Code{}.Call(next).Call(next)
		}
	}
	return fs
}

// Module encodes the module h describes.
func (h Hostile) Module() []byte {
	if h.Manifest == "" {
		h.Manifest = `{"name":"hostile","version":"0.0.1","kind":"scorer","description":"test module"}`
	}
	if h.Version == 0 {
		h.Version = 1 << 16
	}
	if h.MemMin == 0 {
		h.MemMin = 1 + ArenaCap>>16
	}
	if h.MemMax == 0 {
		h.MemMax = -1
	}
	m := &Module{Imports: h.Imports, MemMin: h.MemMin, MemMax: h.MemMax}
	m.Data = append(m.Data, Data{ManifestAt, []byte(h.Manifest)})
	m.Data = append(m.Data, h.Data...)
	msg := h.ErrorMsg
	if msg == "" {
		msg = "test module failure"
	}
	m.Data = append(m.Data, Data{ErrorAt, []byte(msg)})
	m.Funcs = append(m.Funcs,
		Func{Export: "cdp_abi_version", Result: []byte{TypeI32}, Body: Code{}.I32(h.Version)},
		Func{Export: "cdp_manifest", Result: []byte{TypeI64}, Body: Code{}.I64(int64(ManifestAt)<<32 | int64(len(h.Manifest)))},
		Func{Export: "cdp_last_error", Result: []byte{TypeI64}, Body: Code{}.I64(int64(ErrorAt)<<32 | int64(len(msg)))},
	)
	if !h.NoAlloc {
		// cdp_alloc(size) = size > ArenaCap ? 0 : ArenaAt
		m.Funcs = append(m.Funcs, Func{Export: "cdp_alloc", Params: []byte{TypeI32}, Result: []byte{TypeI32},
			Body: Code{}.Get(0).I32(ArenaCap).I32GtU().IfElseI32(Code{}.I32(0), Code{}.I32(ArenaAt))})
	}
	if h.Initialize != nil {
		m.Funcs = append(m.Funcs, Func{Export: "_initialize", Body: h.Initialize})
	}
	if h.StartOnly {
		m.Funcs = append(m.Funcs, Func{Export: "_start"})
	}
	if h.Init != nil {
		m.Funcs = append(m.Funcs, Func{Export: "cdp_init", Params: []byte{TypeI32, TypeI32}, Result: []byte{TypeI32}, Body: h.Init})
	}
	if !h.NoScore {
		body := h.Score
		if body == nil {
			// local 0 batch, 1 i, 2 r
			body = Code{}.
				Get(0).Get(0).Load32(72).I32Add().Set(2).
				Block().Loop().
				Get(1).Get(0).Load32(20).I32GeU().BrIf(1).
				Get(2).F64(0).StoreF64(0).
				Get(2).F64(0).StoreF64(8).
				Get(2).F64(0).StoreF64(16).
				Get(2).F64(-1).StoreF64(24).
				Get(2).F64(-1).StoreF64(32).
				Get(2).I32(0).Store32(40).
				Get(2).Get(0).Load32(48).I32Add().Set(2).
				Get(1).I32(1).I32Add().Set(1).
				Br(0).End().End().
				Get(0).Get(0).Load32(72).I32Add().Set(2). // r = first result, for After
				With(h.After)
			oc := h.OutCount
			if oc == nil {
				oc = Code{}.Get(0).Load32(20)
			}
			body = body.Get(0).With(oc).Store32(52).I32(h.Status)
		}
		m.Funcs = append(m.Funcs, Func{Export: "cdp_score", Params: []byte{TypeI32}, Result: []byte{TypeI32},
			Locals: []byte{TypeI32, TypeI32}, Body: body})
	}
	m.Funcs = append(m.Funcs, h.Extra...)
	if h.StartLoop {
		m.Funcs = append(m.Funcs, Func{Body: Code{}.Spin()})
		m.Start = len(m.Imports) + len(m.Funcs)
	}
	return m.Bytes()
}

// TimeBomb returns a well-formed zero scorer named name (it passes
// conformance: the vectors are dated 2023) that traps on every batch whose
// first vehicle's time is after t: a model that breaks on live traffic only.
func TimeBomb(name string, t float64) []byte {
	return Hostile{
		Manifest: `{"name":"` + name + `","version":"1.0.0","kind":"scorer"}`,
		// vehicle 0 is at batch + vehicles_off; its t is at +88.
		After: Code{}.Get(0).Get(0).Load32(56).I32Add().LoadF64(88).F64(t).F64Gt().IfThen(Code{}.Unreachable()),
	}.Module()
}

// ZeroScorer returns a well-formed scorer, named name at version version,
// that rates every pair 0.
func ZeroScorer(name, version string) []byte {
	return Hostile{Manifest: `{"name":"` + name + `","version":"` + version + `","kind":"scorer"}`}.Module()
}

// BoxPredictor returns a well-formed predictor, named name, whose box for
// every vehicle is its position +- half metres on each axis and whose every
// sample is the current position. With half = 1e30 the boxes are finite
// and hold everything, yet pair each vehicle with every other.
func BoxPredictor(name string, half float64) []byte {
	const (
		batch, i, v, b, s, k = 0, 1, 2, 3, 4, 5
	)
	// box corner: v.<axis> -/+ half
	corner := func(c Code, axis uint32, add bool, at uint32) Code {
		op := byte(0xa1) // f64.sub
		if add {
			op = 0xa0 // f64.add
		}
		return c.Get(b).Get(v).LoadF64(8 * axis).F64(half).Op(op).StoreF64(at)
	}
	sample := Code{}.
		I32(0).Set(k).
		Block().Loop().
		Get(k).Get(batch).Load32(24).I32GeU().BrIf(1).
		Get(s).Get(v).LoadF64(0).StoreF64(0).
		Get(s).Get(v).LoadF64(8).StoreF64(8).
		Get(s).Get(v).LoadF64(16).StoreF64(16).
		Get(s).Get(batch).Load32(40).I32Add().Set(s).
		Get(k).I32(1).I32Add().Set(k).
		Br(0).End().End()
	body := Code{}.
		Get(batch).Get(batch).Load32(56).I32Add().Set(v).
		Get(batch).Get(batch).Load32(64).I32Add().Set(b).
		Get(batch).Get(batch).Load32(68).I32Add().Set(s).
		Block().Loop().
		Get(i).Get(batch).Load32(16).I32GeU().BrIf(1)
	for axis := uint32(0); axis < 3; axis++ {
		body = corner(body, axis, false, 8*axis)
		body = corner(body, axis, true, 24+8*axis)
	}
	body = body.With(sample).
		Get(v).Get(batch).Load32(32).I32Add().Set(v).
		Get(b).Get(batch).Load32(36).I32Add().Set(b).
		Get(i).I32(1).I32Add().Set(i).
		Br(0).End().End().
		Get(batch).Get(batch).Load32(16).Store32(52).
		I32(0)
	i32 := []byte{TypeI32}
	return Hostile{
		Manifest: `{"name":"` + name + `","version":"1.0.0","kind":"predictor"}`,
		NoScore:  true,
		Extra: []Func{{Export: "cdp_predict", Params: i32, Result: i32,
			Locals: []byte{TypeI32, TypeI32, TypeI32, TypeI32, TypeI32}, Body: body}},
	}.Module()
}
