package kafkaconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

func topics() []string {
	t := config.Default().Messaging.Kafka.Topics
	return []string{t.VehicleLocations, t.CollisionRisks, t.SystemEvents, t.DeadLetter}
}

// SASL PLAIN and SCRAM authenticate with the password from a file or from
// the configuration (the environment); a wrong password is reported as
// unreachable with a hint at messaging.kafka.sasl.
func TestCheckWithSASL(t *testing.T) {
	for _, mech := range []struct{ kfake, cdp string }{
		{"PLAIN", "plain"}, {"SCRAM-SHA-256", "scram-sha-256"}, {"SCRAM-SHA-512", "scram-sha-512"},
	} {
		t.Run(mech.cdp, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(),
				kfake.Superuser(mech.kfake, "cdp", "s3cret"), kfake.SeedTopics(1, topics()...))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			k := config.Default().Messaging.Kafka
			k.BootstrapServers = c.ListenAddrs()
			k.SASL = config.KafkaSASL{Mechanism: mech.cdp, Username: "cdp"}
			file := filepath.Join(t.TempDir(), "password")
			if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			k.SASL.PasswordFile = file
			r, err := Check(ctx, k)
			if err != nil || !r.OK() {
				t.Fatalf("password file: %v %+v", err, r)
			}
			k.SASL.PasswordFile, k.SASL.Password = "", "s3cret"
			if r, err := Check(ctx, k); err != nil || !r.OK() {
				t.Fatalf("password: %v %+v", err, r)
			}
			k.SASL.Password = "wrong"
			_, err = Check(ctx, k)
			if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "messaging.kafka.sasl") {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
}

// Options names the key of a setting that cannot become a client.
func TestOptionsNamesTheKey(t *testing.T) {
	k := config.Default().Messaging.Kafka
	k.BootstrapServers = []string{"k:9092"}
	k.TLS = config.KafkaTLS{Enabled: true, CAFile: filepath.Join(t.TempDir(), "missing.pem")}
	if _, err := Options(k); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "messaging.kafka.tls.ca_file") {
		t.Fatalf("missing CA file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	k.TLS.CAFile = bad
	if _, err := Options(k); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad CA file: %v", err)
	}
	k.TLS = config.KafkaTLS{}
	k.SASL = config.KafkaSASL{Mechanism: "plain", Username: "u", PasswordFile: filepath.Join(t.TempDir(), "none")}
	if _, err := Options(k); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "messaging.kafka.sasl.password_file") {
		t.Fatalf("missing password file: %v", err)
	}
}

// Check reports the group's committed lag per partition of vehicle-locations.
func TestCheckReportsGroupLag(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topics()...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := config.Default().Messaging.Kafka
	k.BootstrapServers = c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: k.Topics.VehicleLocations, Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: k.Topics.VehicleLocations, Partition: 0, At: 4, LeaderEpoch: -1})
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, k.ConsumerGroup, offs); err != nil {
		t.Fatal(err)
	}
	r, err := Check(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Group.Lag) != 1 || r.Group.Lag[0].Committed != 4 || r.Group.Lag[0].End != 10 || r.Group.TotalLag != 6 {
		t.Fatalf("group: %+v", r.Group)
	}
	if !r.OK() {
		t.Fatalf("problems: %v", r.Problems)
	}
}
