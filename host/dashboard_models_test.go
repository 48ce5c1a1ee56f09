package host

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/collision-detection-platform/distributed-platform/examples"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// waitModel reads events until one names a scorer model called name (or,
// with not, one that is not called name).
func waitModel(t testing.TB, events <-chan riskEvent, name string, not bool, timeout time.Duration) riskEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if (ev.Model.Name == name) != not {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event named model %q (not=%v) within %v", name, not, timeout)
		}
	}
}

// TestDashboardModelsAdmin: as an admin (api.admin.enabled, loopback), the
// models panel uploads a plugin, runs it in shadow (its |Δrisk| histogram
// appears), activates it (the next events name it) and rolls back (the
// builtin is named again), each with the server's answer shown.
func TestDashboardModelsAdmin(t *testing.T) {
	if testing.Short() {
		t.Skip("drives chromium and builds a Wasm module")
	}
	module := examples.File(t, "go-cpa")
	cfg := config.Default()
	cfg.API.Admin.Enabled = true
	node := startDashNode(t, cfg, 600, true)
	b := newBrowser(t)
	b.do(chromedp.Navigate(node.base + "/"))
	b.waitFor("the page is live", "document.querySelector('#conn').textContent === 'live'", 20*time.Second)
	b.do(chromedp.Click(chromedp.CSS(`#tabs button[data-tab="models"]`)))
	b.waitFor("the admin controls", "!document.querySelector('#models-admin').hidden && cdp.isAdmin()", 10*time.Second)
	b.waitFor("the active scorer", "document.querySelector('#active-scorer').textContent.includes('builtin')", 10*time.Second)

	// Upload through the form.
	b.do(chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{module}),
		chromedp.Click(chromedp.CSS(`#upload-form button[type="submit"]`)))
	b.waitFor("the upload's answer", "document.querySelector('#admin-answer').textContent.startsWith('upload go-cpa.wasm: 201')", 30*time.Second)
	var list struct {
		Plugins []struct{ ID, Name, Version, State string } `json:"plugins"`
	}
	getJSON(t, node.base+"/admin/plugins", &list)
	if len(list.Plugins) != 1 {
		t.Fatalf("plugins after the upload: %+v", list.Plugins)
	}
	p := list.Plugins[0]
	row := fmt.Sprintf(`#plugins tr[data-id=%q]`, p.ID)
	b.waitFor("the plugin's row", fmt.Sprintf("document.querySelector('%s button[data-act=\"shadow\"]')", row), 10*time.Second)

	// Shadow: the comparison appears with pairs compared.
	b.do(chromedp.Click(chromedp.CSS(row + ` button[data-act="shadow"]`)))
	b.waitFor("the shadow's answer", "/^shadow [0-9a-f]+: 200/.test(document.querySelector('#admin-answer').textContent)", 10*time.Second)
	b.waitFor("the shadow histogram with pairs compared",
		"document.querySelector('#models-shadow .hist') && !/pairs compared0 /.test(document.querySelector('#models-shadow').textContent)", 30*time.Second)
	b.screenshot("dashboard-models", "aside")
	b.do(chromedp.Click(chromedp.CSS(row + ` button[data-act="unshadow"]`)))
	b.waitFor("the stop-shadow answer", "/^unshadow [0-9a-f]+: 200/.test(document.querySelector('#admin-answer').textContent)", 10*time.Second)
	b.waitFor("the activate button", fmt.Sprintf("document.querySelector('%s button[data-act=\"activate\"]')", row), 10*time.Second)

	// Activate: the next events name the plugin, on the stream and on the page.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := watchStream(t, ctx, node.base, "")
	b.do(chromedp.Click(chromedp.CSS(row + ` button[data-act="activate"]`)))
	b.waitFor("the activation's answer", "/^activate [0-9a-f]+: 200/.test(document.querySelector('#admin-answer').textContent)", 10*time.Second)
	ev := waitModel(t, events, p.Name, false, 20*time.Second)
	t.Logf("after activation, event %s names %s %s", ev.Type, ev.Model.Name, ev.Model.Version)
	b.waitFor("the page names the plugin in the latest events",
		fmt.Sprintf("document.querySelector('#latest-model').textContent.startsWith(%q)", p.Name), 20*time.Second)
	b.waitFor("the page names the plugin as the active scorer",
		fmt.Sprintf("document.querySelector('#active-scorer').textContent.startsWith(%q)", p.Name), 10*time.Second)
	b.screenshot("dashboard-models-active", "aside")

	// Roll back: the builtin scores again.
	b.do(chromedp.Click(chromedp.CSS("#rollback-scorer")))
	b.waitFor("the rollback's answer", "document.querySelector('#admin-answer').textContent.startsWith('rollback scorer: 200')", 10*time.Second)
	ev = waitModel(t, events, p.Name, true, 20*time.Second)
	if !strings.Contains(ev.Model.Name, "builtin") {
		t.Fatalf("after the rollback an event names %q, want the builtin scorer", ev.Model.Name)
	}
	b.waitFor("the page names the builtin in the latest events", "document.querySelector('#latest-model').textContent.includes('builtin')", 20*time.Second)
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestDashboardReadOnly: a client the server does not take admin calls
// from sees no admin controls, and the server refuses the calls anyway;
// with authentication on, the page asks for a token, a read token shows
// the traffic without admin controls (admin calls refused with 403), an
// admin token shows them.
func TestDashboardReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("drives chromium")
	}
	b := newBrowser(t)
	refused := func(base string) {
		t.Helper()
		var st []int
		b.eval(`(async () => { const h = {}; const t = sessionStorage.getItem('cdp.token'); if (t) h.Authorization = 'Bearer ' + t;
			const r1 = await fetch('admin/plugins/rollback', {method: 'POST', headers: Object.assign({'Content-Type': 'application/json'}, h), body: '{"kind":"scorer"}'});
			const r2 = await fetch('admin/plugins', {headers: h});
			return [r1.status, r2.status]; })()`, &st)
		if len(st) != 2 || st[0] != http.StatusForbidden || st[1] != http.StatusForbidden {
			t.Fatalf("admin calls from the read-only page: %v, want 403 403", st)
		}
	}

	t.Run("admin disabled", func(t *testing.T) {
		node := startDashNode(t, config.Default(), 200, true)
		b.do(chromedp.Navigate(node.base + "/"))
		b.waitFor("the page is live", "document.querySelector('#conn').textContent === 'live'", 20*time.Second)
		b.waitFor("the role is read-only", "document.querySelector('#role').textContent === 'read-only'", 10*time.Second)
		b.do(chromedp.Click(chromedp.CSS(`#tabs button[data-tab="models"]`)))
		b.waitFor("the active scorer", "document.querySelector('#active-scorer').textContent.includes('builtin')", 10*time.Second)
		var hidden bool
		b.eval("document.querySelector('#models-admin').hidden && !document.querySelector('#models-readonly').hidden && !cdp.isAdmin()", &hidden)
		if !hidden {
			t.Fatal("the admin controls are shown to a client the server refuses")
		}
		refused(node.base)
	})

	t.Run("tokens", func(t *testing.T) {
		secret := []byte("a dashboard test secret of at least 32 bytes")
		file := filepath.Join(t.TempDir(), "jwt.secret")
		if err := os.WriteFile(file, secret, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config.Default()
		cfg.API.Admin.Enabled = true
		cfg.Security.JWT = config.JWT{Enabled: true, SecretFile: file, Algorithms: []string{"HS256"}, ClockSkew: 30 * time.Second, RolesClaim: "roles"}
		node := startDashNode(t, cfg, 200, true)
		sign := func(sub, role string) string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "roles": []string{role},
				"exp": time.Now().Add(time.Hour).Unix()}).SignedString(secret)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		// No token: the page asks for one and polls nothing.
		b.do(chromedp.Navigate(node.base + "/"))
		b.waitFor("the token prompt", "document.querySelector('#token-dialog').open && document.querySelector('#conn').textContent === 'token needed'", 10*time.Second)
		// A read token (as the dialog stores it): traffic, no admin controls.
		b.eval(fmt.Sprintf("sessionStorage.setItem('cdp.token', %q)", sign("reader", "read")), nil)
		b.do(chromedp.Navigate(node.base + "/"))
		b.waitFor("the page is live with a read token", "document.querySelector('#conn').textContent === 'live' && cdp.drawn().drawn > 0", 20*time.Second)
		b.waitFor("the role", "document.querySelector('#role').textContent === 'reader: read-only'", 10*time.Second)
		var hidden bool
		b.eval("document.querySelector('#models-admin').hidden && !cdp.isAdmin()", &hidden)
		if !hidden {
			t.Fatal("the admin controls are shown to a read token")
		}
		refused(node.base)
		// An admin token: the controls appear.
		b.eval(fmt.Sprintf("sessionStorage.setItem('cdp.token', %q)", sign("root", "admin")), nil)
		b.do(chromedp.Navigate(node.base + "/"))
		b.waitFor("the admin controls with an admin token", "!document.querySelector('#models-admin').hidden && cdp.isAdmin() && document.querySelector('#role').textContent === 'root: admin'", 20*time.Second)
	})
}
