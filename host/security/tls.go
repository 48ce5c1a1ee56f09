package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLSConfig names the files of the HTTPS listener (security.tls).
type TLSConfig struct {
	// CertFile is the PEM certificate chain, leaf first.
	CertFile string
	// KeyFile is the PEM private key of the leaf.
	KeyFile string
	// ClientCAFile, when set, is a PEM bundle of the CAs that sign client
	// certificates; every client must then present one (mutual TLS).
	ClientCAFile string
}

// CertReloader serves the certificate (and client CAs) of its files and
// re-reads them on Reload: a renewed certificate is served to new
// connections without a restart. A reload that fails (a half-written file,
// a key that does not match) keeps the previous certificate in service.
type CertReloader struct {
	cfg  TLSConfig
	cur  atomic.Pointer[tls.Config]
	mu   sync.Mutex // serialises Reload
	seen fileStamps
}

// fileStamps identify the files' versions to notice a change.
type fileStamps [3]struct {
	mod  time.Time
	size int64
}

func (c TLSConfig) stamps() fileStamps {
	var s fileStamps
	for i, f := range []string{c.CertFile, c.KeyFile, c.ClientCAFile} {
		if f == "" {
			continue
		}
		if st, err := os.Stat(f); err == nil {
			s[i].mod, s[i].size = st.ModTime(), st.Size()
		}
	}
	return s
}

// NewCertReloader loads the files once; it fails when they do not hold a
// certificate and its matching key, or the client CA file holds no
// certificate.
func NewCertReloader(c TLSConfig) (*CertReloader, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("security: security.tls.cert_file and security.tls.key_file are both required")
	}
	r := &CertReloader{cfg: c}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload re-reads the files and, when they are valid, serves them to the
// next connections.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamps := r.cfg.stamps()
	cert, err := tls.LoadX509KeyPair(r.cfg.CertFile, r.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("security: security.tls.cert_file/key_file: %w", err)
	}
	if cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
		return fmt.Errorf("security: security.tls.cert_file %s: the certificate expired at %s", r.cfg.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// HTTP/1.1 only: fasthttp does not speak HTTP/2.
		NextProtos: []string{"http/1.1"},
	}
	if r.cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(r.cfg.ClientCAFile)
		if err != nil {
			return fmt.Errorf("security: security.tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("security: security.tls.client_ca_file %s: no PEM certificate", r.cfg.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	r.cur.Store(tc)
	r.seen = stamps
	return nil
}

// Changed reports whether a file changed (modification time or size) since
// the last successful Reload.
func (r *CertReloader) Changed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.stamps() != r.seen
}

// Certificate returns the leaf certificate in service.
func (r *CertReloader) Certificate() *x509.Certificate {
	return r.cur.Load().Certificates[0].Leaf
}

// ServerConfig returns the listener's TLS configuration: TLS 1.2 or newer,
// each handshake served from the files of the last successful Reload.
func (r *CertReloader) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.cur.Load(), nil
		},
	}
}
