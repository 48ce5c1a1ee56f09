package host

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// TestServeRestoresActivePlugin: a node with a data directory serves the
// admin plugin API; a plugin activated there is the scorer again after a
// restart of the node.
func TestServeRestoresActivePlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Wasm module")
	}
	module := examples.Module(t, "c-cpa")
	cfg := config.Default()
	cfg.System.DataDir = t.TempDir()
	cfg.API.Admin.Enabled = true
	start := func() (*Node, string, func()) {
		n, err := NewNode(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.StartPlugins(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv, err := n.API(api.Version{Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- n.Run(ctx, ln, srv, nil) }()
		return n, "http://" + ln.Addr().String(), func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	n, base, stop := start()
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Post(base+"/admin/plugins?kind=scorer", "application/wasm", bytes.NewReader(module))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		ID string `json:"id"`
	}
	json.NewDecoder(resp.Body).Decode(&rec)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	resp, err = c.Post(base+"/admin/plugins/"+rec.ID[:12]+"/activate", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("activate: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if got := n.Engine.Models().Scorer.Model().SHA256; got != rec.ID {
		t.Fatalf("scorer %s after activate", got)
	}
	stop()
	if n.Plugins != nil {
		t.Fatal("Run did not close the plugin manager")
	}

	n2, _, stop2 := start()
	defer stop2()
	if got := n2.Engine.Models().Scorer.Model(); got.SHA256 != rec.ID || got.Name != "cpa-c" {
		t.Fatalf("after restart the scorer is %+v", got)
	}
	if h := n2.Plugins.History(); len(h) != 1 || h[0].To.ID != rec.ID {
		t.Fatalf("history after restart: %+v", h)
	}
}
