package api

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"

	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// benchAuth writes an HS256 secret and RSA and Ed25519 public keys and
// returns the authenticator and a token of each kind with the ingest role.
func benchAuth(tb testing.TB) (*security.Authenticator, map[string]string) {
	dir := tb.TempDir()
	secret := []byte(strings.Repeat("b", 48))
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	epub, epriv, _ := ed25519.GenerateKey(rand.Reader)
	rder, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	eder, _ := x509.MarshalPKIXPublicKey(epub)
	files := map[string][]byte{
		"secret":  secret,
		"rsa.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rder}),
		"ed.pem":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: eder}),
	}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	a, err := security.NewAuthenticator(security.JWTConfig{SecretFile: filepath.Join(dir, "secret"),
		PublicKeyFiles: []string{filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "ed.pem")},
		Algorithms:     []string{"HS256", "RS256", "EdDSA"}, Audience: "cdp", ClockSkew: 30 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	claims := jwt.MapClaims{"sub": "gateway-1", "aud": "cdp", "exp": time.Now().Add(time.Hour).Unix(), "roles": []string{"ingest"}}
	toks := map[string]string{}
	for name, m := range map[string]struct {
		method jwt.SigningMethod
		key    any
	}{"HS256": {jwt.SigningMethodHS256, secret}, "RS256": {jwt.SigningMethodRS256, rk}, "EdDSA": {jwt.SigningMethodEdDSA, epriv}} {
		s, err := jwt.NewWithClaims(m.method, claims).SignedString(m.key)
		if err != nil {
			tb.Fatal(err)
		}
		toks[name] = s
	}
	return a, toks
}

// BenchmarkIngestJWT is REST ingest over loopback (1,000-record batches, 4
// connections) to two servers in one run, one without authentication and one
// checking a JWT on every request; each worker alternates between them so
// both see the same machine load. The engine is a stub that accepts
// everything, so the ratio is that of the API path alone (the worst case:
// with the real engine the token's share is smaller). It reports jwt/off as
// throughput ratios (total time, and median batch time) and the median
// microseconds per batch, for HS256, RS256 and EdDSA tokens.
//
//	go test ./api -run '^$' -bench BenchmarkIngestJWT -benchtime 200x
func BenchmarkIngestJWT(b *testing.B) {
	auth, toks := benchAuth(b)
	body := batchBody(1000, time.Now())
	serve := func(o Options) (string, func()) {
		o.Engine, o.Registerer = &nopEngine{}, prometheus.NewRegistry()
		s, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		go s.Serve(ln)
		return ln.Addr().String(), func() { s.Shutdown(b.Context()) }
	}
	offAddr, stopOff := serve(Options{})
	defer stopOff()
	onAddr, stopOn := serve(Options{Auth: auth})
	defer stopOn()
	for _, alg := range []string{"HS256", "RS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			offC := &fasthttp.HostClient{Addr: offAddr, MaxConns: 4}
			onC := &fasthttp.HostClient{Addr: onAddr, MaxConns: 4}
			// Each worker sends one batch without a token and one with,
			// alternately, timing each request: both servers see the same
			// moment of the machine's load.
			var mu sync.Mutex
			var offT, onT []time.Duration
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
					defer fasthttp.ReleaseRequest(req)
					defer fasthttp.ReleaseResponse(resp)
					send := func(c *fasthttp.HostClient, addr, tok string) time.Duration {
						req.Reset()
						req.SetRequestURI("http://" + addr + "/api/v1/locations")
						req.Header.SetMethod("POST")
						req.Header.SetContentType("application/json")
						if tok != "" {
							req.Header.Set("Authorization", "Bearer "+tok)
						}
						req.SetBody(body)
						start := time.Now()
						if err := c.Do(req, resp); err != nil || resp.StatusCode() != 202 {
							b.Errorf("status %d err %v: %s", resp.StatusCode(), err, resp.Body())
						}
						return time.Since(start)
					}
					var off, on []time.Duration
					for i := w; i < b.N; i += 4 {
						if i%8 < 4 { // alternate which goes first
							off = append(off, send(offC, offAddr, ""))
							on = append(on, send(onC, onAddr, toks[alg]))
						} else {
							on = append(on, send(onC, onAddr, toks[alg]))
							off = append(off, send(offC, offAddr, ""))
						}
					}
					mu.Lock()
					offT, onT = append(offT, off...), append(onT, on...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			if len(offT) == 0 {
				return
			}
			sum := func(ds []time.Duration) (t time.Duration) {
				for _, d := range ds {
					t += d
				}
				return t
			}
			median := func(ds []time.Duration) time.Duration {
				slices.Sort(ds)
				return ds[len(ds)/2]
			}
			b.ReportMetric(float64(sum(offT))/float64(sum(onT)), "jwt/off")
			b.ReportMetric(float64(median(offT))/float64(median(onT)), "jwt/off_median")
			b.ReportMetric(float64(median(offT).Microseconds()), "off_µs/batch")
			b.ReportMetric(float64(median(onT).Microseconds()), "jwt_µs/batch")
		})
	}
}
