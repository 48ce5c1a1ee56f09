package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// testKeys are the signing keys of the authentication tests, made once.
type testKeys struct {
	rsa    *rsa.PrivateKey
	rsaPEM []byte // the public key, as a server would be given it
	ed     ed25519.PrivateKey
	edPEM  []byte
	other  *ecdsa.PrivateKey // a key the server does not know
	secret []byte
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys(t testing.TB) *testKeys {
	keysOnce.Do(func() {
		var err error
		if keys.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&keys.rsa.PublicKey)
		keys.rsaPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		keys.ed = priv
		der, _ = x509.MarshalPKIXPublicKey(pub)
		keys.edPEM = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		keys.other, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		keys.secret = bytes.Repeat([]byte("s3cret-"), 6)
	})
	return &keys
}

// authConfig writes the keys into files and returns the authenticator
// configuration of the tests: RS256 (kid "issuer-rsa") and EdDSA (kid
// "issuer-ed"), issuer "https://idp.test", audience "cdp", 30 s skew.
func authConfig(t testing.TB, algs ...string) security.JWTConfig {
	k := getKeys(t)
	dir := t.TempDir()
	rsaFile, edFile, secretFile := filepath.Join(dir, "issuer-rsa.pem"), filepath.Join(dir, "issuer-ed.pem"), filepath.Join(dir, "hmac.secret")
	for f, b := range map[string][]byte{rsaFile: k.rsaPEM, edFile: k.edPEM, secretFile: append(append([]byte{}, k.secret...), '\n')} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(algs) == 0 {
		algs = []string{"RS256", "EdDSA"}
	}
	c := security.JWTConfig{Algorithms: algs, Issuer: "https://idp.test", Audience: "cdp", ClockSkew: 30 * time.Second}
	for _, a := range algs {
		switch {
		case strings.HasPrefix(a, "HS"):
			c.SecretFile = secretFile
		case a == "EdDSA":
			c.PublicKeyFiles = append(c.PublicKeyFiles, edFile)
		case strings.HasPrefix(a, "RS"):
			c.PublicKeyFiles = append(c.PublicKeyFiles, rsaFile)
		}
	}
	return c
}

// claims are valid claims for subject sub with roles.
func claims(sub string, roles ...string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{"sub": sub, "iss": "https://idp.test", "aud": []string{"cdp"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": roles}
}

// signRSA signs c with the server's RSA key as kid "issuer-rsa".
func signRSA(t testing.TB, c jwt.MapClaims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "issuer-rsa"
	s, err := tok.SignedString(getKeys(t).rsa)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// statusOf sends a request and returns its status without reading a body
// that may never end (the live stream).
func (h *harness) statusOf(method, path string, hdr ...string) (int, http.Header) {
	h.t.Helper()
	var body *strings.Reader
	ct := ""
	if method == http.MethodPost {
		body, ct = strings.NewReader("{}"), "application/json"
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// expectedRole is what each route needs, written here independently of the
// server's policy table: a route that appears without a line here fails the
// test, and so does a table row that grants more or less.
func expectedRole(method, path string) (string, bool) {
	switch {
	case path == "/healthz" || path == "/readyz" || path == "/openapi.json":
		return "open", true
	case method == "GET" && (path == "/" || path == "/ui/:file" || path == "/api/v1/me"):
		return "open", true // the dashboard's page and files, and what a token allows
	case method == "POST" && path == "/api/v1/locations":
		return "ingest", true
	case method == "GET" && (strings.HasPrefix(path, "/api/v1/") || path == "/system/status" || path == "/system/version" || path == "/metrics"):
		return "read", true
	case strings.HasPrefix(path, "/admin/") || path == "/system/export-state" || path == "/system/import-state" || path == "/system/audit":
		return "admin", true
	}
	return "", false
}

func newAuthHarness(t *testing.T, cfg security.JWTConfig, mod func(*api.Options)) (*harness, *audit.Log, string) {
	t.Helper()
	a, err := security.NewAuthenticator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), audit.FileName)
	sink, err := audit.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	log, err := audit.New(context.Background(), sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *api.Options) {
		o.Auth, o.Audit, o.AdminEnabled = a, log, true
		if mod != nil {
			mod(o)
		}
	}, nil)
	return h, log, file
}

// Every registered route × no token and each role: a route needs exactly
// the role of its kind, admin may do everything, open routes need nothing.
func TestAuthorizationEveryRouteEveryRole(t *testing.T) {
	h, _, _ := newAuthHarness(t, authConfig(t), nil)
	tokens := map[string]string{}
	for _, r := range []string{"ingest", "read", "admin"} {
		tokens[r] = signRSA(t, claims("user-"+r, r))
	}
	seen := 0
	for _, r := range h.srv.App().GetRoutes(true) {
		if r.Method == http.MethodHead || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue
		}
		need, ok := expectedRole(r.Method, r.Path)
		if !ok {
			t.Errorf("route %s %s has no expected role in this test: decide its role in routePolicy (api/auth.go) and here", r.Method, r.Path)
			continue
		}
		seen++
		path := strings.NewReplacer(":id", "x").Replace(r.Path)
		st, hdr := h.statusOf(r.Method, path)
		if need == "open" {
			if st == http.StatusUnauthorized || st == http.StatusForbidden {
				t.Errorf("%s %s without a token: %d, want it open", r.Method, path, st)
			}
		} else if st != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s %s without a token: %d (WWW-Authenticate %q), want 401 Bearer", r.Method, path, st, hdr.Get("WWW-Authenticate"))
		}
		for role, tok := range tokens {
			st, _ := h.statusOf(r.Method, path, bearer(tok)...)
			allowed := need == "open" || role == "admin" || role == need
			refused := st == http.StatusUnauthorized || st == http.StatusForbidden
			if allowed == refused {
				t.Errorf("%s %s as %s: %d, want allowed=%v", r.Method, path, role, st, allowed)
			}
			if !allowed && st != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403", r.Method, path, role, st)
			}
		}
	}
	if seen < 20 {
		t.Fatalf("walked %d routes: the route list is not the server's", seen)
	}
	// A path no route serves needs admin too (fail closed), then 404s.
	if st, _ := h.statusOf("GET", "/no/such/route", bearer(tokens["read"])...); st != http.StatusForbidden {
		t.Errorf("unknown route as read: %d, want 403", st)
	}
	if st, _ := h.statusOf("GET", "/no/such/route", bearer(tokens["admin"])...); st != http.StatusNotFound {
		t.Errorf("unknown route as admin: %d, want 404", st)
	}
	// Case and trailing slashes route the same in Fiber: they must not
	// change the policy.
	for _, p := range []string{"/ADMIN/plugins", "/admin/plugins/", "/Admin/Plugins//", "/SYSTEM/export-state"} {
		if st, _ := h.statusOf("GET", p, bearer(tokens["read"])...); st != http.StatusForbidden {
			t.Errorf("GET %s as read: %d, want 403", p, st)
		}
	}
}

// Every way a token can be wrong is refused with 401 and its reason, and
// audited.
func TestAuthorizationBadTokens(t *testing.T) {
	h, log, file := newAuthHarness(t, authConfig(t), nil)
	k := getKeys(t)
	mod := func(f func(jwt.MapClaims)) jwt.MapClaims { c := claims("mallory", "admin"); f(c); return c }

	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims("mallory", "admin")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// The classic confusion: HS256 keyed with the RSA public key the
	// server holds.
	hsTok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("mallory", "admin"))
	hsTok.Header["kid"] = "issuer-rsa"
	confused, _ := hsTok.SignedString(k.rsaPEM)
	unknownKid := jwt.NewWithClaims(jwt.SigningMethodES256, claims("mallory", "admin"))
	unknownKid.Header["kid"] = "attacker"
	unknownKidTok, _ := unknownKid.SignedString(k.other)
	rsUnknownKid := jwt.NewWithClaims(jwt.SigningMethodRS256, claims("mallory", "admin"))
	rsUnknownKid.Header["kid"] = "attacker"
	rsUnknownKidTok, _ := rsUnknownKid.SignedString(k.rsa)
	otherKey := jwt.NewWithClaims(jwt.SigningMethodRS256, claims("mallory", "admin"))
	otherKey.Header["kid"] = "issuer-rsa"
	wrongRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	forged, _ := otherKey.SignedString(wrongRSA)
	good := signRSA(t, claims("alice", "read"))
	i := strings.LastIndexByte(good, '.') + 10
	flip := byte('A')
	if good[i] == 'A' {
		flip = 'B'
	}
	tampered := good[:i] + string(flip) + good[i+1:]

	for _, tc := range []struct {
		name, header, reason string
	}{
		{"no token", "", "no_token"},
		{"not bearer", "Basic YWRtaW46YWRtaW4=", "malformed"},
		{"garbage", "Bearer not.a.token", "malformed"},
		{"expired", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })), "expired"},
		{"no exp", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { delete(c, "exp") })), "expired"},
		{"not yet valid", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() })), "not_yet_valid"},
		{"issued in the future", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(5 * time.Minute).Unix() })), "not_yet_valid"},
		{"wrong audience", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { c["aud"] = "other-service" })), "audience"},
		{"no audience", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { delete(c, "aud") })), "audience"},
		{"wrong issuer", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), "issuer"},
		{"alg none", "Bearer " + none, "algorithm"},
		{"HS256 with the RSA public key", "Bearer " + confused, "algorithm"},
		{"unknown kid (ES256 not allowed)", "Bearer " + unknownKidTok, "algorithm"},
		{"unknown kid", "Bearer " + rsUnknownKidTok, "unknown_kid"},
		{"signed by another key", "Bearer " + forged, "signature"},
		{"tampered signature", "Bearer " + tampered, "signature"},
		{"no subject", "Bearer " + signRSA(t, mod(func(c jwt.MapClaims) { delete(c, "sub") })), "malformed"},
	} {
		var hdr []string
		if tc.header != "" {
			hdr = []string{"Authorization", tc.header}
		}
		a := h.do("GET", "/api/v1/risks", "", nil, append(hdr, "X-Request-ID", "req-"+strings.ReplaceAll(tc.name, " ", "-"))...)
		if a.status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s, want 401", tc.name, a.status, a.body)
			continue
		}
		_, details := a.problem(t)
		if len(details) == 0 || details[0]["reason"] != tc.reason {
			t.Errorf("%s: details %v, want reason %q (%s)", tc.name, details, tc.reason, a.body)
		}
	}
	// A valid token without a cdp role is refused (403), one within the
	// clock skew accepted.
	if a := h.do("GET", "/api/v1/risks", "", nil, bearer(signRSA(t, claims("bob", "viewer")))...); a.status != http.StatusForbidden {
		t.Errorf("token without a cdp role: %d %s", a.status, a.body)
	}
	skewed := mod(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-10 * time.Second).Unix(); c["roles"] = "read ingest" })
	if a := h.do("GET", "/api/v1/risks", "", nil, bearer(signRSA(t, skewed))...); a.status != http.StatusOK {
		t.Errorf("token expired 10 s ago with 30 s skew: %d %s", a.status, a.body)
	}
	ed := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims("carol", "read"))
	edTok, _ := ed.SignedString(k.ed)
	if a := h.do("GET", "/api/v1/risks", "", nil, bearer(edTok)...); a.status != http.StatusOK {
		t.Errorf("EdDSA token without kid: %d %s", a.status, a.body)
	}

	// Every refusal is in the audit log with its reason and request id, and
	// the chain verifies.
	es, err := log.Query(context.Background(), audit.Filter{Action: "auth", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	byReq := map[string]audit.Entry{}
	for _, e := range es {
		byReq[e.RequestID] = e
	}
	for _, want := range []struct{ req, reason string }{{"req-expired", "expired"}, {"req-alg-none", "algorithm"}, {"req-HS256-with-the-RSA-public-key", "algorithm"}} {
		e, ok := byReq[want.req]
		if !ok || e.Outcome != audit.OutcomeDenied || e.Reason != want.reason || !strings.HasPrefix(e.Address, "127.0.0.1:") || e.Detail["route"] != "GET /api/v1/risks" {
			t.Errorf("audit entry of %s: %+v (found %v)", want.req, e, ok)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n, _, err := audit.Verify(f); err != nil || n < 17 {
		t.Fatalf("audit verify: %d entries, %v", n, err)
	}
}

// With HS256 allowed beside RS256, a token keyed with the RSA public key
// still fails: the HMAC secret is the only HMAC key.
func TestAuthorizationAlgorithmConfusionWithHMACAllowed(t *testing.T) {
	h, _, _ := newAuthHarness(t, authConfig(t, "RS256", "HS256"), nil)
	k := getKeys(t)
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("mallory", "admin")).SignedString(k.rsaPEM)
	a := h.do("GET", "/api/v1/risks", "", nil, bearer(tok)...)
	if _, d := a.problem(t); a.status != http.StatusUnauthorized || len(d) == 0 || d[0]["reason"] != "signature" {
		t.Fatalf("HS256 keyed with the public key: %d %s", a.status, a.body)
	}
	good, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("svc", "ingest")).SignedString(k.secret)
	if a := h.do("POST", "/api/v1/locations", "application/json", strings.NewReader("[]"), bearer(good)...); a.status != http.StatusAccepted {
		t.Fatalf("HS256 with the secret: %d %s", a.status, a.body)
	}
}

// Admin calls are audited with subject, address, request id and outcome,
// and admins read them back over the API.
func TestAuditAdminCalls(t *testing.T) {
	h, _, file := newAuthHarness(t, authConfig(t), nil)
	admin := signRSA(t, claims("ops@example.com", "admin"))
	if a := h.do("GET", "/system/export-state", "", nil, append(bearer(admin), "X-Request-ID", "exp-1")...); a.status != http.StatusOK {
		t.Fatalf("export: %d %s", a.status, a.body)
	}
	if a := h.do("POST", "/system/import-state", "application/json", strings.NewReader(`{"version":99}`), append(bearer(admin), "X-Request-ID", "imp-1")...); a.status != http.StatusBadRequest {
		t.Fatalf("bad import: %d %s", a.status, a.body)
	}
	reader := signRSA(t, claims("viewer", "read"))
	if a := h.do("GET", "/system/audit", "", nil, bearer(reader)...); a.status != http.StatusForbidden {
		t.Fatalf("audit as read: %d", a.status)
	}
	a := h.do("GET", "/system/audit?limit=10", "", nil, bearer(admin)...)
	if a.status != http.StatusOK {
		t.Fatalf("audit: %d %s", a.status, a.body)
	}
	var res struct{ Entries []audit.Entry }
	a.json(t, &res)
	got := map[string]audit.Entry{}
	for _, e := range res.Entries {
		got[e.RequestID] = e
	}
	exp, imp := got["exp-1"], got["imp-1"]
	if exp.Action != "GET /system/export-state" || exp.Outcome != audit.OutcomeOK || exp.Subject != "ops@example.com" || exp.Status != 200 {
		t.Errorf("export entry %+v", exp)
	}
	if imp.Action != "POST /system/import-state" || imp.Outcome != audit.OutcomeFailed || imp.Status != 400 || imp.Reason == "" {
		t.Errorf("import entry %+v", imp)
	}
	if deny, ok := got[""]; ok && deny.Action == "" {
		t.Errorf("entry without action: %+v", deny)
	}
	var denied bool
	for _, e := range res.Entries {
		denied = denied || (e.Action == "auth" && e.Subject == "viewer" && e.Reason == "role")
	}
	if !denied {
		t.Errorf("the read token's refused audit call is not audited: %s", a.body)
	}
	// Editing one entry breaks the chain where it was edited.
	b, _ := os.ReadFile(file)
	edited := bytes.Replace(b, []byte(`"subject":"ops@example.com"`), []byte(`"subject":"someone-else"`), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("nothing to edit")
	}
	if _, _, err := audit.Verify(bytes.NewReader(edited)); err == nil || !strings.Contains(err.Error(), "edited") {
		t.Fatalf("verify after an edit: %v", err)
	}
}

// rawStatus writes req on a new connection and returns the status line of
// the answer, or the read error; the server must answer without the body
// the header announces.
func rawStatus(t *testing.T, base, req string) (string, error) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line), err
}

// POST /system/import-state from a client that may not import is refused
// on its header: a 200 MB announcement is answered 413 at once, without
// the server waiting for (or holding) the body. An allowed client gets the
// import limit.
func TestImportRefusedBeforeBody(t *testing.T) {
	announce := "POST /system/import-state HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000000\r\n%s\r\n{"
	outside := newHarness(t, func(o *api.Options) {
		o.AdminEnabled, o.AdminAllow, o.BodyLimit = true, []string{"10.0.0.0/8"}, 1<<20
	}, nil)
	line, err := rawStatus(t, outside.base, strings.Replace(announce, "%s", "", 1))
	if err != nil || !strings.Contains(line, " 413 ") {
		t.Fatalf("client outside api.admin.allow announcing 200 MB: %q, %v; want 413 before the body", line, err)
	}
	// The same body size from an allowed client is read and parsed.
	pad := `{"version":99,"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	inside := newHarness(t, func(o *api.Options) { o.AdminEnabled, o.BodyLimit = true, 1<<20 }, nil)
	if a := inside.do("POST", "/system/import-state", "application/json", strings.NewReader(pad)); a.status != http.StatusBadRequest {
		t.Fatalf("allowed client, 2 MiB snapshot over a 1 MiB body limit: %d %.200s", a.status, a.body)
	}
	if code := outside.tooLarge("/system/import-state", "application/json", strings.NewReader(pad)); code != http.StatusRequestEntityTooLarge && code != statusConnReset {
		t.Fatalf("client outside api.admin.allow, 2 MiB: %d", code)
	}
	// With authentication, an allowed address still needs an admin token
	// before the body is read.
	h, _, _ := newAuthHarness(t, authConfig(t), func(o *api.Options) { o.BodyLimit = 1 << 20 })
	read := "Authorization: Bearer " + signRSA(t, claims("viewer", "read")) + "\r\n"
	if line, err := rawStatus(t, h.base, strings.Replace(announce, "%s", read, 1)); err != nil || !strings.Contains(line, " 413 ") {
		t.Fatalf("read token announcing 200 MB: %q, %v; want 413 before the body", line, err)
	}
	admin := signRSA(t, claims("ops", "admin"))
	if a := h.do("POST", "/system/import-state", "application/json", strings.NewReader(pad), bearer(admin)...); a.status != http.StatusBadRequest {
		t.Fatalf("admin token, 2 MiB snapshot: %d %.200s", a.status, a.body)
	}
}

// A web page on another site cannot post: a body without Content-Type (or
// as text/plain, a form's type) is refused, and so is any state-changing
// request whose Origin is neither this server nor in api.cors_origins.
func TestCrossSitePostsRefused(t *testing.T) {
	h := newHarness(t, func(o *api.Options) {
		o.CORSOrigins = []string{"https://ops.example.com"}
		o.AdminEnabled = true
	}, nil)
	body := "[" + rec("x1", nowUnix(), 0, 0, 0, 1, 1) + "]"
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		if a := h.do("POST", "/api/v1/locations", ct, strings.NewReader(body)); a.status != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d %s, want 415", ct, a.status, a.body)
		}
	}
	if n := h.eng.Stats().Accepted; n != 0 {
		t.Fatalf("%d records accepted from bodies without an ingest Content-Type", n)
	}
	host := strings.TrimPrefix(h.base, "http://")
	for _, tc := range []struct {
		path, ct string
		hdr      []string
		want     int
	}{
		{"/api/v1/locations", "application/json", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"/api/v1/locations", "application/json", []string{"Origin", "null"}, http.StatusForbidden},
		{"/api/v1/locations", "application/json", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"/admin/plugins/rollback", "text/plain", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"/api/v1/locations", "application/json", []string{"Origin", "https://ops.example.com"}, http.StatusAccepted},
		{"/api/v1/locations", "application/json", []string{"Origin", "http://" + host}, http.StatusAccepted},
		{"/api/v1/locations", "application/json", []string{"Sec-Fetch-Site", "same-origin"}, http.StatusAccepted},
		{"/api/v1/locations", "application/json", nil, http.StatusAccepted},
	} {
		if a := h.do("POST", tc.path, tc.ct, strings.NewReader(body), tc.hdr...); a.status != tc.want {
			t.Errorf("POST %s %v: %d %s, want %d", tc.path, tc.hdr, a.status, a.body, tc.want)
		}
	}
	// Reads stay open to any origin (CORS decides what a script may see).
	if a := h.do("GET", "/api/v1/risks", "", nil, "Origin", "https://evil.example"); a.status != http.StatusOK {
		t.Errorf("GET with a foreign Origin: %d", a.status)
	}
}
