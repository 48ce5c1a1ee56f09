package plugins

import (
	"errors"
	"fmt"
)

// Limits on what a module may declare, checked by scanModule before wazero
// decodes it. They follow the limits of widely deployed engines (V8's
// kV8MaxWasm* constants), which every toolchain's output respects.
const (
	maxTypes        = 1_000_000
	maxImports      = 100_000
	maxFunctions    = 1_000_000
	maxTables       = 100
	maxTableEntries = 10_000_000
	// maxTableTotal bounds the entries of all tables together, declared
	// and grown (8 bytes each in wazero): host memory that the memory limit
	// does not count. instrument caps every table's maximum to its share.
	maxTableTotal   = 1 << 20
	maxMemories     = 1
	maxGlobals      = 1_000_000
	maxExports      = 100_000
	maxElemSegments = 10_000_000
	maxDataSegments = 100_000
	maxLocals       = 50_000
	maxParams       = 1_000
	maxNames        = 1_000_000
)

// errScan prefixes every structural refusal; errNotWasm marks input that is
// not a WebAssembly binary at all.
var (
	errScan    = errors.New("malformed module")
	errNotWasm = errors.New("not a WebAssembly binary")
)

// scanModule walks the module's sections and checks every declared count
// and length against the bytes that follow it and the limits above, without
// building anything.
//
// wazero sizes its allocations by the counts a module declares before it
// reads the elements: a 15-byte module that declares 2^32 imports makes it
// allocate 480 GB, and the Go runtime ends the whole process with "fatal
// error: out of memory", which no recover can stop. A plugin upload must not
// be able to do that, so Load and Conformance run this scan first.
func scanModule(b []byte) error {
	s := scanner{b: b}
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return fmt.Errorf("%w: %w", errScan, errNotWasm)
	}
	if b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0 {
		return fmt.Errorf("%w: binary version %v, want 1", errScan, b[4:8])
	}
	s.pos = 8
	for s.pos < len(b) {
		id := s.byte()
		size := s.u32()
		if s.err != nil {
			break
		}
		if uint64(size) > uint64(len(b)-s.pos) {
			return fmt.Errorf("%w: section %d declares %d bytes, %d remain", errScan, id, size, len(b)-s.pos)
		}
		sec := scanner{b: b[s.pos : s.pos+int(size)], section: id}
		sec.section_(id)
		if sec.err != nil {
			return fmt.Errorf("%w: section %d at byte %d: %v", errScan, id, s.pos+sec.pos, sec.err)
		}
		s.pos += int(size)
	}
	if s.err != nil {
		return fmt.Errorf("%w: %v", errScan, s.err)
	}
	return nil
}

// scanner reads one byte range; the first error sticks and every later read
// returns zero.
type scanner struct {
	b       []byte
	pos     int
	err     error
	section byte
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, args...)
	}
}

func (s *scanner) left() int { return len(s.b) - s.pos }

func (s *scanner) byte() byte {
	if s.err != nil {
		return 0
	}
	if s.pos >= len(s.b) {
		s.fail("unexpected end")
		return 0
	}
	c := s.b[s.pos]
	s.pos++
	return c
}

func (s *scanner) skip(n int) {
	if s.err == nil && n > s.left() {
		s.fail("unexpected end")
		return
	}
	s.pos += n
}

func (s *scanner) u32() uint32 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := s.byte()
		if s.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 0xffffffff {
				s.fail("LEB128 value overflows u32")
				return 0
			}
			return uint32(v)
		}
	}
	s.fail("LEB128 value too long")
	return 0
}

// sleb skips a signed LEB128 of at most maxBytes bytes.
func (s *scanner) sleb(maxBytes int) {
	for i := 0; i < maxBytes; i++ {
		if s.byte()&0x80 == 0 {
			return
		}
	}
	s.fail("LEB128 value too long")
}

// count reads a vector length: at most limit, and at most the bytes left
// divided by the smallest encoding of one element.
func (s *scanner) count(what string, limit, minBytes int) int {
	n := s.u32()
	if s.err != nil {
		return 0
	}
	if int64(n) > int64(limit) {
		s.fail("%d %s declared, limit %d", n, what, limit)
		return 0
	}
	if int64(n)*int64(minBytes) > int64(s.left()) {
		s.fail("%d %s declared in %d bytes", n, what, s.left())
		return 0
	}
	return int(n)
}

func (s *scanner) name() string {
	n := s.count("name bytes", 1<<20, 1)
	if s.err != nil {
		return ""
	}
	v := string(s.b[s.pos : s.pos+n])
	s.pos += n
	return v
}

func (s *scanner) valType() {
	switch c := s.byte(); c {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69: // i32 i64 f32 f64 v128 funcref externref exnref
	case 0x63, 0x64: // (ref null ht), (ref ht)
		s.sleb(5)
	default:
		s.fail("unknown value type 0x%x", c)
	}
}

func (s *scanner) limits(what string, maxMin uint32) {
	flags := s.byte()
	if flags > 3 {
		s.fail("%s limits flags 0x%x not supported", what, flags)
		return
	}
	if min := s.u32(); min > maxMin {
		s.fail("%s minimum %d over %d", what, min, maxMin)
	}
	if flags&1 != 0 {
		s.u32()
	}
}

func (s *scanner) tableType() {
	s.valType()
	s.limits("table", maxTableEntries)
}

// constExpr skips a constant expression up to and including its end.
func (s *scanner) constExpr() {
	for i := 0; s.err == nil; i++ {
		if i > 1024 {
			s.fail("constant expression too long")
			return
		}
		switch op := s.byte(); op {
		case 0x0b:
			return
		case 0x41:
			s.sleb(5)
		case 0x42:
			s.sleb(10)
		case 0x43:
			s.skip(4)
		case 0x44:
			s.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			s.u32()
		case 0xd0: // ref.null heaptype
			s.sleb(5)
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended-const arithmetic
		case 0xfd: // v128.const
			if sub := s.u32(); sub != 12 {
				s.fail("opcode 0xfd %d in a constant expression", sub)
				return
			}
			s.skip(16)
		default:
			s.fail("opcode 0x%x in a constant expression", op)
			return
		}
	}
}

func (s *scanner) section_(id byte) {
	switch id {
	case 0: // custom
		if s.name() == "name" {
			s.nameSection()
		}
	case 1: // type
		n := s.count("types", maxTypes, 3)
		for i := 0; i < n && s.err == nil; i++ {
			if form := s.byte(); form != 0x60 {
				s.fail("type %d: form 0x%x not supported", i, form)
				return
			}
			for k := 0; k < 2; k++ { // params, results
				m := s.count("parameters or results", maxParams, 1)
				for j := 0; j < m && s.err == nil; j++ {
					s.valType()
				}
			}
		}
	case 2: // import
		n := s.count("imports", maxImports, 4)
		for i := 0; i < n && s.err == nil; i++ {
			s.name()
			s.name()
			switch kind := s.byte(); kind {
			case 0:
				s.u32()
			case 1:
				s.tableType()
			case 2:
				s.limits("memory", 65536)
			case 3:
				s.valType()
				s.byte()
			case 4:
				s.byte()
				s.u32()
			default:
				s.fail("import %d: kind 0x%x", i, kind)
			}
		}
	case 3: // function
		n := s.count("functions", maxFunctions, 1)
		for i := 0; i < n && s.err == nil; i++ {
			s.u32()
		}
	case 4: // table
		n := s.count("tables", maxTables, 3)
		total := uint64(0)
		for i := 0; i < n && s.err == nil; i++ {
			if s.pos+2 < len(s.b) && s.b[s.pos] != 0x40 {
				v := scanner{b: s.b[s.pos+2:]}
				total += uint64(v.u32())
				if total > maxTableTotal {
					s.fail("tables declare more than %d entries together", maxTableTotal)
					return
				}
			}
			init := false
			if s.pos < len(s.b) && s.b[s.pos] == 0x40 {
				s.skip(1)
				if s.byte() != 0 {
					s.fail("table %d: bad prefix", i)
				}
				init = true
			}
			s.tableType()
			if init {
				s.constExpr()
			}
		}
	case 5: // memory
		n := s.count("memories", maxMemories, 2)
		for i := 0; i < n && s.err == nil; i++ {
			s.limits("memory", 65536)
		}
	case 6: // global
		n := s.count("globals", maxGlobals, 3)
		for i := 0; i < n && s.err == nil; i++ {
			s.valType()
			s.byte()
			s.constExpr()
		}
	case 7: // export
		n := s.count("exports", maxExports, 3)
		for i := 0; i < n && s.err == nil; i++ {
			s.name()
			s.byte()
			s.u32()
		}
	case 8: // start
		s.u32()
	case 9: // element
		n := s.count("element segments", maxDataSegments, 2)
		for i := 0; i < n && s.err == nil; i++ {
			s.elementSegment()
		}
	case 10: // code
		n := s.count("function bodies", maxFunctions, 2)
		for i := 0; i < n && s.err == nil; i++ {
			size := s.u32()
			if s.err == nil && int64(size) > int64(s.left()) {
				s.fail("function body %d declares %d bytes, %d remain", i, size, s.left())
				return
			}
			body := scanner{b: s.b[s.pos : s.pos+int(size)]}
			groups := body.count("local groups", maxLocals, 2)
			total := 0
			for g := 0; g < groups && body.err == nil; g++ {
				total += int(body.u32())
				if total > maxLocals {
					body.fail("more than %d locals", maxLocals)
				}
				body.valType()
			}
			if body.err != nil {
				s.fail("function body %d: %v", i, body.err)
				return
			}
			s.pos += int(size)
		}
	case 11: // data
		n := s.count("data segments", maxDataSegments, 2)
		for i := 0; i < n && s.err == nil; i++ {
			switch flags := s.u32(); flags {
			case 0:
				s.constExpr()
			case 1:
			case 2:
				s.u32()
				s.constExpr()
			default:
				s.fail("data segment %d: flags %d", i, flags)
			}
			m := s.count("data bytes", 1<<30, 1)
			s.skip(m)
		}
	case 12: // data count
		s.u32()
	case 13: // tag
		n := s.count("tags", maxTypes, 2)
		for i := 0; i < n && s.err == nil; i++ {
			s.byte()
			s.u32()
		}
	default:
		s.fail("unknown section id %d", id)
	}
}

func (s *scanner) elementSegment() {
	flags := s.u32()
	if flags > 7 {
		s.fail("element segment flags %d", flags)
		return
	}
	if flags&3 == 2 { // explicit table index
		s.u32()
	}
	if flags&1 == 0 { // active: offset expression
		s.constExpr()
	}
	exprs := flags&4 != 0
	if flags&3 != 0 { // elemkind or reftype
		if exprs {
			s.valType()
		} else if k := s.byte(); k != 0 {
			s.fail("element kind 0x%x", k)
		}
	}
	n := s.count("element entries", maxElemSegments, 1)
	for j := 0; j < n && s.err == nil; j++ {
		if exprs {
			s.constExpr()
		} else {
			s.u32()
		}
	}
}

// nameSection checks the counts of the "name" custom section, which wazero
// decodes into maps sized by them.
func (s *scanner) nameSection() {
	for s.left() > 0 && s.err == nil {
		id := s.byte()
		size := s.u32()
		if s.err != nil || int64(size) > int64(s.left()) {
			s.fail("name subsection %d declares %d bytes, %d remain", id, size, s.left())
			return
		}
		sub := scanner{b: s.b[s.pos : s.pos+int(size)]}
		switch id {
		case 1, 4, 5, 6, 7, 8, 9, 10, 11: // name maps
			sub.nameMap()
		case 2, 3: // indirect name maps (locals, labels)
			n := sub.count("names", maxNames, 2)
			for i := 0; i < n && sub.err == nil; i++ {
				sub.u32()
				sub.nameMap()
			}
		}
		if sub.err != nil {
			s.fail("name subsection %d: %v", id, sub.err)
			return
		}
		s.pos += int(size)
	}
}

func (s *scanner) nameMap() {
	n := s.count("names", maxNames, 2)
	for i := 0; i < n && s.err == nil; i++ {
		s.u32()
		s.name()
	}
}

// moduleInterface reads the export and import sections of a module that
// scanModule accepted: exports by name with their kind (0 function, 1
// table, 2 memory, 3 global), and the imported functions as
// "module.name". It builds nothing else, so a module can be refused for
// its exports before it is compiled, and listed when it is not compiled at
// all.
func moduleInterface(b []byte) (exports map[string]byte, imports []string) {
	exports = map[string]byte{}
	s := scanner{b: b, pos: 8}
	for s.pos < len(b) && s.err == nil {
		id := s.byte()
		size := s.u32()
		if s.err != nil || int64(size) > int64(s.left()) {
			return exports, imports
		}
		sec := scanner{b: b[s.pos : s.pos+int(size)]}
		s.pos += int(size)
		switch id {
		case 2:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				mod, name := sec.name(), sec.name()
				switch sec.byte() {
				case 0:
					sec.u32()
					imports = append(imports, mod+"."+name)
				case 1:
					sec.tableType()
				case 2:
					sec.limits("memory", 65536)
				case 3:
					sec.valType()
					sec.byte()
				case 4:
					sec.byte()
					sec.u32()
				}
			}
		case 7:
			n := sec.u32()
			for i := uint32(0); i < n && sec.err == nil; i++ {
				name := sec.name()
				kind := sec.byte()
				sec.u32()
				if sec.err == nil {
					exports[name] = kind
				}
			}
		}
	}
	return exports, imports
}
