package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// provisionSecurity builds the authenticator and the audit log, records the
// configuration load, and collects the warnings about unsafe defaults.
func (n *Node) provisionSecurity() error {
	cfg := n.Config
	if cfg.Security.JWT.Enabled {
		a, err := security.NewAuthenticator(config.JWTConfig(cfg.Security.JWT))
		if err != nil {
			return fmt.Errorf("host: security.jwt: %w", err)
		}
		n.Auth = a
	}
	if t := cfg.Security.TLS; t.CertFile != "" {
		r, err := security.NewCertReloader(config.TLSConfig(t))
		if err != nil {
			return fmt.Errorf("host: security.tls: %w", err)
		}
		n.TLS = r
	}
	var sink audit.Sink = audit.SlogSink{Log: n.Logger}
	if dir := cfg.System.DataDir; dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("host: system.data_dir: %w", err)
		}
		f, err := audit.OpenFile(filepath.Join(dir, audit.FileName))
		if err != nil {
			return fmt.Errorf("host: system.data_dir: %w", err)
		}
		n.auditFile, sink = f, f
	}
	log, err := audit.New(context.Background(), sink, n.Logger)
	if err != nil {
		n.closeAudit()
		return fmt.Errorf("host: audit log: %w", err)
	}
	n.Audit = log
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	jwt, tls := "off", "off"
	if n.Auth != nil {
		jwt = "on"
	}
	if n.TLS != nil {
		tls = "on"
	}
	log.Record(audit.Entry{Action: "config.load", Detail: map[string]string{
		"name": cfg.System.Name, "environment": cfg.System.Environment,
		"config_sha256": hex.EncodeToString(sum[:]), "jwt": jwt, "tls": tls,
	}})
	// Client certificates (security.tls.client_ca_file) authenticate too.
	if !cfg.Security.JWT.Enabled && cfg.Security.TLS.ClientCAFile == "" && !loopbackHost(cfg.API.Host) {
		w := fmt.Sprintf("the API listens on %q (api.host), beyond this machine, without authentication (neither security.jwt.enabled nor security.tls.client_ca_file): anyone who can reach it can post locations and read risks", cfg.API.Host)
		n.Warnings = append(n.Warnings, w)
		n.Logger.Warn("security: " + w)
	}
	return nil
}

// closeAudit closes the audit file.
func (n *Node) closeAudit() {
	if n.auditFile != nil {
		_ = n.auditFile.Close()
		n.auditFile = nil
	}
}

// loopbackHost reports whether host (api.host) is a loopback address or
// localhost; "" and 0.0.0.0 listen everywhere.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// watchTLS reloads the certificate on SIGHUP (hup) and, every
// security.tls.watch_interval, when its files changed, until ctx is done.
// Each reload is audited; a failed one keeps the certificate in service.
func (n *Node) watchTLS(ctx context.Context, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if d := n.Config.Security.TLS.WatchInterval; d > 0 {
		t := time.NewTicker(d)
		defer t.Stop()
		tick = t.C
	}
	for {
		trigger := ""
		select {
		case <-ctx.Done():
			return
		case <-hup:
			trigger = "SIGHUP"
		case <-tick:
			if !n.TLS.Changed() {
				continue
			}
			trigger = "file change"
		}
		n.reloadTLS(trigger)
	}
}

// reloadTLS re-reads the certificate files, logs and audits the outcome.
func (n *Node) reloadTLS(trigger string) {
	e := audit.Entry{Action: "tls.reload", Detail: map[string]string{"trigger": trigger, "cert_file": n.Config.Security.TLS.CertFile}}
	if err := n.TLS.Reload(); err != nil {
		e.Outcome, e.Reason = audit.OutcomeFailed, err.Error()
		n.Logger.Error("security: certificate reload failed; the previous certificate stays in service", "trigger", trigger, "err", err)
	} else {
		c := n.TLS.Certificate()
		e.Detail["subject"], e.Detail["not_after"] = c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339)
		n.Logger.Info("security: certificate reloaded", "trigger", trigger, "subject", c.Subject.String(), "not_after", c.NotAfter)
	}
	n.Audit.Record(e)
}
