package ingest

import (
	"sync"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// TestSharedAcrossGoroutines: a Validator, its Classes and a Frame are shared
// by many goroutines, each with its own Decoder, and every goroutine gets the
// serial result (run with -race to check the sharing).
func TestSharedAcrossGoroutines(t *testing.T) {
	d := testDecoder(t)
	v, classes := d.Validator(), d.Validator().Classes()
	data := append(recordedBatch(t, 300), []byte("\n"+`{"id":"d\u00e9","t":1626098396,"x":1,"y":2,"z":3,"speed":3,"track":10,"class":"drone"}`)...)
	norm := func(dec *Decoder) []abi.Vehicle {
		recs, errs, err := dec.DecodeBatch(data, now, nil, nil)
		if err != nil || len(errs) != 0 {
			t.Error(err, errs)
			return nil
		}
		out := make([]abi.Vehicle, len(recs))
		for i := range recs {
			if err := Normalize(&recs[i], london, classes, &out[i]); err != nil {
				t.Error(err)
			}
		}
		return out
	}
	want := norm(d)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := NewDecoder(v)
			for k := 0; k < 20; k++ {
				got := norm(dec)
				if len(got) != len(want) {
					t.Errorf("%d records, want %d", len(got), len(want))
					return
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("record %d differs: %+v vs %+v", i, got[i], want[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
