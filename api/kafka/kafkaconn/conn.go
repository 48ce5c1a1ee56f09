// Package kafkaconn turns the messaging.kafka settings into franz-go client
// options (brokers, client id, TLS, SASL with secrets read from files or the
// environment) and checks a cluster for `cdp kafka check`: connectivity,
// topics and the consumer group's state. It imports no engine code, so the
// command line can use it.
package kafkaconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// ErrConfig is returned when the settings cannot become a client (a TLS
// file that does not parse, an unreadable password file); the error names
// the key.
var ErrConfig = errors.New("kafkaconn: invalid messaging.kafka setting")

// ErrUnreachable is returned by Check when no broker answers.
var ErrUnreachable = errors.New("kafkaconn: no broker reachable")

// settingError names the key at fault.
type settingError struct {
	key string
	err error
}

func (e *settingError) Error() string   { return fmt.Sprintf("kafkaconn: %s: %v", e.key, e.err) }
func (e *settingError) Unwrap() []error { return []error{ErrConfig, e.err} }

// Options returns the options every cdp client shares: seed brokers, client
// id, TLS and SASL. k must be valid (config.Validate). The SASL password file
// is read at each authentication, so a rotated secret is picked up without a
// restart; a password given in the environment is used as is.
func Options(k config.Kafka) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(k.BootstrapServers...),
		kgo.ClientID(k.ClientID),
	}
	if k.TLS.Enabled {
		tc, err := tlsConfig(k.TLS)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if k.SASL.Mechanism != "" {
		s := k.SASL
		if s.PasswordFile != "" {
			if _, err := readSecret(s.PasswordFile); err != nil {
				return nil, &settingError{"messaging.kafka.sasl.password_file", err}
			}
		}
		pass := func() (string, error) {
			if s.PasswordFile == "" {
				return s.Password, nil
			}
			return readSecret(s.PasswordFile)
		}
		switch s.Mechanism {
		case "plain":
			opts = append(opts, kgo.SASL(plain.Plain(func(context.Context) (plain.Auth, error) {
				p, err := pass()
				return plain.Auth{User: s.Username, Pass: p}, err
			})))
		case "scram-sha-256", "scram-sha-512":
			fn := func(context.Context) (scram.Auth, error) {
				p, err := pass()
				return scram.Auth{User: s.Username, Pass: p}, err
			}
			if s.Mechanism == "scram-sha-256" {
				opts = append(opts, kgo.SASL(scram.Sha256(fn)))
			} else {
				opts = append(opts, kgo.SASL(scram.Sha512(fn)))
			}
		default:
			return nil, &settingError{"messaging.kafka.sasl.mechanism", fmt.Errorf("unknown mechanism %q", s.Mechanism)}
		}
	}
	return opts, nil
}

// readSecret returns the first line of a secret file, without its line end.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

func tlsConfig(t config.KafkaTLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, &settingError{"messaging.kafka.tls.ca_file", err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &settingError{"messaging.kafka.tls.ca_file", errors.New("no PEM certificate in the file")}
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, &settingError{"messaging.kafka.tls.cert_file", err}
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Describe says in one line why brokers may be unreachable, for logs: the
// seeds and the cause, without secrets.
func Describe(k config.Kafka, err error) string {
	var ne net.Error
	hint := ""
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		hint = " (timed out: is a firewall in the way?)"
	case strings.Contains(fmt.Sprint(err), "connection refused"):
		hint = " (connection refused: is Kafka running on that port?)"
	case strings.Contains(fmt.Sprint(err), "no such host"):
		hint = " (unknown host name)"
	case strings.Contains(fmt.Sprint(err), "SASL"), strings.Contains(fmt.Sprint(err), "sasl"):
		hint = " (authentication: check messaging.kafka.sasl)"
	case strings.Contains(fmt.Sprint(err), "tls"), strings.Contains(fmt.Sprint(err), "x509"):
		hint = " (TLS: check messaging.kafka.tls)"
	case errors.Is(err, io.EOF) || strings.Contains(fmt.Sprint(err), "closed the connection"):
		// Brokers hang up on failed authentication and on a TLS mismatch.
		switch {
		case k.SASL.Mechanism != "":
			hint = " (the broker hung up: check the credentials and mechanism in messaging.kafka.sasl, and messaging.kafka.tls)"
		case !k.TLS.Enabled:
			hint = " (the broker hung up: does it require TLS (messaging.kafka.tls.enabled) or SASL (messaging.kafka.sasl)?)"
		default:
			hint = " (the broker hung up: does it require SASL (messaging.kafka.sasl)?)"
		}
	}
	return fmt.Sprintf("cannot reach Kafka at %s (messaging.kafka.bootstrap_servers): %v%s",
		strings.Join(k.BootstrapServers, ","), err, hint)
}

// pingTimeout bounds one connectivity probe.
const pingTimeout = 5 * time.Second
