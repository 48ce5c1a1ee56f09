package api_test

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/host/security"
	"github.com/collision-detection-platform/distributed-platform/host/security/securitytest"
)

func writeFiles(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// With a certificate the API speaks HTTPS only (TLS 1.2+), serves a renewed
// certificate after Reload, and with a client CA requires client
// certificates signed by it.
func TestHTTPSOnly(t *testing.T) {
	ca := securitytest.NewCA(t, "test CA")
	dir := t.TempDir()
	c1, k1 := ca.Server(t, "cdp-1")
	writeFiles(t, dir, map[string][]byte{"cert.pem": c1, "key.pem": k1})
	rl, err := security.NewCertReloader(security.TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *api.Options) { o.TLS = rl.ServerConfig() }, nil)
	addr := strings.TrimPrefix(h.base, "http://")

	resp, err := ca.HTTPClient(nil, 0).Get("https://" + addr + "/api/v1/risks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.PeerCertificates[0].Subject.CommonName != "cdp-1" {
		t.Fatalf("HTTPS: %d %v", resp.StatusCode, resp.TLS)
	}
	// Plain HTTP on the TLS port gets no HTTP answer.
	if resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(h.base + "/api/v1/risks"); err == nil {
		resp.Body.Close()
		t.Fatalf("plain HTTP answered %d", resp.StatusCode)
	}
	// TLS 1.1 is refused.
	if _, err := ca.HTTPClient(nil, tls.VersionTLS11).Get("https://" + addr + "/healthz"); err == nil {
		t.Fatal("a TLS 1.1 client was served")
	}
	// A renewed certificate is served after Reload; a broken file is
	// refused and the previous certificate stays in service.
	c2, k2 := ca.Server(t, "cdp-2")
	writeFiles(t, dir, map[string][]byte{"cert.pem": c2, "key.pem": k2})
	if !rl.Changed() {
		t.Fatal("Changed after the files were replaced: false")
	}
	if err := rl.Reload(); err != nil {
		t.Fatal(err)
	}
	resp, err = ca.HTTPClient(nil, 0).Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cn := resp.TLS.PeerCertificates[0].Subject.CommonName; cn != "cdp-2" {
		t.Fatalf("after reload the server presents %q", cn)
	}
	writeFiles(t, dir, map[string][]byte{"key.pem": k1}) // key of another certificate
	if err := rl.Reload(); err == nil {
		t.Fatal("a key that does not match the certificate was loaded")
	}
	if cn := rl.Certificate().Subject.CommonName; cn != "cdp-2" {
		t.Fatalf("after a failed reload the certificate is %q", cn)
	}
}

// Mutual TLS: a client without a certificate, or with one from another
// CA, cannot connect; one signed by client_ca_file can.
func TestMutualTLS(t *testing.T) {
	ca, clientCA, rogue := securitytest.NewCA(t, "server CA"), securitytest.NewCA(t, "client CA"), securitytest.NewCA(t, "rogue CA")
	dir := t.TempDir()
	c, k := ca.Server(t, "cdp")
	writeFiles(t, dir, map[string][]byte{"cert.pem": c, "key.pem": k, "clients.pem": clientCA.PEM})
	rl, err := security.NewCertReloader(security.TLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"),
		ClientCAFile: filepath.Join(dir, "clients.pem")})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *api.Options) { o.TLS = rl.ServerConfig() }, nil)
	url := "https://" + strings.TrimPrefix(h.base, "http://") + "/api/v1/risks"

	pair := func(ca *securitytest.CA, cn string) *tls.Certificate {
		p := ca.Client(t, cn)
		return &p
	}
	if resp, err := ca.HTTPClient(nil, 0).Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("client without a certificate: %d", resp.StatusCode)
	}
	if resp, err := ca.HTTPClient(pair(rogue, "mallory"), 0).Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("client with a rogue certificate: %d", resp.StatusCode)
	}
	resp, err := ca.HTTPClient(pair(clientCA, "ingest-gw"), 0).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("client with a good certificate: %d", resp.StatusCode)
	}
}
