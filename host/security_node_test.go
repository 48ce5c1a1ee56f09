package host

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/security/securitytest"
)

// securedNode runs a node with HTTPS, JWT (HS256) and a data directory.
type securedNode struct {
	n      *Node
	url    string
	dir    string
	secret []byte
	stop   func()
}

func startSecuredNode(t *testing.T, ca *securitytest.CA, watch time.Duration) *securedNode {
	t.Helper()
	dir := t.TempDir()
	cert, key := ca.Server(t, "cdp-1")
	secret := []byte(strings.Repeat("k", 40))
	for name, b := range map[string][]byte{"cert.pem": cert, "key.pem": key, "jwt.secret": secret} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := config.Default()
	cfg.System.DataDir = filepath.Join(dir, "data")
	cfg.API.Host = "127.0.0.1"
	cfg.Security.TLS = config.TLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), WatchInterval: watch}
	cfg.Security.JWT.Enabled = true
	cfg.Security.JWT.SecretFile = filepath.Join(dir, "jwt.secret")
	cfg.Security.JWT.Algorithms = []string{"HS256"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
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
	s := &securedNode{n: n, url: "https://" + ln.Addr().String(), dir: dir, secret: secret}
	s.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() {
		if cancel != nil {
			s.stop()
		}
	})
	return s
}

func (s *securedNode) token(t *testing.T, roles ...string) string {
	c := jwt.MapClaims{"sub": "tester", "exp": time.Now().Add(time.Hour).Unix(), "roles": roles}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// servedCN is the common name of the certificate a new connection sees.
func servedCN(t *testing.T, ca *securitytest.CA, url string) string {
	t.Helper()
	resp, err := ca.HTTPClient(nil, 0).Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.TLS.PeerCertificates[0].Subject.CommonName
}

func waitCN(t *testing.T, ca *securitytest.CA, url, want string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if servedCN(t, ca, url) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the server still presents %q, want %q", servedCN(t, ca, url), want)
}

// A node configured with security.tls and security.jwt serves HTTPS only
// with tokens, reloads its certificate when the files change, and audits
// its configuration load and each reload in a chain that verifies.
func TestNodeHTTPSWithJWTReloadsOnFileChange(t *testing.T) {
	ca := securitytest.NewCA(t, "test CA")
	s := startSecuredNode(t, ca, 50*time.Millisecond)
	client := ca.HTTPClient(nil, 0)
	for i := 0; ; i++ { // Run serves shortly after it starts
		resp, err := client.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp, err := http.Get("http" + strings.TrimPrefix(s.url, "https") + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("plain HTTP answered %d", resp.StatusCode)
	}
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", s.url+"/system/status", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			var st struct {
				Security struct {
					Authentication string
					Warnings       []string
				}
			}
			json.NewDecoder(resp.Body).Decode(&st)
			if st.Security.Authentication != "jwt" || len(st.Security.Warnings) != 0 {
				t.Errorf("status security %+v", st.Security)
			}
		}
		return resp.StatusCode
	}
	if st := get(""); st != http.StatusUnauthorized {
		t.Fatalf("no token: %d", st)
	}
	if st := get(s.token(t, "read")); st != http.StatusOK {
		t.Fatalf("read token: %d", st)
	}

	cert, key := ca.Server(t, "cdp-2")
	os.WriteFile(filepath.Join(s.dir, "key.pem"), key, 0o600)
	os.WriteFile(filepath.Join(s.dir, "cert.pem"), cert, 0o600)
	waitCN(t, ca, s.url, "cdp-2")
	s.stop()
	s.stop = func() {}

	f, err := os.Open(filepath.Join(s.dir, "data", audit.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var actions []string
	if err := audit.Scan(f, func(_ int, e audit.Entry) error { actions = append(actions, e.Action+":"+e.Outcome); return nil }); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(actions, " ")
	if !strings.HasPrefix(joined, "config.load:ok") || !strings.Contains(joined, "auth:denied") || !strings.Contains(joined, "tls.reload:ok") {
		t.Fatalf("audit actions %v", actions)
	}
	f.Seek(0, 0)
	if _, _, err := audit.Verify(f); err != nil {
		t.Fatal(err)
	}
}

// SIGHUP reloads the certificate at once (here with no file watching).
func TestNodeReloadsCertificateOnSIGHUP(t *testing.T) {
	ca := securitytest.NewCA(t, "test CA")
	s := startSecuredNode(t, ca, 0)
	for i := 0; ; i++ {
		resp, err := ca.HTTPClient(nil, 0).Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cert, key := ca.Server(t, "cdp-renewed")
	os.WriteFile(filepath.Join(s.dir, "key.pem"), key, 0o600)
	os.WriteFile(filepath.Join(s.dir, "cert.pem"), cert, 0o600)
	time.Sleep(100 * time.Millisecond)
	if cn := servedCN(t, ca, s.url); cn != "cdp-1" {
		t.Fatalf("without SIGHUP and without watching, the server changed to %q", cn)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitCN(t, ca, s.url, "cdp-renewed")
}

// Listening beyond loopback without authentication is reported at start
// and in /system/status.
func TestNodeWarnsOpenNonLoopback(t *testing.T) {
	for _, tc := range []struct {
		host string
		warn bool
	}{{"0.0.0.0", true}, {"", true}, {"127.0.0.1", false}, {"localhost", false}, {"::1", false}} {
		cfg := config.Default()
		cfg.API.Host = tc.host
		n, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		srv, err := n.API(api.Version{Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.App().Test(httptestRequest("GET", "/system/status"))
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Security struct {
				Authentication string
				Warnings       []string
			}
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		got := len(st.Security.Warnings) > 0 && strings.Contains(st.Security.Warnings[0], "without authentication")
		if got != tc.warn || st.Security.Authentication != "none" {
			t.Errorf("api.host %q: status security %+v, want warning %v", tc.host, st.Security, tc.warn)
		}
		n.closeAudit()
		n.Engine.Close()
	}
}

func httptestRequest(method, path string) *http.Request {
	req, _ := http.NewRequest(method, "http://cdp"+path, nil)
	return req
}
