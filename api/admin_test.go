package api_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"github.com/collision-detection-platform/distributed-platform/examples"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/models"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// cCPA builds examples/c-cpa (examples.Module: skipped without clang, except under CI).
func cCPA(t *testing.T) []byte {
	t.Helper()
	return examples.Module(t, "c-cpa")
}

// withPlugins enables the admin API with a plugin manager over the engine.
func withPlugins(t *testing.T) func(*api.Options) {
	return func(o *api.Options) {
		rt, err := plugins.NewRuntime(plugins.RuntimeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		m, err := models.New(context.Background(), models.Config{Engine: o.Engine.(*engine.Engine), Runtime: rt,
			Options: plugins.Options{Instances: 1}, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close(context.Background()); rt.Close(context.Background()) })
		o.AdminEnabled, o.Plugins, o.Registerer = true, m, reg
	}
}

// The plugin endpoints are admin endpoints: 403 while api.admin.enabled is
// off or the client is not in api.admin.allow, 501 with no plugin manager.
func TestAdminPluginsGated(t *testing.T) {
	h := newHarness(t, nil, nil)
	for _, r := range [][2]string{{"GET", "/admin/plugins"}, {"POST", "/admin/plugins"}, {"GET", "/admin/plugins/0123456789"},
		{"POST", "/admin/plugins/0123456789/activate"}, {"POST", "/admin/plugins/0123456789/shadow"},
		{"POST", "/admin/plugins/rollback"}, {"DELETE", "/admin/plugins/0123456789"}, {"GET", "/admin/plugins/history"}} {
		a := h.do(r[0], r[1], "", nil)
		if msg, _ := a.problem(t); a.status != http.StatusForbidden || !strings.Contains(msg, "api.admin.enabled") {
			t.Fatalf("%s %s with admin disabled: %d %s", r[0], r[1], a.status, msg)
		}
	}
	h2 := newHarness(t, func(o *api.Options) { o.AdminEnabled, o.AdminAllow = true, []string{"10.0.0.0/8"} }, nil)
	a := h2.get("/admin/plugins")
	if msg, _ := a.problem(t); a.status != http.StatusForbidden || !strings.Contains(msg, "api.admin.allow") {
		t.Fatalf("client not allowed: %d %s", a.status, msg)
	}
	h3 := newHarness(t, func(o *api.Options) { o.AdminEnabled = true }, nil)
	if a := h3.get("/admin/plugins"); a.status != http.StatusNotImplemented {
		t.Fatalf("no manager: %d %s", a.status, a.body)
	}
}

// TestAdminPluginsFlow walks one plugin through the endpoints and checks the
// status codes a client branches on.
func TestAdminPluginsFlow(t *testing.T) {
	module := cCPA(t)
	h := newHarness(t, withPlugins(t), nil)
	a := h.do("POST", "/admin/plugins?kind=scorer&config=%7B%7D", "application/wasm", bytes.NewReader(module), "X-Request-ID", "req-1")
	var rec models.Info
	if a.status != http.StatusCreated {
		t.Fatalf("upload: %d %s", a.status, a.body)
	}
	a.json(t, &rec)
	if rec.Name != "cpa-c" || rec.State != models.StateStored || rec.UploadedBy.RequestID != "req-1" ||
		a.header.Get("Location") != "/admin/plugins/"+rec.ID || a.header.Get("X-Request-ID") != "req-1" {
		t.Fatalf("record %+v, headers %v", rec, a.header)
	}
	if a := h.do("POST", "/admin/plugins?kind=scorer", "application/wasm", bytes.NewReader(module)); a.status != http.StatusOK {
		t.Fatalf("re-upload: %d", a.status)
	}
	if a := h.do("POST", "/admin/plugins?kind=scorer&config=%7B%22gain%22%3A2%7D", "application/wasm", bytes.NewReader(module)); a.status != http.StatusConflict {
		t.Fatalf("re-upload with another config: %d %s", a.status, a.body)
	}
	short := rec.ID[:10]
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/admin/plugins/" + short, "", 200},
		{"GET", "/admin/plugins/abc", "", 400},
		{"GET", "/admin/plugins/ffffffffffff", "", 404},
		{"POST", "/admin/plugins/" + short + "/shadow", `{"share": 2}`, 400},
		{"POST", "/admin/plugins/" + short + "/shadow", `{"share": 0.5}`, 200},
		{"POST", "/admin/plugins/" + short + "/shadow", `{"share":`, 400},
		{"POST", "/admin/plugins/" + short + "/activate", "", 200},
		{"DELETE", "/admin/plugins/" + short, "", 409},
		{"POST", "/admin/plugins/rollback", `{"kind":"hoverboard"}`, 400},
		{"POST", "/admin/plugins/rollback", `{"kind":"predictor"}`, 409},
		{"POST", "/admin/plugins/rollback", ``, 200},
		{"POST", "/admin/plugins/rollback", ``, 409},
		{"DELETE", "/admin/plugins/" + short, "", 204},
		{"GET", "/admin/plugins/" + short, "", 404},
	} {
		a := h.do(c.method, c.path, "application/json", strings.NewReader(c.body))
		if a.status != c.want {
			t.Fatalf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, a.status, a.body, c.want)
		}
		if a.status >= 400 {
			a.problem(t)
		}
	}
	var hist struct {
		Activations []models.Activation `json:"activations"`
	}
	h.get("/admin/plugins/history").json(t, &hist)
	if len(hist.Activations) != 2 || hist.Activations[0].To.ID != rec.ID || hist.Activations[1].Reason != "rollback" {
		t.Fatalf("history %+v", hist.Activations)
	}
	// The request ids were generated (16 hex digits) and kept intact after
	// later requests reused the server's buffers.
	for _, a := range hist.Activations {
		if _, err := hex.DecodeString(a.RequestID); err != nil || len(a.RequestID) != 16 || a.RemoteAddr == "" {
			t.Fatalf("activation request id %q remote %q", a.RequestID, a.RemoteAddr)
		}
	}
	var st struct {
		Plugins models.Status `json:"plugins"`
	}
	h.get("/system/status").json(t, &st)
	if st.Plugins.Active["scorer"].Name != "builtin-cpa" || st.Plugins.Activations != 2 {
		t.Fatalf("status plugins %+v", st.Plugins)
	}
	if m := h.get("/metrics"); !bytes.Contains(m.body, []byte("cdp_plugin_activations_total 2")) ||
		!bytes.Contains(m.body, []byte("cdp_plugin_auto_rollbacks_total 0")) {
		t.Fatalf("metrics lack the plugin counters")
	}
}

// TestPluginUploadBodyLimit: a module above api.max_body_bytes but within
// UploadLimit (plugins.limits.max_module_bytes plus framing) reaches the
// plugin registry, which answers for the module itself; a body above
// UploadLimit is a 413, and other routes keep BodyLimit.
func TestPluginUploadBodyLimit(t *testing.T) {
	h := newHarness(t, func(o *api.Options) {
		withPlugins(t)(o)
		o.BodyLimit, o.UploadLimit = 4<<10, 64<<10
	}, nil)
	mid := append([]byte("\x00asm\x01\x00\x00\x00"), make([]byte, 20<<10)...) // malformed, 20 KiB
	a := h.do("POST", "/admin/plugins?kind=scorer", "application/wasm", bytes.NewReader(mid))
	if a.status != http.StatusUnprocessableEntity {
		t.Fatalf("20 KiB module, body limit 4 KiB, upload limit 64 KiB: %d %s", a.status, a.body)
	}
	big := append([]byte("\x00asm\x01\x00\x00\x00"), make([]byte, 100<<10)...)
	// Over the limit the server answers 413 and closes the connection; a
	// client still writing the body may see the reset before the answer (a
	// known defect, issue 9: the 413 should reach it). Either way the module
	// is not taken.
	if code := h.tooLarge("/admin/plugins?kind=scorer", "application/wasm", bytes.NewReader(big)); code != http.StatusRequestEntityTooLarge && code != statusConnReset {
		t.Fatalf("100 KiB module over the upload limit: %d", code)
	}
	if a := h.get("/admin/plugins"); a.status != http.StatusOK || !strings.Contains(string(a.body), `"plugins":[]`) {
		t.Fatalf("plugins after refused uploads: %d %s", a.status, a.body)
	}
	if code := h.tooLarge("/api/v1/locations", "application/json", bytes.NewReader(mid)); code != http.StatusRequestEntityTooLarge && code != statusConnReset {
		t.Fatalf("ingest of 20 KiB, body limit 4 KiB: %d", code)
	}
}
