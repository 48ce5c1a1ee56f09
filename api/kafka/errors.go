package kafka

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrNoBrokers: the settings name no bootstrap server (Kafka is off).
	ErrNoBrokers = errors.New("kafka: messaging.kafka.bootstrap_servers is empty")
	// ErrOptions: a required option is missing (an engine, a validator).
	ErrOptions = errors.New("kafka: missing option")
	// ErrClosed: the producer was closed.
	ErrClosed = errors.New("kafka: closed")
)
