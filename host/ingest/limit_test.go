package ingest

import (
	"errors"
	"strings"
	"testing"
)

// SetMaxRecords stops a batch at its first element beyond the limit, in
// every batch form, and accepts a batch of exactly the limit.
func TestDecodeStopsAtMaxRecords(t *testing.T) {
	d := NewDecoder(nil)
	d.SetMaxRecords(3)
	for _, tc := range []struct {
		name, body string
		over       bool
	}{
		{"array of 3", "[" + strings.Repeat(good+",", 2) + good + "]", false},
		{"array of 4", "[" + strings.Repeat(good+",", 3) + good + "]", true},
		{"ndjson of 4", strings.Repeat(good+"\n", 4), true},
		{"two arrays of 2", "[" + good + "," + good + "]\n[" + good + "," + good + "]", true},
		{"empty objects beyond", "[{},{},{},{}]", true},
		{"not objects beyond", "[1,2,3,4]", true},
	} {
		recs, errs, err := d.DecodeBatch([]byte(tc.body), now, nil, nil)
		var le *LimitError
		if tc.over {
			if !errors.Is(err, ErrTooMany) || !errors.As(err, &le) || le.Max != 3 || len(recs)+len(errs) != 0 {
				t.Errorf("%s: %d records, %d refused, err %v; want ErrTooMany and nothing", tc.name, len(recs), len(errs), err)
			}
			continue
		}
		if err != nil || len(recs) != 3 {
			t.Errorf("%s: %d records, err %v", tc.name, len(recs), err)
		}
	}
}

// Ids that hold a lone surrogate or a bidirectional control are refused as
// invalid_id, so that different ids never become one stored id and no id
// displays as another; proper pairs and other scripts are accepted.
func TestIDUnicodeRefusals(t *testing.T) {
	d := NewDecoder(nil)
	rec := func(id string) string {
		return `{"id":"` + id + `","t":1626098396,"lat":51.8,"lon":-1.35,"alt":472,"vx":1,"vy":1}`
	}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{`drone-\ud800`, false},        // lone high surrogate
		{`drone-\udbff`, false},        // another one: must not become the same id
		{`drone-\udc00x`, false},       // lone low surrogate
		{`\ud83d\ude81-heli`, true},    // a proper pair: U+1F681
		{"drone-\u202e1", false},       // right-to-left override, raw
		{`drone-\u202e1`, false},       // and escaped
		{`drone-\u2066x\u2069`, false}, // isolates
		{`drone-\u200f`, false},        // right-to-left mark
		{`drone-\u0085`, false},        // C1 control
		{"Flugzeug-Ä-日本", true},
		{"\xed\xa0\x80", false}, // a raw surrogate (CESU/WTF-8)
	} {
		recs, errs, err := d.DecodeBatch([]byte(rec(tc.id)), now, nil, nil)
		if err != nil {
			t.Fatalf("%q: %v", tc.id, err)
		}
		if tc.ok != (len(recs) == 1) {
			t.Errorf("id %q: accepted %d, refused %v; want accepted %v", tc.id, len(recs), errs, tc.ok)
		}
		if !tc.ok && (len(errs) != 1 || errs[0].Reason != ReasonInvalidID) {
			t.Errorf("id %q: %v, want invalid_id", tc.id, errs)
		}
	}
}
