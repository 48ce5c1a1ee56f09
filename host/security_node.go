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
	jwt := "off"
	if n.Auth != nil {
		jwt = "on"
	}
	log.Record(audit.Entry{Action: "config.load", Detail: map[string]string{
		"name": cfg.System.Name, "environment": cfg.System.Environment,
		"config_sha256": hex.EncodeToString(sum[:]), "jwt": jwt,
	}})
	if !cfg.Security.JWT.Enabled && !loopbackHost(cfg.API.Host) {
		w := fmt.Sprintf("the API listens on %q (api.host), beyond this machine, without authentication (security.jwt.enabled is false): anyone who can reach it can post locations and read risks", cfg.API.Host)
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
