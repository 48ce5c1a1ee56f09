package models_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/models"
	"github.com/collision-detection-platform/distributed-platform/host/security"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// With plugins.require_signature every way around the signature fails
// closed with its reason in the answer and the audit log: no signature, a
// key that is not trusted, a signature of other bytes, a malformed one. A
// module signed by a trusted key is stored with the key's id, whether the
// signature comes in the header or as a multipart part.
func TestSignedUploadsOverREST(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	trustedPriv, trustedPub, _ := security.GenerateSigningKey()
	roguePriv, _, _ := security.GenerateSigningKey()
	os.WriteFile(filepath.Join(dir, "trusted.pub"), trustedPub, 0o644)
	verifier, err := security.NewPluginVerifier([]string{filepath.Join(dir, "trusted.pub")}, true)
	if err != nil {
		t.Fatal(err)
	}
	trusted, _ := security.ParseSigningKey(trustedPriv)
	rogue, _ := security.ParseSigningKey(roguePriv)

	eng, err := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := plugins.NewRuntime(plugins.RuntimeConfig{})
	defer rt.Close(ctx)
	mgr, err := models.New(ctx, models.Config{Engine: eng, Runtime: rt, Signatures: verifier, Options: plugins.Options{Instances: 1}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer mgr.Close(ctx)
	sink, _ := audit.OpenFile(filepath.Join(dir, audit.FileName))
	defer sink.Close()
	alog, _ := audit.New(ctx, sink, quiet)
	srv, err := api.New(api.Options{Engine: eng, AdminEnabled: true, Plugins: mgr, Audit: alog, Registerer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() { srv.Shutdown(ctx); <-served }()
	base := "http://" + ln.Addr().String()

	module := models.ExampleModule(t, "c-cpa")
	other := append(append([]byte(nil), module...), 0) // other bytes (a trailing byte)
	upload := func(body []byte, sig []byte, reqID string) (int, string) {
		req, _ := http.NewRequest("POST", base+"/admin/plugins?kind=scorer", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/wasm")
		req.Header.Set("X-Request-ID", reqID)
		if sig != nil {
			req.Header.Set("X-CDP-Signature", base64.StdEncoding.EncodeToString(sig))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, tc := range []struct {
		name, reason string
		sig          []byte
	}{
		{"unsigned", "not signed", nil},
		{"untrusted key", "not trusted", security.SignPlugin(rogue, module)},
		{"signature of other bytes", "does not match", security.SignPlugin(trusted, other)},
		{"malformed", "malformed signature", []byte(`{"format":"cdp-plugin-signature-v1","key_id":"x"}`)},
		{"forged key id", "does not match", bytes.Replace(security.SignPlugin(rogue, module),
			[]byte(security.KeyID(rogue.Public().(ed25519.PublicKey))), []byte(security.KeyID(trusted.Public().(ed25519.PublicKey))), 1)},
	} {
		code, body := upload(module, tc.sig, "sig-"+strings.ReplaceAll(tc.name, " ", "-"))
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"cause":"signature"`) || !strings.Contains(body, tc.reason) {
			t.Errorf("%s: %d %s", tc.name, code, body)
		}
	}
	if len(mgr.List()) != 0 {
		t.Fatalf("%d plugins stored after refused signatures", len(mgr.List()))
	}
	es, err := alog.Query(ctx, audit.Filter{Action: "POST /admin/plugins", Outcome: audit.OutcomeFailed, Limit: 100})
	if err != nil || len(es) != 5 {
		t.Fatalf("audit: %d entries, %v", len(es), err)
	}
	for _, e := range es {
		if !strings.HasPrefix(e.RequestID, "sig-") || !strings.Contains(e.Reason, "module refused") || e.Status != 422 {
			t.Errorf("audit entry %+v", e)
		}
	}

	code, body := upload(module, security.SignPlugin(trusted, module), "good")
	if code != http.StatusCreated || !strings.Contains(body, `"signed_by":"`+security.KeyID(trusted.Public().(ed25519.PublicKey))+`"`) {
		t.Fatalf("signed upload: %d %s", code, body)
	}
	// The multipart form carries the signature as its "signature" part.
	pred := models.ExampleModule(t, "turn-predictor")
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	fw, _ := w.CreateFormFile("module", "turn.wasm")
	fw.Write(pred)
	sw, _ := w.CreateFormFile("signature", "turn.wasm.sig")
	sw.Write(security.SignPlugin(trusted, pred))
	w.Close()
	req, _ := http.NewRequest("POST", base+"/admin/plugins", &mp)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("multipart signed upload: %d", resp.StatusCode)
	}
}
