package host

import (
	"github.com/collision-detection-platform/distributed-platform/examples"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// TestReplayWithWasmScorersMatchesBuiltin: the recordings replayed with the C
// and Go CPA examples as the scorer give exactly the builtin's risk events,
// each naming the Wasm model.
func TestReplayWithWasmScorersMatchesBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Wasm modules")
	}
	type rec struct {
		rel   string
		class string
		spec  config.Class
		max   float64
	}
	files := []rec{
		{"opensky-uk-2021-07-12/tracks.csv", "aviation", config.Class{Horizontal: 9260, Vertical: 304.8}, 9300},
		{"solent-ais-2016-01-12/tracks.csv", "ship", config.Class{Horizontal: 200, Vertical: 50}, 250},
	}
	for _, ex := range []string{"c-cpa", "go-cpa"} {
		wasm := examples.File(t, ex)
		for _, f := range files {
			t.Run(ex+"/"+filepath.Dir(f.rel), func(t *testing.T) {
				want, _ := replayFileWith(t, f.rel, f.class, f.spec, f.max, "")
				got, _ := replayFileWith(t, f.rel, f.class, f.spec, f.max, wasm)
				if len(want) == 0 || len(got) != len(want) {
					t.Fatalf("%d events with the Wasm scorer, %d with the builtin", len(got), len(want))
				}
				for i := range want {
					g, w := got[i], want[i]
					if g.Model.SHA256 == "builtin" || g.Model.SHA256 == "" {
						t.Fatalf("event %d names model %+v, want the Wasm module", i, g.Model)
					}
					g.Model, w.Model = engine.Event{}.Model, engine.Event{}.Model
					g.Emitted, w.Emitted = 0, 0
					if !reflect.DeepEqual(g, w) {
						t.Fatalf("event %d differs:\nwasm    %+v\nbuiltin %+v", i, g, w)
					}
				}
				t.Logf("%d identical events", len(got))
			})
		}
	}
}

// TestPluginOptionsFromConfig: plugins.limits.max_call_depth and each
// class's max_speed reach the plugin options, the speeds in the class
// numbering ingest gives the vehicles.
func TestPluginOptionsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Plugins.Limits.MaxCallDepth = 321
	cfg.CollisionDetection.Classes = map[string]config.Class{
		config.DefaultClass: {Horizontal: 50, Vertical: 25},
		"ship":              {Horizontal: 50, Vertical: 25, MaxSpeed: 20},
		"aviation":          {Horizontal: 50, Vertical: 25, MaxSpeed: 300},
	}
	o, err := PluginOptions(cfg, config.Plugin{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	classes, err := Classes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ship, _ := classes.Lookup([]byte("ship"))
	air, _ := classes.Lookup([]byte("aviation"))
	if o.Limits.MaxCallDepth != 321 || len(o.MaxSpeeds) != 3 || o.MaxSpeeds[ship] != 20 || o.MaxSpeeds[air] != 300 || o.MaxSpeeds[0] != 0 {
		t.Fatalf("options: depth %d speeds %v", o.Limits.MaxCallDepth, o.MaxSpeeds)
	}
}
