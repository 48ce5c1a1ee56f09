package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/api"
)

// The dashboard is served at / with its files under /ui/: the page names
// only files cdp serves, compressed when asked, revalidated by ETag.
func TestDashboardServed(t *testing.T) {
	h := newHarness(t, nil, nil)
	a := h.get("/")
	if a.status != http.StatusOK || !strings.Contains(a.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", a.status, a.header.Get("Content-Type"))
	}
	if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	page := string(a.body)
	for _, f := range []string{"ui/app.js", "ui/app.css"} {
		if !strings.Contains(page, f) {
			t.Fatalf("the page does not load %s", f)
		}
		r := h.get("/" + f)
		if r.status != http.StatusOK || len(r.body) < 1000 {
			t.Fatalf("%s: %d, %d bytes", f, r.status, len(r.body))
		}
		if etag := r.header.Get("ETag"); etag == "" {
			t.Fatalf("%s: no ETag", f)
		} else if c := h.do("GET", "/"+f, "", nil, "If-None-Match", etag); c.status != http.StatusNotModified {
			t.Fatalf("%s with its ETag: %d, want 304", f, c.status)
		}
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") {
		t.Fatal("the page loads something from another site")
	}
	gz := h.do("GET", "/ui/world-50m.json", "", nil, "Accept-Encoding", "gzip")
	if gz.status != http.StatusOK || gz.header.Get("Content-Encoding") != "gzip" || len(gz.body) > 400_000 {
		t.Fatalf("world map: %d %q %d bytes", gz.status, gz.header.Get("Content-Encoding"), len(gz.body))
	}
	if a := h.get("/ui/nope.js"); a.status != http.StatusNotFound {
		t.Fatalf("missing file: %d", a.status)
	}
	if a := h.get("/ui/index.html"); a.status != http.StatusNotFound {
		t.Fatalf("/ui/index.html: %d, want 404 (the page is /)", a.status)
	}
}

// GET /api/v1/me tells the dashboard whether this client's admin calls
// would be taken: the same check as the admin endpoints.
func TestMeTellsAdmin(t *testing.T) {
	for _, c := range []struct {
		name  string
		opt   func(*api.Options)
		admin bool
	}{
		{"admin disabled", nil, false},
		{"admin enabled, loopback allowed", func(o *api.Options) { o.AdminEnabled = true }, true},
		{"admin enabled, client not allowed", func(o *api.Options) {
			o.AdminEnabled = true
			o.AdminAllow = []string{"10.0.0.0/8"}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.opt, nil)
			var me struct {
				Admin  bool   `json:"admin"`
				Reason string `json:"reason"`
			}
			h.get("/api/v1/me").json(t, &me)
			if me.Admin != c.admin || (!me.Admin && me.Reason == "") {
				t.Fatalf("me %+v, want admin %v (with a reason when not)", me, c.admin)
			}
			// The server agrees: an admin call is taken or refused alike.
			st := h.get("/admin/plugins/history").status
			if refused := st == http.StatusForbidden; refused == c.admin {
				t.Fatalf("GET /admin/plugins/history: %d while /api/v1/me says admin %v", st, c.admin)
			}
		})
	}
}

// With authentication on, GET /api/v1/me (open) tells each token what it
// may do; the admin routes agree.
func TestMeWithTokens(t *testing.T) {
	h, _, _ := newAuthHarness(t, authConfig(t), nil)
	type me struct {
		Auth, Read, Admin bool
		Subject, Roles    string
		Reason            string
	}
	for _, c := range []struct {
		name        string
		hdr         []string
		read, admin bool
	}{
		{"no token", nil, false, false},
		{"bad token", bearer("not.a.token"), false, false},
		{"read", bearer(signRSA(t, claims("ann", "read"))), true, false},
		{"ingest", bearer(signRSA(t, claims("ivan", "ingest"))), false, false},
		{"admin", bearer(signRSA(t, claims("ada", "admin"))), true, true},
	} {
		var m me
		a := h.do("GET", "/api/v1/me", "", nil, c.hdr...)
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", c.name, a.status, a.body)
		}
		a.json(t, &m)
		if !m.Auth || m.Read != c.read || m.Admin != c.admin || (!m.Admin && m.Reason == "") {
			t.Errorf("%s: %+v, want auth, read %v, admin %v (a reason when not)", c.name, m, c.read, c.admin)
		}
		st, _ := h.statusOf("POST", "/admin/plugins/rollback", c.hdr...)
		if refused := st == http.StatusUnauthorized || st == http.StatusForbidden; refused == c.admin {
			t.Errorf("%s: POST /admin/plugins/rollback answered %d while /api/v1/me says admin %v", c.name, st, c.admin)
		}
		st, _ = h.statusOf("GET", "/api/v1/map?bbox=0,0,1,1", c.hdr...)
		if (st == http.StatusOK) != c.read {
			t.Errorf("%s: GET /api/v1/map answered %d while /api/v1/me says read %v", c.name, st, c.read)
		}
	}
}
