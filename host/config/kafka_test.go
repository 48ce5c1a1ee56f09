package config

import (
	"errors"
	"strings"
	"testing"
)

// The messaging.kafka rules: each bad setting is refused with its key.
func TestKafkaValidation(t *testing.T) {
	tests := []struct {
		name, yaml, key string
		reason          error
		msg             string
	}{
		{"start offset", "messaging:\n  kafka:\n    start_offset: beginning\n", "messaging.kafka.start_offset", ErrOutOfRange, "earliest, latest"},
		{"idempotent needs acks all", "messaging:\n  kafka:\n    producer:\n      acks: leader\n", "messaging.kafka.producer.idempotent", ErrConflict, "acks \"all\""},
		{"dead letter is the input", "messaging:\n  kafka:\n    topics:\n      dead_letter: vehicle-locations\n", "messaging.kafka.topics.dead_letter", ErrConflict, "must differ"},
		{"bad dead letter name", "messaging:\n  kafka:\n    topics:\n      dead_letter: \"a b\"\n", "messaging.kafka.topics.dead_letter", ErrOutOfRange, "topic name"},
		{"zero poll", "messaging:\n  kafka:\n    consumer:\n      max_poll_records: 0\n", "messaging.kafka.consumer.max_poll_records", ErrOutOfRange, "> 0"},
		{"commit interval below the floor", "messaging:\n  kafka:\n    consumer:\n      commit_interval: 0.05\n", "messaging.kafka.consumer.commit_interval", ErrOutOfRange, ">= 0.1s"},
		{"buffer bound", "messaging:\n  kafka:\n    producer:\n      max_buffered_records: -1\n", "messaging.kafka.producer.max_buffered_records", ErrOutOfRange, "> 0"},
		{"sasl mechanism", "messaging:\n  kafka:\n    sasl:\n      mechanism: kerberos\n", "messaging.kafka.sasl.mechanism", ErrOutOfRange, "scram-sha-256"},
		{"sasl without user", "messaging:\n  kafka:\n    sasl:\n      mechanism: plain\n      password_file: " + examplePath + "\n", "messaging.kafka.sasl.username", ErrConflict, "must be set"},
		{"sasl without password", "messaging:\n  kafka:\n    sasl:\n      mechanism: plain\n      username: u\n", "messaging.kafka.sasl.password_file", ErrConflict, "exactly one"},
		{"password in the file", "messaging:\n  kafka:\n    sasl:\n      mechanism: plain\n      username: u\n      password: hunter2\n", "messaging.kafka.sasl.password", ErrOutOfRange, "must not be written in a configuration file"},
		{"tls files without tls", "messaging:\n  kafka:\n    tls:\n      ca_file: " + examplePath + "\n", "messaging.kafka.tls.enabled", ErrConflict, "set it to true"},
		{"tls half pair", "messaging:\n  kafka:\n    tls:\n      enabled: true\n      cert_file: " + examplePath + "\n", "messaging.kafka.tls.cert_file", ErrConflict, "set together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Sources{File: writeFile(t, tc.yaml), NoEnv: true})
			if err == nil {
				t.Fatal("accepted")
			}
			found := false
			for _, fe := range FieldErrors(err) {
				if fe.Key == tc.key && errors.Is(fe, tc.reason) && strings.Contains(fe.Msg, tc.msg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want %s (%v) containing %q, got:\n%v", tc.key, tc.reason, tc.msg, err)
			}
		})
	}
}

// The SASL password is accepted from the environment, and the secrets of a
// valid SASL setup load.
func TestKafkaPasswordFromEnv(t *testing.T) {
	t.Setenv("CDP_MESSAGING_KAFKA_SASL_PASSWORD", "hunter2")
	path := writeFile(t, "messaging:\n  kafka:\n    bootstrap_servers: [k:9092]\n    sasl:\n      mechanism: scram-sha-512\n      username: cdp\n")
	c, err := Load(Sources{File: path})
	if err != nil {
		t.Fatal(err)
	}
	if c.Messaging.Kafka.SASL.Password != "hunter2" || c.Messaging.Kafka.SASL.Mechanism != "scram-sha-512" {
		t.Fatalf("got %+v", c.Messaging.Kafka.SASL)
	}
}
