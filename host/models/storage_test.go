package models_test

import (
	"context"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/models"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// A disk that is full when an upload is stored answers 507 (another write
// failure 500) naming no local path, and nothing is stored.
func TestUploadOutOfSpace(t *testing.T) {
	ctx := context.Background()
	eng, err := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "secret-place", "plugins")
	rt, _ := plugins.NewRuntime(plugins.RuntimeConfig{})
	defer rt.Close(ctx)
	mgr, err := models.New(ctx, models.Config{Engine: eng, Runtime: rt, Dir: dir,
		Options: plugins.Options{Instances: 1}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close(ctx)
	srv, err := api.New(api.Options{Engine: eng, AdminEnabled: true, Plugins: mgr, Registerer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { srv.Shutdown(ctx); <-served }()
	c := &client{t: t, base: "http://" + ln.Addr().String(), http: &http.Client{Timeout: time.Minute}}
	module := models.ExampleModule(t, "c-cpa")

	for _, tc := range []struct {
		errno syscall.Errno
		want  int
	}{{syscall.ENOSPC, http.StatusInsufficientStorage}, {syscall.EDQUOT, http.StatusInsufficientStorage}, {syscall.EIO, http.StatusInternalServerError}} {
		restore := models.FailWrites(&fs.PathError{Op: "write", Path: filepath.Join(dir, ".module.tmp-1"), Err: tc.errno})
		var p struct {
			Error string `json:"error"`
		}
		code := c.do("POST", "/admin/plugins?kind=scorer", "application/wasm", module, &p)
		restore()
		if code != tc.want || !strings.Contains(p.Error, tc.errno.Error()) {
			t.Errorf("%v: %d %q, want %d naming the cause", tc.errno, code, p.Error, tc.want)
		}
		if strings.Contains(p.Error, "secret-place") || strings.Contains(p.Error, os.TempDir()) {
			t.Errorf("%v: the answer names a local path: %q", tc.errno, p.Error)
		}
	}
	var list struct {
		Plugins []models.Info `json:"plugins"`
	}
	if c.do("GET", "/admin/plugins", "", nil, &list); len(list.Plugins) != 0 {
		t.Fatalf("%d plugins listed after failed writes", len(list.Plugins))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "registry.json" {
		t.Fatalf("files in the plugin directory after failed writes: %v (want registry.json alone)", entries)
	}
	// With space again, the same upload is stored.
	if code := c.do("POST", "/admin/plugins?kind=scorer", "application/wasm", module, nil); code != http.StatusCreated {
		t.Fatalf("upload after the disk recovered: %d", code)
	}
}
