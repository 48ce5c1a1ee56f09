package plugins

import (
	"encoding/binary"
	"math"
)

// A tiny WebAssembly binary writer for the hostile test modules: wazero has
// no text-format parser, and hand-assembled modules need no toolchain.

const (
	tI32 = 0x7f
	tI64 = 0x7e
	tF64 = 0x7c
)

type wfunc struct {
	export string
	params []byte
	result []byte
	locals []byte // one valtype per local
	body   []byte // without the final end
}

type wimport struct {
	module, name   string
	params, result []byte
}

type wmod struct {
	imports  []wimport
	funcs    []wfunc
	memMin   uint32
	memMax   int64 // -1: none
	noMemory bool
	data     []wdata
	start    int // function index + 1 of the start function; 0: none
}

type wdata struct {
	off uint32
	b   []byte
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

// bytes encodes the module. Each function gets its own type.
func (m *wmod) bytes() []byte {
	out := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	// Types: imports first, then functions.
	var types []byte
	n := len(m.imports) + len(m.funcs)
	types = vec(types, n)
	sig := func(b, params, result []byte) []byte {
		b = append(b, 0x60)
		b = append(vec(b, len(params)), params...)
		return append(vec(b, len(result)), result...)
	}
	for _, im := range m.imports {
		types = sig(types, im.params, im.result)
	}
	for _, f := range m.funcs {
		types = sig(types, f.params, f.result)
	}
	out = section(out, 1, types)
	if len(m.imports) > 0 {
		var ib []byte
		ib = vec(ib, len(m.imports))
		for i, im := range m.imports {
			ib = wstr(ib, im.module)
			ib = wstr(ib, im.name)
			ib = append(ib, 0x00)
			ib = uleb(ib, uint64(i))
		}
		out = section(out, 2, ib)
	}
	var fb []byte
	fb = vec(fb, len(m.funcs))
	for i := range m.funcs {
		fb = uleb(fb, uint64(len(m.imports)+i))
	}
	out = section(out, 3, fb)
	if !m.noMemory {
		mb := vec(nil, 1)
		if m.memMax >= 0 {
			mb = append(mb, 1)
			mb = uleb(mb, uint64(m.memMin))
			mb = uleb(mb, uint64(m.memMax))
		} else {
			mb = append(mb, 0)
			mb = uleb(mb, uint64(m.memMin))
		}
		out = section(out, 5, mb)
	}
	var eb []byte
	ne := 0
	for _, f := range m.funcs {
		if f.export != "" {
			ne++
		}
	}
	if !m.noMemory {
		ne++
	}
	eb = vec(eb, ne)
	if !m.noMemory {
		eb = wstr(eb, "memory")
		eb = append(eb, 0x02, 0)
	}
	for i, f := range m.funcs {
		if f.export != "" {
			eb = wstr(eb, f.export)
			eb = append(eb, 0x00)
			eb = uleb(eb, uint64(len(m.imports)+i))
		}
	}
	out = section(out, 7, eb)
	if m.start > 0 {
		out = section(out, 8, uleb(nil, uint64(m.start-1)))
	}
	var cb []byte
	cb = vec(cb, len(m.funcs))
	for _, f := range m.funcs {
		var body []byte
		body = vec(body, len(f.locals))
		for _, l := range f.locals {
			body = append(body, 1, l)
		}
		body = append(body, f.body...)
		body = append(body, 0x0b)
		cb = uleb(cb, uint64(len(body)))
		cb = append(cb, body...)
	}
	out = section(out, 10, cb)
	if len(m.data) > 0 {
		var db []byte
		db = vec(db, len(m.data))
		for _, d := range m.data {
			db = append(db, 0x00, 0x41)
			db = sleb(db, int64(int32(d.off)))
			db = append(db, 0x0b)
			db = uleb(db, uint64(len(d.b)))
			db = append(db, d.b...)
		}
		out = section(out, 11, db)
	}
	return out
}

// Instruction helpers.
type code []byte

func (c code) i32(v int32) code { return sleb(append(c, 0x41), int64(v)) }
func (c code) i64(v int64) code { return sleb(append(c, 0x42), v) }
func (c code) f64(v float64) code {
	c = append(c, 0x44)
	return binary.LittleEndian.AppendUint64(c, math.Float64bits(v))
}
func (c code) get(i uint32) code        { return uleb(append(c, 0x20), uint64(i)) }
func (c code) set(i uint32) code        { return uleb(append(c, 0x21), uint64(i)) }
func (c code) op(ops ...byte) code      { return append(c, ops...) }
func (c code) load32(off uint32) code   { return uleb(append(c, 0x28, 2), uint64(off)) }
func (c code) store32(off uint32) code  { return uleb(append(c, 0x36, 2), uint64(off)) }
func (c code) storeF64(off uint32) code { return uleb(append(c, 0x39, 3), uint64(off)) }
func (c code) call(f uint32) code       { return uleb(append(c, 0x10), uint64(f)) }
func (c code) brIf(depth uint32) code   { return uleb(append(c, 0x0d), uint64(depth)) }
func (c code) br(depth uint32) code     { return uleb(append(c, 0x0c), uint64(depth)) }
func (c code) block() code              { return append(c, 0x02, 0x40) }
func (c code) loop() code               { return append(c, 0x03, 0x40) }
func (c code) end() code                { return append(c, 0x0b) }
func (c code) memGrow() code            { return append(c, 0x40, 0) }
func (c code) unreachable() code        { return append(c, 0x00) }
func (c code) drop() code               { return append(c, 0x1a) }
func (c code) i32Add() code             { return append(c, 0x6a) }
func (c code) i32Sub() code             { return append(c, 0x6b) }
func (c code) i32GeU() code             { return append(c, 0x4f) }
func (c code) i32Eq() code              { return append(c, 0x46) }
func (c code) i32GtU() code             { return append(c, 0x4b) }
func (c code) ifElseI32(then, els code) code {
	return append(append(append(append(c, 0x04, tI32), then...), 0x05), append(els, 0x0b)...)
}
func (c code) spin() code          { return c.loop().br(0).end() }
func (c code) with(more code) code { return append(c, more...) }

// Arena layout of the test modules: the manifest at 1024, the last error at
// 2048, the batch arena at 65536 (up to arenaCap bytes).
const (
	manifestAt = 1024
	errorAt    = 2048
	arenaAt    = 65536
	arenaCap   = 16 << 16
)

// hostile describes a test module as changes to a well-formed scorer whose
// every result is {risk 0, tca 0, dmin 0, t_in -1, t_out -1, flags 0}.
type hostile struct {
	manifest   string
	version    int32
	memMin     uint32
	memMax     int64
	initialize code // body of _initialize; nil: not exported
	init       code // body of cdp_init(ptr, len) -> i32; nil: not exported
	score      code // replaces the body of cdp_score(batch) -> i32 when set
	after      code // runs after the result loop, before out_count; local 0 = batch, 1 = i, 2 = r
	outCount   code // pushes the out_count value (default n_pairs); local 0 = batch
	status     int32
	imports    []wimport
	noAlloc    bool
	noScore    bool
	startOnly  bool
	extra      []wfunc
	data       []wdata
	errorMsg   string
	startLoop  bool // a wasm start function that never returns
}

func (h hostile) module() []byte {
	if h.manifest == "" {
		h.manifest = `{"name":"hostile","version":"0.0.1","kind":"scorer","description":"test module"}`
	}
	if h.version == 0 {
		h.version = 1 << 16
	}
	if h.memMin == 0 {
		h.memMin = 1 + arenaCap>>16
	}
	if h.memMax == 0 {
		h.memMax = -1
	}
	m := &wmod{imports: h.imports, memMin: h.memMin, memMax: h.memMax}
	m.data = append(m.data, wdata{manifestAt, []byte(h.manifest)})
	m.data = append(m.data, h.data...)
	msg := h.errorMsg
	if msg == "" {
		msg = "test module failure"
	}
	m.data = append(m.data, wdata{errorAt, []byte(msg)})
	m.funcs = append(m.funcs,
		wfunc{export: "cdp_abi_version", result: []byte{tI32}, body: code{}.i32(h.version)},
		wfunc{export: "cdp_manifest", result: []byte{tI64}, body: code{}.i64(int64(manifestAt)<<32 | int64(len(h.manifest)))},
		wfunc{export: "cdp_last_error", result: []byte{tI64}, body: code{}.i64(int64(errorAt)<<32 | int64(len(msg)))},
	)
	if !h.noAlloc {
		// cdp_alloc(size) = size > arenaCap ? 0 : arenaAt
		m.funcs = append(m.funcs, wfunc{export: "cdp_alloc", params: []byte{tI32}, result: []byte{tI32},
			body: code{}.get(0).i32(arenaCap).i32GtU().ifElseI32(code{}.i32(0), code{}.i32(arenaAt))})
	}
	if h.initialize != nil {
		m.funcs = append(m.funcs, wfunc{export: "_initialize", body: h.initialize})
	}
	if h.startOnly {
		m.funcs = append(m.funcs, wfunc{export: "_start"})
	}
	if h.init != nil {
		m.funcs = append(m.funcs, wfunc{export: "cdp_init", params: []byte{tI32, tI32}, result: []byte{tI32}, body: h.init})
	}
	if !h.noScore {
		body := h.score
		if body == nil {
			// local 0 batch, 1 i, 2 r
			body = code{}.
				get(0).get(0).load32(72).i32Add().set(2).
				block().loop().
				get(1).get(0).load32(20).i32GeU().brIf(1).
				get(2).f64(0).storeF64(0).
				get(2).f64(0).storeF64(8).
				get(2).f64(0).storeF64(16).
				get(2).f64(-1).storeF64(24).
				get(2).f64(-1).storeF64(32).
				get(2).i32(0).store32(40).
				get(2).get(0).load32(48).i32Add().set(2).
				get(1).i32(1).i32Add().set(1).
				br(0).end().end().
				get(0).get(0).load32(72).i32Add().set(2). // r = first result, for `after`
				with(h.after)
			oc := h.outCount
			if oc == nil {
				oc = code{}.get(0).load32(20)
			}
			body = body.get(0).with(oc).store32(52).i32(h.status)
		}
		m.funcs = append(m.funcs, wfunc{export: "cdp_score", params: []byte{tI32}, result: []byte{tI32},
			locals: []byte{tI32, tI32}, body: body})
	}
	m.funcs = append(m.funcs, h.extra...)
	if h.startLoop {
		m.funcs = append(m.funcs, wfunc{body: code{}.spin()})
		m.start = len(m.imports) + len(m.funcs)
	}
	return m.bytes()
}
