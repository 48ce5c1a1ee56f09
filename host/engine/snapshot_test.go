package engine

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestExportImportRoundTrip: a second engine that imports the first one's
// export holds the same vehicles and open risks, and from there on both emit
// the same events for the same updates (same risk ids and sequence numbers).
func TestExportImportRoundTrip(t *testing.T) {
	a, logA := newTestEngine(t, Default(), builtinModels())
	t0 := 1_700_000_000.0
	feed := func(e *Engine, k int) {
		tt := t0 + float64(k)
		submit(t, e,
			Update{ID: []byte("a"), V: drone(-600+20*float64(k), 20, tt)},
			Update{ID: []byte("b"), V: drone(600-20*float64(k), -20, tt)},
			Update{ID: []byte("c"), V: drone(5000, 0, tt)})
	}
	for k := 0; k <= 10; k++ {
		feed(a, k)
	}
	if len(a.Risks()) != 1 {
		t.Fatalf("want one open risk before export, have %d", len(a.Risks()))
	}
	var buf bytes.Buffer
	if err := a.Export(&buf); err != nil {
		t.Fatal(err)
	}
	b, logB := newTestEngine(t, Default(), builtinModels())
	if err := b.Import(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	ja, _ := json.Marshal(a.Snapshot())
	jb, _ := json.Marshal(b.Snapshot())
	if !bytes.Equal(ja, jb) {
		t.Fatalf("snapshots differ:\n%s\n%s", ja, jb)
	}
	nA := len(logA.evs)
	for k := 11; k <= 60; k++ {
		feed(a, k)
		feed(b, k)
	}
	evA, evB := logA.evs[nA:], logB.evs
	if len(evA) == 0 || len(evA) != len(evB) {
		t.Fatalf("after import: %d events from the original, %d from the copy", len(evA), len(evB))
	}
	for i := range evA {
		x, y := evA[i], evB[i]
		x.Emitted, y.Emitted = 0, 0
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("event %d differs:\n%+v\n%+v", i, x, y)
		}
	}
	if last := evB[len(evB)-1]; last.Type != EventResolved || last.RiskID != logA.evs[0].RiskID {
		t.Fatalf("the imported risk did not resolve under its id: %+v", last)
	}
}

func TestImportRejectsBadSnapshots(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{"version":1,`,
		"wrong version": `{"version":7}`,
		"empty id":      `{"version":1,"vehicles":[{"id":"","state":{}}]}`,
		"bad risk":      `{"version":1,"risks":[{"id":"r","vehicle_a":"x","vehicle_b":"x"}]}`,
	} {
		e, _ := newTestEngine(t, Default(), builtinModels())
		if err := e.Import(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if e.Stats().Vehicles != 0 {
			t.Errorf("%s: a refused snapshot changed the state", name)
		}
	}
}
