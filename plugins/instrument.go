package plugins

import (
	"bytes"
	"fmt"
)

// instrumentVersion names the rewriting in the compilation cache key, so
// that a change of the rewriting is never served code compiled by another.
const instrumentVersion = 2

// DepthGlobal is the name under which an instrumented module exports its
// call-depth budget (a mutable i32 global). A module may not export this
// name itself.
const DepthGlobal = "cdp:depth"

// depthExhausted is the value of DepthGlobal after the trap that ends a
// call deeper than its budget (the budget itself is at most 1<<30).
const depthExhausted = 0xffffffff

// checkOp is an empty loop (`loop end`): wazero compiles a check of the
// module's close flag at every loop header, whether or not the loop ever
// branches back, so an empty loop is a deadline check wherever it stands.
var checkOp = []byte{0x03, 0x40, 0x0b}

// instrument returns a copy of module (which scanModule accepted) rewritten
// so that every guest call ends within its limits whatever the code shape:
//
//   - Time: wazero (WithCloseOnContextDone) checks for a closed module only
//     at loop headers. Code without loops runs to its end whatever the
//     deadline: an exponential call tree (f0 calls f1 twice, ... to depth 48)
//     has no loop and runs for days. A check at every function entry, and
//     after every instruction whose cost grows with memory or table size
//     (memory.fill/copy/init, memory.grow, table.fill/copy/init/grow), bounds
//     the work between two checks by the size of one function body.
//   - Stack: wazero grows a guest's stack up to 400 MB before it traps, host
//     memory that no limit counts. Every function pays its frame weight
//     (1 + (params+locals)/16) from a global budget on entry and returns it
//     on exit (the body is wrapped in a block, and `return` becomes a branch
//     to it); an empty budget traps. The global is exported as DepthGlobal
//     so that the host can tell this trap from others.
func instrument(module []byte, depth uint32) ([]byte, error) {
	m, err := parseSections(module)
	if err != nil {
		return nil, fmt.Errorf("%w: instrument: %v", errScan, err)
	}
	out, err := m.rewrite(depth)
	if err != nil {
		return nil, fmt.Errorf("%w: instrument: %v", errScan, err)
	}
	return out, nil
}

type rawSection struct {
	id   byte
	body []byte
}

type funcType struct {
	params  uint32
	results []byte // the encoded result vector, count included
	nres    uint32
}

type moduleSections struct {
	header   []byte
	sections []rawSection
	types    []funcType
	funcs    []uint32 // type index of each defined function
	imported struct{ funcs, globals uint32 }
	globals  uint32 // defined globals
}

func parseSections(b []byte) (*moduleSections, error) {
	m := &moduleSections{header: b[:8]}
	s := scanner{b: b, pos: 8}
	for s.pos < len(b) {
		id := s.byte()
		size := s.u32()
		if s.err != nil || int64(size) > int64(s.left()) {
			return nil, fmt.Errorf("section at byte %d", s.pos)
		}
		body := b[s.pos : s.pos+int(size)]
		s.pos += int(size)
		m.sections = append(m.sections, rawSection{id, body})
		sec := scanner{b: body}
		switch id {
		case 1:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				sec.byte() // 0x60
				var t funcType
				t.params = sec.u32()
				for j := uint32(0); j < t.params && sec.err == nil; j++ {
					sec.valType()
				}
				start := sec.pos
				t.nres = sec.u32()
				for j := uint32(0); j < t.nres && sec.err == nil; j++ {
					sec.valType()
				}
				t.results = body[start:sec.pos]
				m.types = append(m.types, t)
			}
		case 2:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				sec.name()
				sec.name()
				switch sec.byte() {
				case 0:
					sec.u32()
					m.imported.funcs++
				case 1:
					sec.tableType()
				case 2:
					sec.limits("memory", 65536)
				case 3:
					sec.valType()
					sec.byte()
					m.imported.globals++
				case 4:
					sec.byte()
					sec.u32()
				}
			}
		case 3:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				m.funcs = append(m.funcs, sec.u32())
			}
		case 6:
			m.globals = sec.u32()
		case 7:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				if sec.name() == DepthGlobal {
					return nil, fmt.Errorf("the module exports %q, a name the host reserves", DepthGlobal)
				}
				sec.byte()
				sec.u32()
			}
		}
		if sec.err != nil {
			return nil, fmt.Errorf("section %d: %v", id, sec.err)
		}
	}
	return m, nil
}

// sectionRank orders the non-custom sections as the binary format requires.
var sectionRank = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

func (m *moduleSections) rewrite(depth uint32) ([]byte, error) {
	hasCode := false
	for _, s := range m.sections {
		hasCode = hasCode || s.id == 10
	}
	if !hasCode || len(m.funcs) == 0 {
		return append(append([]byte(nil), m.header...), flatten(m.sections)...), nil
	}
	depthIdx := m.imported.globals + m.globals
	// Block types for the wrapped bodies; multi-value results need a type
	// [] -> results, appended to the type section when none exists.
	ntypes := uint32(len(m.types))
	var newTypes [][]byte
	blockType := make([][]byte, len(m.types))
	for i, t := range m.types {
		switch t.nres {
		case 0:
			blockType[i] = []byte{0x40}
		case 1:
			blockType[i] = t.results[1:]
		default:
			idx := -1
			for j, u := range m.types {
				if u.params == 0 && bytes.Equal(u.results, t.results) {
					idx = j
					break
				}
			}
			for j, nt := range newTypes {
				if idx < 0 && bytes.Equal(nt[2:], t.results) {
					idx = int(ntypes) + j
				}
			}
			if idx < 0 {
				idx = int(ntypes) + len(newTypes)
				newTypes = append(newTypes, append([]byte{0x60, 0x00}, t.results...))
			}
			blockType[i] = sleb33(nil, int64(idx))
		}
	}

	var out []byte
	out = append(out, m.header...)
	globalDone := false
	emitGlobal := func(existing []byte) {
		var g []byte
		if existing != nil {
			s := scanner{b: existing}
			n := s.u32()
			g = appendULEB(g, uint64(n)+2)
			g = append(g, existing[s.pos:]...)
		} else {
			g = appendULEB(g, 2)
		}
		g = append(g, 0x7f, 0x01, 0x41) // mutable i32 = i32.const depth
		g = sleb33(g, int64(depth))
		g = append(g, 0x0b)
		g = append(g, 0x7f, 0x01, 0x41) // mutable i32 = i32.const fuel
		g = sleb33(g, fuel)
		g = append(g, 0x0b)
		out = appendSection(out, 6, g)
		globalDone = true
	}
	for _, s := range m.sections {
		if s.id != 0 && !globalDone && sectionRank[s.id] > sectionRank[6] {
			emitGlobal(nil)
		}
		switch s.id {
		case 1:
			sc := scanner{b: s.body}
			n := sc.u32()
			var t []byte
			t = appendULEB(t, uint64(n)+uint64(len(newTypes)))
			t = append(t, s.body[sc.pos:]...)
			for _, nt := range newTypes {
				t = append(t, nt...)
			}
			out = appendSection(out, 1, t)
		case 6:
			emitGlobal(s.body)
		case 4:
			t, err := capTables(s.body)
			if err != nil {
				return nil, err
			}
			out = appendSection(out, 4, t)
		case 7:
			sc := scanner{b: s.body}
			n := sc.u32()
			var e []byte
			e = appendULEB(e, uint64(n)+1)
			e = append(e, s.body[sc.pos:]...)
			e = appendULEB(e, uint64(len(DepthGlobal)))
			e = append(e, DepthGlobal...)
			e = append(e, 0x03)
			e = appendULEB(e, uint64(depthIdx))
			out = appendSection(out, 7, e)
		case 10:
			code, err := m.rewriteCode(s.body, rewriteCtx{depth: depthIdx, fuel: depthIdx + 1, ntypes: ntypes}, blockType)
			if err != nil {
				return nil, err
			}
			out = appendSection(out, 10, code)
		default:
			out = appendSection(out, s.id, s.body)
		}
	}
	return out, nil
}

// capTables rewrites a table section so that every table's maximum is at
// most its share of maxTableTotal: table.grow beyond it fails (returns -1,
// which the guest must handle anyway) instead of taking host memory.
func capTables(body []byte) ([]byte, error) {
	s := scanner{b: body}
	n := s.u32()
	share := uint64(maxTableTotal) / uint64(max(n, 1))
	out := appendULEB(nil, uint64(n))
	for i := uint32(0); i < n && s.err == nil; i++ {
		if s.pos < len(s.b) && s.b[s.pos] == 0x40 {
			return nil, fmt.Errorf("table %d: tables with an initializer are not supported", i)
		}
		start := s.pos
		s.valType()
		out = append(out, body[start:s.pos]...)
		flags := s.byte()
		min := uint64(s.u32())
		maxv := share
		if flags&1 != 0 {
			maxv = uint64(s.u32())
		}
		if min > share {
			return nil, fmt.Errorf("table %d: minimum %d over its share %d of %d entries", i, min, share, maxTableTotal)
		}
		out = append(out, flags|1)
		out = appendULEB(out, min)
		out = appendULEB(out, uint64(minU64(maxv, share)))
	}
	if s.err != nil {
		return nil, s.err
	}
	return out, nil
}

func minU64(a, b uint64) uint64 {
	if a < b {
		return a
	}
	return b
}

func flatten(ss []rawSection) []byte {
	var out []byte
	for _, s := range ss {
		out = appendSection(out, s.id, s.body)
	}
	return out
}

func appendSection(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = appendULEB(out, uint64(len(body)))
	return append(out, body...)
}

// rewriteCode rewrites the contents of a code section.
// rewriteCtx holds the indices a body rewrite needs: the depth and fuel
// globals (the first index the module itself did not declare) and the
// module's own type count.
type rewriteCtx struct{ depth, fuel, ntypes uint32 }

func (m *moduleSections) rewriteCode(sec []byte, rc rewriteCtx, blockType [][]byte) ([]byte, error) {
	s := scanner{b: sec}
	n := s.u32()
	if int(n) != len(m.funcs) {
		return nil, fmt.Errorf("%d function bodies for %d functions", n, len(m.funcs))
	}
	out := make([]byte, 0, len(sec)+int(n)*48+16)
	out = appendULEB(out, uint64(n))
	var body []byte
	for i := uint32(0); i < n && s.err == nil; i++ {
		size := s.u32()
		if s.err != nil || int64(size) > int64(s.left()) {
			return nil, fmt.Errorf("function body %d: declared size %d, %d bytes remain", i, size, s.left())
		}
		fb := sec[s.pos : s.pos+int(size)]
		s.pos += int(size)
		ti := m.funcs[i]
		if int(ti) >= len(m.types) {
			return nil, fmt.Errorf("function %d: type %d out of range", i, ti)
		}
		var err error
		body, err = rewriteBody(body[:0], fb, m.types[ti], blockType[ti], rc)
		if err != nil {
			return nil, fmt.Errorf("function body %d: %v", i, err)
		}
		out = appendULEB(out, uint64(len(body)))
		out = append(out, body...)
	}
	if s.err != nil {
		return nil, s.err
	}
	return out, nil
}

// Leaf functions (no call instruction) of at most leafBytes need neither
// fuel nor a frame in the depth budget: their time is bounded by their size
// (their loops and bulk instructions have checks of their own), their caller
// pays for it (leafBytes per call site), and they add one frame to a counted
// caller.
const leafBytes = 1024

// fuel is the work, in units of fuelBytes of code, between two deadline
// checks at function entries. A check is a call out of the guest into Go
// (about 50 ns), too dear for every call of a call-heavy module; fuel is a
// few inline instructions per call. Every counted function pays 1 +
// (body size + leafBytes x call sites) / fuelBytes, so that the code run
// between two checks is bounded (about 4 MB of straight-line code; loops
// keep wazero's own check at every iteration).
const (
	fuel      = 1 << 16
	fuelBytes = 64
)

// prescan counts the call instructions of body (after its locals) and
// reports whether a loop header is reached in straight-line code from the
// entry before any call, branch or bulk instruction. A function that begins
// that way (Go's functions open with their dispatch loop) has wazero's check
// at entry already, and the work of one pass through its loop is bounded by
// its size: it needs no fuel.
func prescan(body []byte) (calls int, loopFirst bool, err error) {
	f := scanner{b: body}
	straight := true
	for f.left() > 0 {
		op := f.byte()
		switch op {
		case 0x02, 0x03, 0x04:
			f.blockType()
			loopFirst = loopFirst || op == 0x03 && straight
			straight = straight && op != 0x04
		case 0x05, 0x0b, 0x0f:
			straight = false
		case 0x12, 0x13:
			return 0, false, fmt.Errorf("tail calls are not supported")
		default:
			check, err := f.skipImmediates(op)
			if err != nil {
				return 0, false, err
			}
			if op == 0x10 || op == 0x11 {
				calls++
			}
			if check || op <= 0x11 {
				straight = false // a branch, a call, unreachable or a bulk instruction
			}
		}
		if f.err != nil {
			return 0, false, f.err
		}
	}
	return calls, loopFirst, nil
}

// rewriteBody writes the instrumented body of one function into out.
func rewriteBody(out, fb []byte, t funcType, blockType []byte, rc rewriteCtx) ([]byte, error) {
	f := scanner{b: fb}
	groups := f.u32()
	locals := uint64(t.params)
	for g := uint32(0); g < groups && f.err == nil; g++ {
		locals += uint64(f.u32())
		f.valType()
	}
	if f.err != nil {
		return nil, f.err
	}
	calls, loopFirst, err := prescan(fb[f.pos:])
	if err != nil {
		return nil, err
	}
	account := calls > 0 || len(fb) > leafBytes
	weight := int64(1 + locals/16)
	cost := int64(1 + (len(fb)+leafBytes*calls)/fuelBytes)
	global := func(op byte, idx uint32) { out = appendULEB(append(out, op), uint64(idx)) }
	out = append(out, fb[:f.pos]...)
	if account && !loopFirst {
		// fuel -= cost; if (fuel < 0) { fuel = FUEL; check }
		global(0x23, rc.fuel)
		out = sleb33(append(out, 0x41), cost)
		out = append(out, 0x6b) // i32.sub
		global(0x24, rc.fuel)
		global(0x23, rc.fuel)
		out = append(out, 0x41, 0x00, 0x48, 0x04, 0x40) // i32.const 0 i32.lt_s if
		out = sleb33(append(out, 0x41), fuel)
		global(0x24, rc.fuel)
		out = append(out, checkOp...)
		out = append(out, 0x0b)
	}
	if account {
		// if (depth < weight) { depth = depthExhausted; unreachable }; depth -= weight
		global(0x23, rc.depth)
		out = sleb33(append(out, 0x41), weight)
		out = append(out, 0x49, 0x04, 0x40, 0x41, 0x7f) // i32.lt_u if i32.const -1
		global(0x24, rc.depth)
		out = append(out, 0x00, 0x0b) // unreachable end
		global(0x23, rc.depth)
		out = sleb33(append(out, 0x41), weight)
		out = append(out, 0x6b) // i32.sub
		global(0x24, rc.depth)
		out = append(out, 0x02)
		out = append(out, blockType...)
	}

	nest := uint32(0) // open blocks inside the wrapper
	for {
		if f.left() == 0 {
			return nil, fmt.Errorf("body ends without end")
		}
		start := f.pos
		op := f.byte()
		check := false
		switch op {
		case 0x02, 0x03, 0x04: // block loop if
			if idx := f.blockType(); idx >= int64(rc.ntypes) {
				return nil, fmt.Errorf("block type %d does not exist", idx)
			}
			nest++
		case 0x0b: // end
			if nest == 0 {
				if f.left() != 0 {
					return nil, fmt.Errorf("%d bytes after the final end", f.left())
				}
				if !account {
					return append(out, 0x0b), nil
				}
				out = append(out, 0x0b) // closes the wrapper block
				// depth += weight
				global(0x23, rc.depth)
				out = sleb33(append(out, 0x41), weight)
				out = append(out, 0x6a)
				global(0x24, rc.depth)
				return append(out, 0x0b), nil
			}
			nest--
		case 0x0f: // return: a branch to the wrapper, which restores depth
			if account {
				out = appendULEB(append(out, 0x0c), uint64(nest))
				continue
			}
		case 0x23, 0x24: // global.get, global.set: never the host's globals
			if idx := f.u32(); idx >= rc.depth {
				return nil, fmt.Errorf("global %d does not exist", idx)
			}
		case 0x11: // call_indirect: never the host's block types
			if idx := f.u32(); idx >= rc.ntypes {
				return nil, fmt.Errorf("type %d does not exist", idx)
			}
			f.u32()
		default:
			check, err = f.skipImmediates(op)
			if err != nil {
				return nil, err
			}
		}
		if f.err != nil {
			return nil, f.err
		}
		out = append(out, fb[start:f.pos]...)
		if check {
			out = append(out, checkOp...)
		}
	}
}

// blockType skips a block type: 0x40, a value type, or a type index (s33),
// and returns the type index, or -1.
func (s *scanner) blockType() int64 {
	if s.pos < len(s.b) {
		switch c := s.b[s.pos]; c {
		case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
			s.pos++
			return -1
		case 0x63, 0x64:
			s.valType()
			return -1
		}
	}
	var v int64
	for shift := 0; shift < 35; shift += 7 {
		c := s.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift < 28 && c&0x40 != 0 {
				v |= -1 << (shift + 7) // negative: not a type index
			}
			return v
		}
	}
	s.fail("LEB128 value too long")
	return -1
}

func (s *scanner) memarg() {
	if s.u32()&0x40 != 0 { // multi-memory: a memory index follows
		s.u32()
	}
	s.u32()
}

// skipImmediates skips op's immediates and reports whether op's cost grows
// with memory or table size (a deadline check belongs after it). It knows
// the instructions of wazero's CoreFeaturesV2 (MVP, sign extension,
// saturating conversions, bulk memory, reference types, multi-value, SIMD);
// any other opcode is refused.
func (s *scanner) skipImmediates(op byte) (bool, error) {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x1a || op == 0x1b || op == 0xd1:
	case op == 0x0c || op == 0x0d || op == 0x10 || op == 0xd2 || (op >= 0x20 && op <= 0x26):
		s.u32()
	case op == 0x0e: // br_table
		n := s.count("br_table labels", 1<<24, 1)
		for i := 0; i <= n && s.err == nil; i++ {
			s.u32()
		}
	case op == 0x11: // call_indirect
		s.u32()
		s.u32()
	case op == 0x1c: // select t*
		n := s.count("select types", 16, 1)
		for i := 0; i < n && s.err == nil; i++ {
			s.valType()
		}
	case op >= 0x28 && op <= 0x3e:
		s.memarg()
	case op == 0x3f:
		s.u32()
	case op == 0x40: // memory.grow
		s.u32()
		return true, nil
	case op == 0x41:
		s.sleb(5)
	case op == 0x42:
		s.sleb(10)
	case op == 0x43:
		s.skip(4)
	case op == 0x44:
		s.skip(8)
	case op >= 0x45 && op <= 0xc4:
	case op == 0xd0: // ref.null
		s.sleb(5)
	case op == 0xfc:
		switch sub := s.u32(); sub {
		case 0, 1, 2, 3, 4, 5, 6, 7:
		case 8: // memory.init
			s.u32()
			s.u32()
			return true, nil
		case 9, 13: // data.drop, elem.drop
			s.u32()
		case 10: // memory.copy
			s.u32()
			s.u32()
			return true, nil
		case 11: // memory.fill
			s.u32()
			return true, nil
		case 12, 14: // table.init, table.copy
			s.u32()
			s.u32()
			return true, nil
		case 15, 17: // table.grow, table.fill
			s.u32()
			return true, nil
		case 16: // table.size
			s.u32()
		default:
			return false, fmt.Errorf("opcode 0xfc %d not supported", sub)
		}
	case op == 0xfd:
		switch sub := s.u32(); {
		case sub <= 11 || sub == 92 || sub == 93:
			s.memarg()
		case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
			s.skip(16)
		case sub >= 21 && sub <= 34: // extract/replace lane
			s.byte()
		case sub >= 84 && sub <= 91: // load/store lane
			s.memarg()
			s.byte()
		case sub <= 275:
		default:
			return false, fmt.Errorf("opcode 0xfd %d not supported", sub)
		}
	default:
		return false, fmt.Errorf("opcode 0x%02x not supported", op)
	}
	return false, s.err
}

func appendULEB(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// sleb33 appends v (0 <= v < 1<<32) as a signed LEB128: the unsigned
// encoding, plus a zero byte when its last byte would read as negative.
func sleb33(b []byte, v int64) []byte {
	b = appendULEB(b, uint64(v))
	if last := len(b) - 1; b[last]&0x40 != 0 {
		b[last] |= 0x80
		b = append(b, 0)
	}
	return b
}
