// Package kafka is cdp's Kafka edge on one node (franz-go): a consumer group
// on vehicle-locations that feeds the engine, and an idempotent producer of
// risk events (collision-risks), node lifecycle events (system-events) and
// refused records (the dead-letter topic).
//
// # Consumer
//
// Each message of vehicle-locations holds one wire record or a batch (a JSON
// array or NDJSON), in the format and with the validation of REST ingest
// (host/ingest). Valid records are normalised and submitted to the engine;
// Engine.Submit blocks while the engine's queue is full, and since the poll
// loop is the caller, fetching stops until the engine catches up (franz-go
// buffers about one fetch per broker meanwhile: consumer.fetch_max_bytes, or
// one record batch when a batch is larger, as Kafka returns at least one).
// A refused record goes to the dead-letter topic, with its reason in headers,
// and the partition moves on.
//
// Offsets are committed at least once, never early: a poll's offsets are
// marked for commit only after Engine.WaitApplied has returned (its records
// are in the state table) and its dead letters are delivered; franz-go
// commits marks every consumer.commit_interval and when partitions are
// revoked. A restart resumes from the commits and re-reads at most what was
// applied but not yet committed; the engine drops those repeats as duplicates
// of the stored state (same time), and any risk event they cause again has
// the same deterministic id.
//
// # Producer
//
// Every risk event goes to collision-risks keyed by its risk id, with the
// event's deterministic id (risk id + "." + sequence) in the header
// cdp-event-id so that a consumer can drop the copies a redelivery makes.
// The producer is idempotent (acks all) and retries until delivered. While
// the cluster is away, records wait in a bounded buffer
// (producer.max_buffered_records); when it is full, Publish blocks: the
// engine's tick waits, its queue fills, REST answers 429 and the consumer
// stops fetching. Ingest slows; nothing accepted is dropped. Records that
// fail for good (producer.delivery_timeout, a record too large, no
// authorization) are counted and logged with their id.
//
// # Operations
//
// Stats is one typed snapshot (per-partition lag, records consumed and
// rejected, events produced, produce errors and retries) that the Prometheus
// collector and status pages read. Package kafkaconn builds the client
// options (TLS, SASL) and checks a cluster (`cdp kafka check`).
package kafka
