package kafka

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// PartitionLag is the consumer's position in one partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Next is the offset of the next record to read.
	Next int64 `json:"next"`
	// End is the partition's high watermark at the last fetch.
	End int64 `json:"end"`
	// Lag is End - Next: records written but not yet read.
	Lag int64 `json:"lag"`
}

// Stats is a snapshot of the Kafka edge since start; /system/status, health
// and the Prometheus collector read it.
type Stats struct {
	// Connected is whether the brokers answer: false until the first answer
	// and after a fetch error or a failed probe (a cluster that answers is
	// probed every 5 s), true again once a probe answers or records arrive.
	Connected bool `json:"connected"`
	// LastError is the last connection, fetch or commit problem, "" for none.
	LastError string `json:"last_error,omitempty"`
	// Lag is the consumer's lag per assigned partition of vehicle-locations.
	Lag []PartitionLag `json:"lag"`
	// Messages is the number of vehicle-locations messages consumed.
	Messages uint64 `json:"messages"`
	// Records is the number of records in them (a message may hold a batch).
	Records uint64 `json:"records"`
	// Submitted is the number of records submitted to the engine.
	Submitted uint64 `json:"submitted"`
	// Rejected is the number of records refused (sent to the dead-letter
	// topic), malformed messages included.
	Rejected uint64 `json:"rejected"`
	// Malformed is the number of messages that were not JSON.
	Malformed uint64 `json:"malformed"`
	// FetchErrors counts fetch errors (retried by the client).
	FetchErrors uint64 `json:"fetch_errors"`
	// CommitErrors counts failed synchronous commits (at revoke and stop).
	CommitErrors uint64 `json:"commit_errors"`
	// Polls counts polls that returned records; Settled counts those whose
	// offsets were marked for commit after the engine applied them.
	Polls, Settled uint64
	// EventsProduced is the number of risk events delivered to collision-risks.
	EventsProduced uint64 `json:"events_produced"`
	// SystemEventsProduced is the number of system events delivered.
	SystemEventsProduced uint64 `json:"system_events_produced"`
	// DeadLetters is the number of refused records delivered to the
	// dead-letter topic.
	DeadLetters uint64 `json:"dead_letters"`
	// ProduceErrors counts risk and system records that failed for good
	// (each logged with its id); DeadLetterErrors the same for dead letters.
	ProduceErrors, DeadLetterErrors uint64
	// ProduceRetries counts failed produce requests and connections, which
	// the client retries: it climbs while the cluster is away.
	ProduceRetries uint64 `json:"produce_retries"`
	// Buffered is the number of records waiting for delivery now.
	Buffered int64 `json:"buffered"`
}

// stats fills the consumer's part of s.
func (c *Consumer) stats(s *Stats) {
	t := &c.st
	s.Connected = t.connected.Load()
	if e := t.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	s.Lag = c.lags()
	s.Messages, s.Records, s.Submitted = t.messages.Load(), t.records.Load(), t.updates.Load()
	s.Rejected, s.Malformed = t.rejected.Load(), t.malformed.Load()
	s.FetchErrors, s.CommitErrors = t.fetchErrors.Load(), t.commitErrors.Load()
	s.Polls, s.Settled = t.polls.Load(), t.marked.Load()
}

// stats fills the producer's part of s.
func (p *Producer) stats(s *Stats) {
	t := &p.st
	s.EventsProduced, s.SystemEventsProduced, s.DeadLetters = t.events.Load(), t.system.Load(), t.deadLetters.Load()
	s.ProduceErrors, s.DeadLetterErrors, s.ProduceRetries = t.errors.Load(), t.deadLetterErrors.Load(), t.retries.Load()
	s.Buffered = p.cl.BufferedProduceRecords()
}

// Stats returns the consumer's counters (the producer's fields are zero).
func (c *Consumer) Stats() Stats {
	var s Stats
	c.stats(&s)
	return s
}

// Stats returns the producer's counters (the consumer's fields are zero).
func (p *Producer) Stats() Stats {
	var s Stats
	p.stats(&s)
	return s
}

// collector exports Stats as Prometheus metrics under cdp_kafka_.
type collector struct {
	stats func() Stats
	descs []*prometheus.Desc
}

var (
	descConnected      = prometheus.NewDesc("cdp_kafka_connected", "1 when the Kafka brokers answer.", nil, nil)
	descLag            = prometheus.NewDesc("cdp_kafka_consumer_lag", "Records of vehicle-locations written but not yet read, per partition.", []string{"topic", "partition"}, nil)
	descMessages       = prometheus.NewDesc("cdp_kafka_consumed_messages_total", "vehicle-locations messages consumed.", nil, nil)
	descRecords        = prometheus.NewDesc("cdp_kafka_consumed_records_total", "Records consumed (a message may hold a batch).", nil, nil)
	descSubmitted      = prometheus.NewDesc("cdp_kafka_submitted_records_total", "Records submitted to the engine.", nil, nil)
	descRejected       = prometheus.NewDesc("cdp_kafka_rejected_records_total", "Records refused and sent to the dead-letter topic.", nil, nil)
	descFetchErrors    = prometheus.NewDesc("cdp_kafka_fetch_errors_total", "Fetch errors (retried).", nil, nil)
	descCommitErrors   = prometheus.NewDesc("cdp_kafka_commit_errors_total", "Failed synchronous offset commits.", nil, nil)
	descProduced       = prometheus.NewDesc("cdp_kafka_produced_total", "Records delivered, by kind (risk, system, dead_letter).", []string{"kind"}, nil)
	descProduceErrors  = prometheus.NewDesc("cdp_kafka_produce_errors_total", "Records that failed delivery for good, by kind.", []string{"kind"}, nil)
	descProduceRetries = prometheus.NewDesc("cdp_kafka_produce_retries_total", "Failed produce requests and connections (retried).", nil, nil)
	descBuffered       = prometheus.NewDesc("cdp_kafka_producer_buffered_records", "Records waiting for delivery.", nil, nil)
)

// NewCollector returns a prometheus.Collector of the snapshots stats takes
// (a Bridge's Stats, typically).
func NewCollector(stats func() Stats) prometheus.Collector {
	return &collector{stats: stats, descs: []*prometheus.Desc{descConnected, descLag, descMessages, descRecords,
		descSubmitted, descRejected, descFetchErrors, descCommitErrors, descProduced, descProduceErrors,
		descProduceRetries, descBuffered}}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	conn := 0.0
	if s.Connected {
		conn = 1
	}
	gauge(descConnected, conn)
	for _, l := range s.Lag {
		gauge(descLag, float64(l.Lag), l.Topic, strconv.Itoa(int(l.Partition)))
	}
	counter(descMessages, s.Messages)
	counter(descRecords, s.Records)
	counter(descSubmitted, s.Submitted)
	counter(descRejected, s.Rejected)
	counter(descFetchErrors, s.FetchErrors)
	counter(descCommitErrors, s.CommitErrors)
	counter(descProduced, s.EventsProduced, "risk")
	counter(descProduced, s.SystemEventsProduced, "system")
	counter(descProduced, s.DeadLetters, "dead_letter")
	counter(descProduceErrors, s.ProduceErrors, "risk_or_system")
	counter(descProduceErrors, s.DeadLetterErrors, "dead_letter")
	counter(descProduceRetries, s.ProduceRetries)
	gauge(descBuffered, float64(s.Buffered))
}

var _ prometheus.Collector = (*collector)(nil)
