package ingest

import (
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// maxDepth bounds the nesting of values skipped inside a record (unknown
// fields), so that hostile input cannot exhaust the stack.
const maxDepth = 64

// maxScratch is the largest unescape buffer a Decoder keeps between batches.
const maxScratch = 1 << 20

// Decoder decodes batches of wire records. It keeps a scratch buffer between
// calls, so a Decoder must not be used by two goroutines at once; use one per
// connection or worker. The zero Decoder is not usable; build one with
// NewDecoder.
type Decoder struct {
	v *Validator
	// scratch holds the unescaped text of JSON strings that contained escape
	// sequences; records alias it until the next DecodeBatch. Reusing it
	// (rather than allocating per string) keeps the steady state allocation-
	// free; escapes are rare in ids, so it stays small.
	scratch []byte
	// maxRecords > 0 stops a batch at its first record beyond it.
	maxRecords int
}

// SetMaxRecords makes DecodeBatch stop with a *LimitError at the first
// element beyond n (n <= 0: no limit, the default). The limit bounds what one
// batch costs however small its records: without it a 16 MB body of "{},"
// decodes 5 million refused records before its size can be judged.
func (d *Decoder) SetMaxRecords(n int) { d.maxRecords = n }

// NewDecoder returns a decoder validating with v (nil: NewValidator with zero
// Options and no class table).
func NewDecoder(v *Validator) *Decoder {
	if v == nil {
		v, _ = NewValidator(Options{}, nil)
	}
	return &Decoder{v: v}
}

// Validator returns the decoder's validator.
func (d *Decoder) Validator() *Validator { return d.v }

// DecodeBatch decodes data, a JSON array of records, a single record, or a
// sequence of records and arrays separated by whitespace (NDJSON), and
// validates each record with now as the current time (the zero Time disables
// the future-timestamp check). Valid records are appended to recs; refused
// ones, as RecordErrors, to errs; the extended slices are returned. Decoding
// reuses the capacity of recs and errs and allocates nothing per record once
// they are large enough.
//
// Malformed JSON stops the batch: DecodeBatch returns recs and errs as they
// were given and a *SyntaxError (matching ErrSyntax) with the byte offset.
// Empty input (or only whitespace) is zero records and no error.
//
// Records' ID and Class alias data, or the decoder's scratch buffer when they
// held escape sequences: keep data unmodified while the records are in use,
// and do not use them after the decoder's next DecodeBatch.
func (d *Decoder) DecodeBatch(data []byte, now time.Time, recs []Record, errs []RecordError) ([]Record, []RecordError, error) {
	nowSec := math.Inf(1) // no future check
	if !now.IsZero() {
		nowSec = float64(now.UnixNano()) / 1e9
	}
	v := d.v
	recs0, errs0 := len(recs), len(errs)
	d.scratch = d.scratch[:0]
	if cap(d.scratch) > maxScratch {
		// One batch full of escapes must not pin its memory in a pooled
		// decoder for ever.
		d.scratch = nil
	}
	s := scanner{data: data, d: d}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		s.pos = 3 // UTF-8 byte order mark
	}
	index := 0
	var err error
	for {
		s.ws()
		if s.pos >= len(data) {
			return recs, errs, nil
		}
		if d.maxRecords > 0 && index >= d.maxRecords && data[s.pos] != '[' {
			return recs[:recs0], errs[:errs0], &LimitError{Max: d.maxRecords, Offset: s.pos}
		}
		if data[s.pos] != '[' {
			recs, errs, err = s.element(v, index, nowSec, recs, errs)
			index++
			if err != nil {
				return recs[:recs0], errs[:errs0], err
			}
			continue
		}
		s.pos++
		s.ws()
		if s.pos < len(data) && data[s.pos] == ']' {
			s.pos++
			continue
		}
		for {
			s.ws()
			if s.pos >= len(data) {
				return recs[:recs0], errs[:errs0], s.fail("unterminated array")
			}
			if d.maxRecords > 0 && index >= d.maxRecords {
				return recs[:recs0], errs[:errs0], &LimitError{Max: d.maxRecords, Offset: s.pos}
			}
			recs, errs, err = s.element(v, index, nowSec, recs, errs)
			index++
			if err != nil {
				return recs[:recs0], errs[:errs0], err
			}
			s.ws()
			if s.pos >= len(data) {
				return recs[:recs0], errs[:errs0], s.fail("unterminated array")
			}
			c := data[s.pos]
			if c == ']' {
				s.pos++
				break
			}
			if c != ',' {
				return recs[:recs0], errs[:errs0], s.fail("expected ',' or ']' after array element")
			}
			s.pos++
		}
	}
}

// scanner is a position in a batch being decoded.
type scanner struct {
	data []byte
	pos  int
	d    *Decoder
}

func (s *scanner) fail(msg string) error {
	return &SyntaxError{Offset: s.pos, Msg: msg}
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// element decodes one batch element at s.pos (not at the end of data).
func (s *scanner) element(v *Validator, index int, now float64, recs []Record, errs []RecordError) ([]Record, []RecordError, error) {
	start := s.pos
	if s.data[s.pos] != '{' {
		if err := s.skip(0); err != nil {
			return recs, errs, err
		}
		return recs, append(errs, RecordError{Index: index, Offset: start, Reason: ReasonNotObject}), nil
	}
	recs = append(recs, Record{})
	r := &recs[len(recs)-1]
	r.Index, r.Offset = index, start
	field, reason, err := s.object(r)
	if err != nil {
		return recs, errs, err
	}
	if reason == ReasonOK {
		field, reason = v.Validate(r, now)
	}
	if reason != ReasonOK {
		id := r.ID
		if len(id) > v.opts.MaxIDLen {
			// Keep error bodies and logs bounded: a 1 MB id is reported by
			// its first MaxIDLen bytes (cut at a UTF-8 boundary).
			n := v.opts.MaxIDLen
			for n > 0 && !utf8.RuneStart(id[n]) {
				n--
			}
			id = id[:n:n]
		}
		errs = append(errs, RecordError{Index: index, Offset: start, ID: id, Field: field, Reason: reason})
		recs = recs[:len(recs)-1]
	}
	return recs, errs, nil
}

// object decodes the object at s.pos into r. A type error in a field (a
// string for a number, a duplicate key) is returned as a reason; the object is
// still consumed to its end, so the batch can go on.
func (s *scanner) object(r *Record) (Field, Reason, error) {
	data := s.data
	s.pos++ // '{'
	s.ws()
	if s.pos < len(data) && data[s.pos] == '}' {
		s.pos++
		return 0, ReasonOK, nil
	}
	var badField Field
	bad := ReasonOK
	for {
		if s.pos >= len(data) {
			return 0, 0, s.fail("unterminated object")
		}
		if data[s.pos] != '"' {
			return 0, 0, s.fail("expected string key in object")
		}
		key, err := s.str()
		if err != nil {
			return 0, 0, err
		}
		s.ws()
		if s.pos >= len(data) || data[s.pos] != ':' {
			return 0, 0, s.fail("expected ':' after object key")
		}
		s.pos++
		s.ws()
		if s.pos >= len(data) {
			return 0, 0, s.fail("expected value after ':'")
		}
		f := lookupField(key)
		switch {
		case f == 0: // unknown fields are ignored (see the package doc)
			err = s.skip(1)
		case r.Fields&f != 0:
			err = s.skip(1)
			if bad == ReasonOK {
				badField, bad = f, ReasonDuplicateField
			}
		default:
			var reason Reason
			reason, err = s.value(r, f)
			if reason != ReasonOK && bad == ReasonOK {
				badField, bad = f, reason
			}
		}
		if err != nil {
			return 0, 0, err
		}
		s.ws()
		if s.pos >= len(data) {
			return 0, 0, s.fail("unterminated object")
		}
		switch data[s.pos] {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			return badField, bad, nil
		default:
			return 0, 0, s.fail("expected ',' or '}' after object field")
		}
	}
}

// value decodes the value of known field f at s.pos (not at the end).
func (s *scanner) value(r *Record, f Field) (Reason, error) {
	data := s.data
	c := data[s.pos]
	switch {
	case c == '"':
		str, err := s.str()
		if err != nil {
			return 0, err
		}
		switch f {
		case FieldID:
			r.ID = str
		case FieldClass:
			r.Class = str
		case FieldGroup:
			r.Group = str
		case FieldT:
			t, ok := parseTime(str)
			if !ok {
				if nonFiniteWord(str) {
					return ReasonNonFinite, nil
				}
				return ReasonBadTime, nil
			}
			r.T = t
		default:
			if nonFiniteWord(str) {
				return ReasonNonFinite, nil
			}
			return ReasonWrongType, nil
		}
		r.Fields |= f
		return ReasonOK, nil
	case c == '-' || (c >= '0' && c <= '9'):
		if c == '-' && s.pos+1 < len(data) && data[s.pos+1] == 'I' {
			s.pos++
			if err := s.literal("Infinity"); err != nil {
				return 0, err
			}
			return ReasonNonFinite, nil
		}
		tok, integer, val, fast, err := s.numberValue()
		if err != nil {
			return 0, err
		}
		switch f {
		case FieldID:
			if !integer {
				return ReasonWrongType, nil
			}
			r.ID = tok // numeric ids (AIS MMSI) are taken literally
		case FieldClass, FieldGroup:
			return ReasonWrongType, nil
		default:
			if !fast {
				val = parseFloat(tok)
			}
			*r.num(f) = val
		}
		r.Fields |= f
		return ReasonOK, nil
	case c == 'n':
		return ReasonOK, s.literal("null") // null: the field is absent
	case c == 'N':
		return ReasonNonFinite, s.literal("NaN")
	case c == 'I':
		return ReasonNonFinite, s.literal("Infinity")
	}
	if err := s.skip(1); err != nil {
		return 0, err
	}
	return ReasonWrongType, nil
}

// nonFiniteWord reports the spellings of non-finite numbers that producers
// put in strings ("NaN", "Infinity", "-inf", ...).
func nonFiniteWord(b []byte) bool {
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		b = b[1:]
	}
	if len(b) != 3 && len(b) != 8 {
		return false
	}
	var low [8]byte
	for i, c := range b {
		low[i] = c | 0x20
	}
	w := string(low[:len(b)])
	return w == "nan" || w == "inf" || w == "infinity"
}

// parseFloat parses a token already checked against the JSON number grammar
// (the slow path of numberValue). Out-of-range values come back as ±Inf
// (refused by validation as non_finite). unsafe.String avoids copying the
// token: ParseFloat keeps no reference to its argument (its errors clone it),
// and the token is not modified while ParseFloat runs.
func parseFloat(tok []byte) float64 {
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(tok), len(tok)), 64)
	return f
}

// pow10 holds the powers of ten that are exact in float64, for numberValue.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// literal consumes word (true, false, null, NaN, Infinity) at s.pos.
func (s *scanner) literal(word string) error {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return s.fail("invalid literal (expected " + word + ")")
	}
	s.pos += len(word)
	return nil
}

// number consumes a JSON number at s.pos and returns its text and whether it
// is an integer (no fraction, no exponent).
func (s *scanner) number() (tok []byte, integer bool, err error) {
	tok, integer, _, _, err = s.numberValue()
	return tok, integer, err
}

// numberValue consumes a JSON number at s.pos, checking its grammar, and
// returns its text, whether it is an integer, and its value when the exact
// fast path of smallDecimal applies (ok), all in one pass over the bytes.
func (s *scanner) numberValue() (tok []byte, integer bool, val float64, ok bool, err error) {
	data := s.data
	start, i := s.pos, s.pos
	neg := false
	if data[i] == '-' {
		neg = true
		i++
	}
	var m uint64
	digits, frac := 0, 0 // significant digits, digits after '.'
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			m = m*10 + uint64(data[i]-'0')
			digits++
			i++
		}
	default:
		s.pos = i
		return nil, false, 0, false, s.fail("invalid number")
	}
	integer = true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			m = m*10 + uint64(data[i]-'0')
			if digits > 0 || data[i] != '0' {
				digits++
			}
			i++
		}
		if i == j {
			s.pos = i
			return nil, false, 0, false, s.fail("invalid number: no digit after '.'")
		}
		frac = i - j
	}
	ok = true
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer, ok = false, false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		if i == j {
			s.pos = i
			return nil, false, 0, false, s.fail("invalid number: no digit in exponent")
		}
	}
	s.pos = i
	tok = data[start:i]
	// Clinger's fast path: mantissa and power of ten both exact in float64,
	// so one division rounds correctly, as ParseFloat would.
	if ok && digits <= 15 && frac <= 15 {
		val = float64(m)
		if frac > 0 {
			val /= pow10[frac]
		}
		if neg {
			val = -val
		}
		return tok, integer, val, true, nil
	}
	return tok, integer, 0, false, nil
}

// str consumes the JSON string at s.pos (on its opening quote) and returns
// its text: a subslice of the input when it holds no escape sequence (the
// common case, no copy), else its unescaped copy in the decoder's scratch.
func (s *scanner) str() ([]byte, error) {
	data := s.data
	start := s.pos + 1
	for i := start; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return data[start:i:i], nil
		case c == '\\':
			return s.strEscaped(start, i)
		case c < 0x20:
			s.pos = i
			return nil, s.fail("control character in string")
		}
	}
	s.pos = len(data)
	return nil, s.fail("unterminated string")
}

// strEscaped finishes a string that has an escape at i, unescaping into the
// scratch buffer.
func (s *scanner) strEscaped(start, i int) ([]byte, error) {
	data := s.data
	mark := len(s.d.scratch)
	buf := append(s.d.scratch, data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			s.d.scratch = buf
			return buf[mark:len(buf):len(buf)], nil
		case c < 0x20:
			s.pos = i
			return nil, s.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(data) {
			s.pos = len(data)
			return nil, s.fail("unterminated string")
		}
		switch e := data[i+1]; e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(data, i+2)
			if !ok {
				s.pos = i
				return nil, s.fail("invalid \\u escape")
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(data, i+2); ok && i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						buf = utf8.AppendRune(buf, dec)
						i += 6
						continue
					}
				}
				// A lone surrogate is no character. encoding/json turns it
				// into U+FFFD, which would make "a\ud800" and "a\udbff" one
				// id; keep it as its 3-byte (WTF-8) form instead, which is
				// not valid UTF-8, so the id or class it is in is refused.
				buf = append(buf, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
				continue
			}
			buf = utf8.AppendRune(buf, r)
			continue
		default:
			s.pos = i
			return nil, s.fail("invalid escape in string")
		}
		i += 2
	}
	s.pos = len(data)
	return nil, s.fail("unterminated string")
}

// hex4 decodes the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skipString consumes a string without keeping its text.
func (s *scanner) skipString() error {
	data := s.data
	for i := s.pos + 1; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			return nil
		case c < 0x20:
			s.pos = i
			return s.fail("control character in string")
		case c == '\\':
			if i+1 >= len(data) {
				break
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if _, ok := hex4(data, i+2); !ok {
					s.pos = i
					return s.fail("invalid \\u escape")
				}
				i += 5
			default:
				s.pos = i
				return s.fail("invalid escape in string")
			}
		}
	}
	s.pos = len(data)
	return s.fail("unterminated string")
}

// skip consumes any JSON value at s.pos (not at the end), checking its
// syntax. depth is the nesting level of the value.
func (s *scanner) skip(depth int) error {
	data := s.data
	switch c := data[s.pos]; {
	case c == '"':
		return s.skipString()
	case c == '-' && s.pos+1 < len(data) && data[s.pos+1] == 'I':
		s.pos++
		return s.literal("Infinity")
	case c == '-' || (c >= '0' && c <= '9'):
		_, _, err := s.number()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == 'N':
		return s.literal("NaN")
	case c == 'I':
		return s.literal("Infinity")
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return s.fail("nesting too deep")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.pos++
		s.ws()
		if s.pos < len(data) && data[s.pos] == end {
			s.pos++
			return nil
		}
		for {
			if s.pos >= len(data) {
				return s.fail("unterminated object or array")
			}
			if end == '}' {
				if data[s.pos] != '"' {
					return s.fail("expected string key in object")
				}
				if err := s.skipString(); err != nil {
					return err
				}
				s.ws()
				if s.pos >= len(data) || data[s.pos] != ':' {
					return s.fail("expected ':' after object key")
				}
				s.pos++
				s.ws()
				if s.pos >= len(data) {
					return s.fail("expected value after ':'")
				}
			}
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(data) {
				return s.fail("unterminated object or array")
			}
			if data[s.pos] == end {
				s.pos++
				return nil
			}
			if data[s.pos] != ',' {
				return s.fail("expected ',' or closing bracket")
			}
			s.pos++
			s.ws()
		}
	}
	return s.fail("unexpected character")
}

// parseTime parses an RFC 3339 timestamp (2021-07-12T14:00:00Z,
// 2021-07-12T14:00:00.25+01:00; 't' or ' ' may replace 'T', 'z' 'Z') into
// Unix seconds, without allocating.
func parseTime(b []byte) (float64, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	if sep := b[10]; sep != 'T' && sep != 't' && sep != ' ' {
		return 0, false
	}
	num := func(b []byte) int {
		n := 0
		for _, c := range b {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return 0, false
	}
	i := 19
	frac := 0.0
	if b[i] == '.' {
		i++
		j := i
		var n uint64
		scale := 1.0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			if i-j < 15 {
				n = n*10 + uint64(b[i]-'0')
				scale *= 10
			}
			i++
		}
		if i == j {
			return 0, false
		}
		frac = float64(n) / scale
	}
	if i >= len(b) {
		return 0, false
	}
	offset := 0
	switch b[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(b)-i != 6 || b[i+3] != ':' {
			return 0, false
		}
		oh, om := num(b[i+1:i+3]), num(b[i+4:i+6])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return 0, false
		}
		offset = oh*3600 + om*60
		if b[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return 0, false
	}
	if i != len(b) {
		return 0, false
	}
	secs := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return float64(secs) + frac, true
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil is the number of days from 1970-01-01 to the given proleptic
// Gregorian date (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
