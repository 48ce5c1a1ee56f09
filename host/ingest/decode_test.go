package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// now is the clock of the tests: 2021-07-12T14:30:00Z.
var now = time.Unix(1626100200, 0)

const good = `{"id":"4009cc","t":1626098396.13,"lat":51.8,"lon":-1.35,"alt":472.4,"vx":-15.95,"vy":-48.87,"vz":0.33}`

func testClasses(t testing.TB) *Classes {
	t.Helper()
	c, err := NewClasses(map[string]ClassSpec{
		"drone":    {Horizontal: 30, Vertical: 15, Radius: 1},
		"aircraft": {Horizontal: 9260, Vertical: 300, Radius: 30},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testDecoder(t testing.TB) *Decoder {
	t.Helper()
	v, err := NewValidator(Options{}, testClasses(t))
	if err != nil {
		t.Fatal(err)
	}
	return NewDecoder(v)
}

func decode(t testing.TB, in string) ([]Record, []RecordError, error) {
	t.Helper()
	return testDecoder(t).DecodeBatch([]byte(in), now, nil, nil)
}

func TestDecodeGood(t *testing.T) {
	recs, errs, err := decode(t, good)
	if err != nil || len(errs) != 0 || len(recs) != 1 {
		t.Fatalf("recs %v errs %v err %v", recs, errs, err)
	}
	r := recs[0]
	want := Record{ID: []byte("4009cc"), T: 1626098396.13, Lat: 51.8, Lon: -1.35, Alt: 472.4, VX: -15.95, VY: -48.87, VZ: 0.33,
		Fields: FieldID | FieldT | FieldLat | FieldLon | FieldAlt | FieldVX | FieldVY | FieldVZ}
	if fmt.Sprint(r) != fmt.Sprint(want) {
		t.Fatalf("got  %+v\nwant %+v", r, want)
	}
	if !r.Geodetic() || r.HasAccel() {
		t.Fatal("Geodetic/HasAccel wrong")
	}
}

// TestBatchForms: an array, NDJSON, a single object, arrays in a stream, and
// whitespace everywhere all give the same records.
func TestBatchForms(t *testing.T) {
	rec := func(id string) string { return strings.Replace(good, "4009cc", id, 1) }
	forms := map[string]string{
		"array":     "[" + rec("a") + "," + rec("b") + "," + rec("c") + "]",
		"ndjson":    rec("a") + "\n" + rec("b") + "\r\n" + rec("c") + "\n",
		"mixed":     "[" + rec("a") + "]\n" + rec("b") + "\n[ ]\n[" + rec("c") + "]",
		"spaced":    " \t[\n " + rec("a") + " ,\n" + rec("b") + "\n,\t" + rec("c") + "\n]\n ",
		"bom+array": "\xEF\xBB\xBF[" + rec("a") + "," + rec("b") + "," + rec("c") + "]",
	}
	for name, in := range forms {
		recs, errs, err := decode(t, in)
		if err != nil || len(errs) != 0 || len(recs) != 3 {
			t.Fatalf("%s: %d recs, errs %v, err %v", name, len(recs), errs, err)
		}
		for i, id := range []string{"a", "b", "c"} {
			if string(recs[i].ID) != id || recs[i].Index != i {
				t.Fatalf("%s: record %d is %q index %d", name, i, recs[i].ID, recs[i].Index)
			}
			if !bytes.HasPrefix([]byte(in[recs[i].Offset:]), []byte(`{"id":"`+id)) {
				t.Fatalf("%s: record %d offset %d does not point at it", name, i, recs[i].Offset)
			}
		}
	}
	for _, in := range []string{"", "  \n", "[]", "[ ]\n[]"} {
		recs, errs, err := decode(t, in)
		if err != nil || len(recs)+len(errs) != 0 {
			t.Fatalf("%q: %v %v %v", in, recs, errs, err)
		}
	}
}

func TestDecodeFieldForms(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		check func(r Record) bool
	}{
		{"rfc3339", `{"id":"a","t":"2021-07-12T14:00:00Z","lat":1,"lon":2,"alt":3,"vx":0,"vy":0}`,
			func(r Record) bool { return r.T == 1626098400 && r.Fields&FieldVZ == 0 }},
		{"rfc3339 offset+frac", `{"id":"a","t":"2021-07-12T15:00:00.25+01:00","lat":1,"lon":2,"alt":3,"vx":0,"vy":0}`,
			func(r Record) bool { return r.T == 1626098400.25 }},
		{"speed track", `{"id":"a","t":1626098396,"lat":1,"lon":2,"alt":3,"speed":100,"track":359.9,"vrate":-2}`,
			func(r Record) bool { return r.Speed == 100 && r.Track == 359.9 && r.VRate == -2 }},
		{"cartesian", `{"id":"a","t":1626098396,"x":1e3,"y":-2.5E2,"z":0,"vx":1,"vy":2,"vz":3}`,
			func(r Record) bool { return r.X == 1000 && r.Y == -250 && !r.Geodetic() }},
		{"optional", `{"id":"a","t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2,"ax":0.1,"ay":0.2,"az":-0.3,"radius":20,"sigma":5,"class":"drone"}`,
			func(r Record) bool {
				return r.HasAccel() && r.AZ == -0.3 && r.Radius == 20 && r.Sigma == 5 && string(r.Class) == "drone"
			}},
		{"numeric id", `{"id":235070762,"t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2}`,
			func(r Record) bool { return string(r.ID) == "235070762" }},
		{"escaped id", `{"id":"a\"b\\c\u00e9\ud83d\ude00/\/","t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2}`,
			func(r Record) bool { return string(r.ID) == "a\"b\\cé😀//" }},
		{"escaped key", `{"\u0069d":"a","t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2}`,
			func(r Record) bool { return string(r.ID) == "a" }},
		{"unknown fields ignored", `{"callsign":"BAW1","id":"a","meta":{"x":[1,{"y":null}],"b":true,"s":"\"}"},"t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2,"n":NaN}`,
			func(r Record) bool { return r.X == 1 && r.Fields&FieldClass == 0 }},
		{"null is absent", `{"id":"a","t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2,"vz":null,"class":null,"radius":null}`,
			func(r Record) bool { return r.Fields&(FieldVZ|FieldClass|FieldRadius) == 0 }},
		{"negative zero and exponents", `{"id":"a","t":1.626098396e9,"x":-0,"y":0.5e-3,"z":12E+2,"vx":-0.0,"vy":2}`,
			func(r Record) bool {
				return math.Signbit(r.X) && r.Y == 0.0005 && r.Z == 1200 && r.T == 1626098396
			}},
	}
	for _, c := range cases {
		recs, errs, err := decode(t, c.in)
		if err != nil || len(errs) != 0 || len(recs) != 1 {
			t.Fatalf("%s: recs %v errs %v err %v", c.name, recs, errs, err)
		}
		if !c.check(recs[0]) {
			t.Fatalf("%s: %+v", c.name, recs[0])
		}
	}
}

// TestReasons: one record per refusal, each with its field and reason; the
// good record after each is still accepted.
func TestReasons(t *testing.T) {
	base := map[string]string{"id": `"a"`, "t": "1626098396", "lat": "51", "lon": "-1", "alt": "100", "vx": "1", "vy": "2", "vz": "0"}
	build := func(set map[string]string, del ...string) string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for _, k := range del {
			delete(m, k)
		}
		for k, v := range set {
			m[k] = v
		}
		var b strings.Builder
		b.WriteString("{")
		first := true
		for _, k := range []string{"id", "t", "lat", "lon", "alt", "x", "y", "z", "vx", "vy", "vz", "speed", "track", "vrate", "ax", "ay", "az", "radius", "sigma", "class", "group"} {
			if v, ok := m[k]; ok {
				if !first {
					b.WriteString(",")
				}
				first = false
				fmt.Fprintf(&b, "%q:%s", k, v)
			}
		}
		b.WriteString("}")
		return b.String()
	}
	type kv = map[string]string
	cases := []struct {
		in     string
		field  Field
		reason Reason
	}{
		{`[1]`, 0, ReasonNotObject},
		{`"x"`, 0, ReasonNotObject},
		{build(kv{"lat": `"51"`}), FieldLat, ReasonWrongType},
		{build(kv{"lat": `true`}), FieldLat, ReasonWrongType},
		{build(kv{"lat": `[51]`}), FieldLat, ReasonWrongType},
		{build(kv{"id": `1.5`}), FieldID, ReasonWrongType},
		{build(kv{"class": `3`}), FieldClass, ReasonWrongType},
		{`{"id":"a","id":"b","t":1626098396,"lat":51,"lon":-1,"alt":100,"vx":1,"vy":2}`, FieldID, ReasonDuplicateField},
		{build(nil, "id"), FieldID, ReasonMissingID},
		{build(kv{"id": `null`}), FieldID, ReasonMissingID},
		{build(kv{"id": `"` + strings.Repeat("x", 65) + `"`}), FieldID, ReasonIDTooLong},
		{build(kv{"id": `""`}), FieldID, ReasonInvalidID},
		{build(kv{"id": `"a\nb"`}), FieldID, ReasonInvalidID},
		{build(kv{"id": "\"\xff\""}), FieldID, ReasonInvalidID},
		{build(nil, "t"), FieldT, ReasonMissingTime},
		{build(kv{"t": `"yesterday"`}), FieldT, ReasonBadTime},
		{build(kv{"t": `"2021-02-29T00:00:00Z"`}), FieldT, ReasonBadTime},
		{build(kv{"t": `"2021-07-12T14:00:00"`}), FieldT, ReasonBadTime},
		{build(kv{"t": "1626100206"}), FieldT, ReasonTimeInFuture},
		{build(kv{"t": "1626100200000"}), FieldT, ReasonTimeInFuture}, // milliseconds by mistake
		{build(kv{"t": "946684799.9"}), FieldT, ReasonTimeTooOld},
		{build(kv{"t": `"1999-12-31T23:59:59Z"`}), FieldT, ReasonTimeTooOld},
		{build(kv{"lat": "NaN"}), FieldLat, ReasonNonFinite},
		{build(kv{"lon": "-Infinity"}), FieldLon, ReasonNonFinite},
		{build(kv{"alt": `"NaN"`}), FieldAlt, ReasonNonFinite},
		{build(kv{"vx": `"Infinity"`}), FieldVX, ReasonNonFinite},
		{build(kv{"vy": `"-inf"`}), FieldVY, ReasonNonFinite},
		{build(kv{"vz": "1e400"}), FieldVZ, ReasonNonFinite},
		{build(kv{"t": `"NaN"`}), FieldT, ReasonNonFinite},
		{build(kv{"lat": "90.0001"}), FieldLat, ReasonLatRange},
		{build(kv{"lat": "-91"}), FieldLat, ReasonLatRange},
		{build(kv{"lon": "180.5"}), FieldLon, ReasonLonRange},
		{build(kv{"alt": "-2001"}), FieldAlt, ReasonAltRange},
		{build(kv{"alt": "100001"}), FieldAlt, ReasonAltRange},
		{build(kv{"x": "1", "y": "2", "z": "1e9"}, "lat", "lon", "alt"), FieldZ, ReasonCoordRange},
		{build(nil, "lat", "lon", "alt"), 0, ReasonPositionMissing},
		{build(kv{"x": "1", "y": "2", "z": "3"}), FieldX | FieldY | FieldZ, ReasonPositionBoth},
		{build(kv{"x": "1"}), FieldX, ReasonPositionBoth},
		{build(nil, "lon"), FieldLon, ReasonPositionPartial},
		{build(nil, "alt"), FieldAlt, ReasonPositionPartial},
		{build(kv{"x": "1", "y": "2"}, "lat", "lon", "alt"), FieldZ, ReasonPositionPartial},
		{build(nil, "vx", "vy", "vz"), 0, ReasonVelocityMissing},
		{build(nil, "vy"), FieldVY, ReasonVelocityPartial},
		{build(kv{"speed": "10"}, "vx", "vy", "vz"), FieldTrack, ReasonVelocityPartial},
		{build(kv{"vrate": "1"}, "vx", "vy", "vz"), FieldSpeed | FieldTrack, ReasonVelocityPartial},
		{build(kv{"speed": "10", "track": "90"}), FieldSpeed | FieldTrack, ReasonVelocityMixed},
		{build(kv{"speed": "10", "track": "90", "vrate": "1"}, "vx", "vy"), FieldSpeed | FieldTrack | FieldVRate, ReasonVelocityMixed},
		{build(kv{"speed": "-1", "track": "90"}, "vx", "vy", "vz"), FieldSpeed, ReasonNegativeSpeed},
		{build(kv{"speed": "1", "track": "360"}, "vx", "vy", "vz"), FieldTrack, ReasonTrackRange},
		{build(kv{"speed": "1", "track": "-0.1"}, "vx", "vy", "vz"), FieldTrack, ReasonTrackRange},
		{build(kv{"speed": "1501", "track": "0"}, "vx", "vy", "vz"), FieldSpeed, ReasonSpeedRange},
		{build(kv{"speed": "1", "track": "0", "vrate": "-2000"}, "vx", "vy", "vz"), FieldVRate, ReasonSpeedRange},
		{build(kv{"vx": "1000", "vy": "1000", "vz": "600"}), FieldVX | FieldVY | FieldVZ, ReasonSpeedRange},
		{build(kv{"ax": "1", "ay": "1"}), FieldAZ, ReasonAccelPartial},
		{build(kv{"ax": "100", "ay": "1", "az": "0"}), FieldAX | FieldAY | FieldAZ, ReasonAccelRange},
		{build(kv{"radius": "-1"}), FieldRadius, ReasonNegativeRadius},
		{build(kv{"radius": "10001"}), FieldRadius, ReasonRadiusRange},
		{build(kv{"sigma": "-0.5"}), FieldSigma, ReasonNegativeSigma},
		{build(kv{"sigma": "1e6"}), FieldSigma, ReasonSigmaRange},
		{build(kv{"class": `"blimp"`}), FieldClass, ReasonUnknownClass},
		{build(kv{"class": `"Drone"`}), FieldClass, ReasonUnknownClass},
		{build(kv{"group": `""`}), FieldGroup, ReasonInvalidGroup},
		{build(kv{"group": `"show\u0001"`}), FieldGroup, ReasonInvalidGroup},
		{build(kv{"group": `"` + strings.Repeat("g", 65) + `"`}), FieldGroup, ReasonInvalidGroup},
		{build(kv{"group": `7`}), FieldGroup, ReasonWrongType},
	}
	seen := map[Reason]bool{}
	for _, c := range cases {
		in := "[" + c.in + ",\n" + good + "]"
		recs, errs, err := decode(t, in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if len(errs) != 1 || len(recs) != 1 || recs[0].Index != 1 {
			t.Fatalf("%s: %d recs, errs %v", c.in, len(recs), errs)
		}
		e := errs[0]
		if e.Reason != c.reason || e.Field != c.field || e.Index != 0 || e.Offset != 1 {
			t.Fatalf("%s: got %v on %q (index %d offset %d), want %v on %q", c.in, e.Reason, e.Field, e.Index, e.Offset, c.reason, c.field)
		}
		if !errors.Is(&e, ErrInvalid) || !IsInvalid(&e) || !strings.Contains(e.Error(), c.reason.String()) {
			t.Fatalf("error %v does not match ErrInvalid or name its reason", &e)
		}
		seen[c.reason] = true
	}
	for _, r := range Reasons() {
		// The engine's verdicts never come from the decoder (api tests them).
		if !seen[r] && r != ReasonStale && r != ReasonDuplicate && r != ReasonLate {
			t.Errorf("reason %v has no test case", r)
		}
		if s := r.String(); s == "" || strings.ToLower(s) != s || strings.ContainsAny(s, " -.") {
			t.Errorf("reason label %q is not snake_case", s)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		in     string
		offset int
	}{
		{`{`, 1},
		{`[`, 1},
		{`[{"id":"a"}`, 11},
		{`[{"id":"a"},]`, 12},
		{`[{"id":"a"} {"id":"b"}]`, 12},
		{`{"id":"a",}`, 10},
		{`{"id" "a"}`, 6},
		{`{id:"a"}`, 1},
		{`{"id":"a"`, 9},
		{`{"id":"a}`, 9},
		{"{\"id\":\"a\nb\"}", 8},
		{`{"id":"a\x"}`, 8},
		{`{"id":"\u12"}`, 7},
		{`{"lat":01}`, 8},
		{`{"lat":1.}`, 9},
		{`{"lat":1e}`, 9},
		{`{"lat":-}`, 8},
		{`{"lat":+1}`, 7},
		{`{"lat":.5}`, 7},
		{`{"lat":nul}`, 7},
		{`{"lat":Nan}`, 7},
		{`{"x":tru}`, 5},
		{`{"x":[1,2}`, 9},
		{`{"x":{"a":1]}`, 11},
		{`{"x":{"a"}}`, 9},
		{`}`, 0},
		{`{"id":"a"}x`, 10},
		{`{"id":"a"}]`, 10},
		{`["a" "b"]`, 5},
		{`{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, 5 + maxDepth - 1},
		{`{"lat":1 2}`, 9},
	}
	for _, c := range cases {
		prior := []Record{{ID: []byte("kept")}}
		recs, errs, err := testDecoder(t).DecodeBatch([]byte(c.in), now, prior, nil)
		var se *SyntaxError
		if !errors.As(err, &se) || !IsSyntax(err) {
			t.Fatalf("%q: err %v, want a SyntaxError", c.in, err)
		}
		if se.Offset != c.offset {
			t.Errorf("%q: offset %d (%s), want %d", c.in, se.Offset, se.Msg, c.offset)
		}
		if len(recs) != 1 || string(recs[0].ID) != "kept" || len(errs) != 0 {
			t.Fatalf("%q: a failed batch changed the slices: %v %v", c.in, recs, errs)
		}
		if !strings.Contains(err.Error(), "at byte "+strconv.Itoa(se.Offset)) {
			t.Fatalf("error %q lacks the offset", err)
		}
	}
	// Nesting up to the limit is fine.
	in := `{"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`
	if _, _, err := decode(t, in); err != nil {
		t.Fatalf("nesting %d: %v", maxDepth-1, err)
	}
}

// jsonStream is encoding/json's verdict on a stream of JSON values.
func jsonStream(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var v json.RawMessage
		err := dec.Decode(&v)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestAgainstEncodingJSON: the scanner accepts exactly the value streams
// encoding/json accepts (for input without the NaN/Infinity extension), on
// random mutations of valid batches.
func TestAgainstEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	seeds := []string{
		"[" + good + "," + good + "]",
		`[{"id":"a\u00e9","t":"2021-07-12T14:00:00Z","x":1e3,"y":-2,"z":0.5,"vx":1,"vy":2,"o":{"a":[true,false,null,"s\"",-0.1e-2]}}]`,
	}
	alphabet := []byte(`{}[],:"\ -+.eE0123456789atrufnlsxu` + "\n\t")
	for i := 0; i < 100000; i++ {
		b := []byte(seeds[i%len(seeds)])
		for k := r.IntN(3) + 1; k > 0; k-- {
			p := r.IntN(len(b))
			switch r.IntN(3) {
			case 0:
				b = append(b[:p], b[p+1:]...)
			case 1:
				b[p] = alphabet[r.IntN(len(alphabet))]
			case 2:
				b = append(b[:p], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[p:]...)...)
			}
		}
		if bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Infinity")) {
			continue
		}
		_, _, err := decode(t, string(b))
		jerr := jsonStream(b)
		if (err == nil) != (jerr == nil) {
			t.Fatalf("%q: scanner %v, encoding/json %v", b, err, jerr)
		}
	}
}

// TestNumbersMatchStrconv: the scanner's numbers are bit for bit those of
// strconv.ParseFloat (the fast path is exact, not approximately right).
func TestNumbersMatchStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 1000000; i++ {
		var s string
		switch i % 4 {
		case 0:
			s = strconv.FormatFloat((r.Float64()-0.5)*400, 'f', r.IntN(17), 64)
		case 1:
			s = strconv.FormatFloat(r.NormFloat64()*1e6, 'f', -1, 64)
		case 2:
			s = strconv.FormatFloat(r.Float64()*1e10, 'f', r.IntN(8), 64)
		case 3:
			s = strconv.FormatInt(r.Int64N(1<<62)>>r.IntN(62), 10) + "." + strings.Repeat("0", r.IntN(4)) + strconv.FormatInt(r.Int64N(1e6), 10)
		}
		if i%7 == 0 {
			s = "-" + strings.TrimPrefix(s, "-")
		}
		want, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		sc := scanner{data: []byte(s)}
		_, _, got, fast, err := sc.numberValue()
		if err != nil || sc.pos != len(s) {
			t.Fatalf("numberValue(%q): %v at %d", s, err, sc.pos)
		}
		if !fast {
			got = parseFloat([]byte(s))
		}
		if math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("numberValue(%q) = %v (fast %v), strconv %v", s, got, fast, want)
		}
	}
}

func TestParseTimeMatchesTimePackage(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	zones := []string{"Z", "+00:00", "+05:30", "-08:00", "-00:01", "+23:59"}
	for i := 0; i < 100000; i++ {
		sec := r.Int64N(4102444800) // 1970..2100
		tm := time.Unix(sec, 0).UTC()
		s := tm.Format("2006-01-02T15:04:05")
		if i%3 == 0 {
			s += "." + strconv.Itoa(r.IntN(1000000))
		}
		s += zones[i%len(zones)]
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseTime([]byte(s))
		w := float64(want.Unix()) + float64(want.Nanosecond())/1e9
		if !ok || math.Abs(got-w) > 1e-6 {
			t.Fatalf("parseTime(%q) = %v %v, time.Parse %v", s, got, ok, w)
		}
	}
	for _, bad := range []string{"2021-13-01T00:00:00Z", "2021-00-01T00:00:00Z", "2021-04-31T00:00:00Z", "2021-01-01T24:00:00Z",
		"2021-01-01T00:60:00Z", "2021-01-01T00:00:60Z", "2021-01-01T00:00:00.Z", "2021-01-01T00:00:00+0100", "2021-01-01T00:00:00Zx",
		"2021-01-01X00:00:00Z", "2021-1-01T00:00:00Z", "+021-01-01T00:00:00Z", "2021-01-01T00:00:00+24:00"} {
		if _, ok := parseTime([]byte(bad)); ok {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
	if got, ok := parseTime([]byte("2024-02-29 12:00:00z")); !ok || got != 1709208000 {
		t.Errorf("leap day with space separator: %v %v", got, ok)
	}
}

// TestAliasing: ids alias the input when unescaped, and escaped ids stay
// valid for the whole batch even when the scratch buffer grows.
func TestAliasing(t *testing.T) {
	d := testDecoder(t)
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 200; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		id := fmt.Sprintf(`id\u00e9%03d`, i)
		if i%2 == 1 {
			id = fmt.Sprintf("plain%03d", i)
		}
		fmt.Fprintf(&b, `{"id":"%s","t":1626098396,"x":1,"y":2,"z":3,"vx":1,"vy":2}`, id)
	}
	b.WriteString("]")
	data := []byte(b.String())
	recs, errs, err := d.DecodeBatch(data, now, nil, nil)
	if err != nil || len(errs) != 0 || len(recs) != 200 {
		t.Fatalf("%d %v %v", len(recs), errs, err)
	}
	for i, r := range recs {
		want := fmt.Sprintf("idé%03d", i)
		if i%2 == 1 {
			want = fmt.Sprintf("plain%03d", i)
			if &r.ID[0] != &data[r.Offset+7] {
				t.Fatalf("record %d: plain id is a copy", i)
			}
		}
		if string(r.ID) != want {
			t.Fatalf("record %d: id %q, want %q", i, r.ID, want)
		}
		if cap(r.ID) != len(r.ID) {
			t.Fatalf("record %d: id has spare capacity; an append would clobber its neighbour", i)
		}
	}
}

// TestScratchBounded: a batch full of escaped text does not leave a large
// buffer behind in the decoder, and the next batch still decodes.
func TestScratchBounded(t *testing.T) {
	d := testDecoder(t)
	big := `{"id":"` + strings.Repeat(`\u0041`, 400000) + `"}`
	if _, errs, err := d.DecodeBatch([]byte(big), now, nil, nil); err != nil || len(errs) != 1 || errs[0].Reason != ReasonIDTooLong {
		t.Fatalf("%d errors, err %v", len(errs), err)
	}
	long := `{"id":"a` + strings.Repeat("é", 40) + `"}`
	if _, errs, _ := d.DecodeBatch([]byte(long), now, nil, nil); len(errs) != 1 || string(errs[0].ID) != "a"+strings.Repeat("é", 31) {
		t.Fatalf("a long id is reported as %q, want its first 64 bytes cut at a rune boundary", errs[0].ID)
	}
	if _, _, err := d.DecodeBatch([]byte(good), now, nil, nil); err != nil {
		t.Fatal(err)
	}
	if cap(d.scratch) > maxScratch {
		t.Fatalf("decoder keeps %d bytes of scratch", cap(d.scratch))
	}
}

func TestOptions(t *testing.T) {
	v, err := NewValidator(Options{MaxSkew: -1, MaxIDLen: 4, MinAlt: -10, MaxAlt: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(v)
	in := `{"id":"abcd","t":2e9,"lat":1,"lon":1,"alt":10,"vx":0,"vy":0}
{"id":"abcde","t":1626098396,"lat":1,"lon":1,"alt":1,"vx":0,"vy":0}
{"id":"abc","t":1626098396,"lat":1,"lon":1,"alt":11,"vx":0,"vy":0}
{"id":"abc","t":1626098396,"lat":1,"lon":1,"alt":1,"vx":0,"vy":0,"class":"default"}
{"id":"abc","t":1626098396,"lat":1,"lon":1,"alt":1,"vx":0,"vy":0,"class":"drone"}`
	recs, errs, err := d.DecodeBatch([]byte(in), now, nil, nil)
	if err != nil || len(recs) != 2 || len(errs) != 3 ||
		errs[0].Reason != ReasonIDTooLong || errs[1].Reason != ReasonAltRange || errs[2].Reason != ReasonUnknownClass {
		t.Fatalf("recs %v errs %v err %v", recs, errs, err)
	}
	// The zero Time turns the future check off.
	recs, errs, _ = testDecoder(t).DecodeBatch([]byte(`{"id":"a","t":4e9,"x":1,"y":2,"z":3,"vx":1,"vy":2}`), time.Time{}, nil, nil)
	if len(recs) != 1 || len(errs) != 0 {
		t.Fatalf("zero now: %v %v", recs, errs)
	}
	for _, o := range []Options{{MaxIDLen: -1}, {MinAlt: 5, MaxAlt: 1}, {MaxSpeed: -1}, {MaxAccel: math.Inf(1)}, {MaxRadius: math.NaN()}} {
		if _, err := NewValidator(o, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("NewValidator(%+v) = %v, want ErrConfig", o, err)
		}
	}
	if o := v.Options(); o.MaxSpeed != 1500 || o.MaxSkew != -1 {
		t.Errorf("resolved options %+v", o)
	}
}

func TestFieldString(t *testing.T) {
	if FieldLat.String() != "lat" || (FieldX|FieldZ).String() != "x+z" || Field(0).String() != "" || FieldClass.String() != "class" {
		t.Fatal("Field.String")
	}
	for i, name := range fieldNames {
		if lookupField([]byte(name)) != Field(1)<<i {
			t.Fatalf("lookupField(%q)", name)
		}
	}
}
