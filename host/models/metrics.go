package models

import (
	"github.com/prometheus/client_golang/prometheus"
)

// collector exports the registry's per-plugin counters; it reads the same
// snapshots as the admin API.
type collector struct{ m *Manager }

var (
	labels       = []string{"plugin", "name", "version"}
	descPairs    = prometheus.NewDesc("cdp_plugin_pairs_total", "Pairs scored by the plugin itself.", labels, nil)
	descVehicles = prometheus.NewDesc("cdp_plugin_vehicles_total", "Vehicles predicted by the plugin itself.", labels, nil)
	descBatches  = prometheus.NewDesc("cdp_plugin_batches_total", "Batches the plugin answered itself.", labels, nil)
	descSeconds  = prometheus.NewDesc("cdp_plugin_batch_seconds_total", "Wall time of the plugin's batches; divide by pairs for the time per pair.", labels, nil)
	descNsPair   = prometheus.NewDesc("cdp_plugin_ns_per_pair", "Mean wall time per scored pair since upload.", labels, nil)
	descFailures = prometheus.NewDesc("cdp_plugin_failures_total", "Failed plugin batches by reason (timeout, trap, exit, guest_error, malformed, instance).", append(labels[:3:3], "reason"), nil)
	descFallback = prometheus.NewDesc("cdp_plugin_fallbacks_total", "Batches of the plugin that another model answered (after a failure or with the breaker open).", labels, nil)
	descState    = prometheus.NewDesc("cdp_plugin_state", "1 for the plugin's current state.", append(labels[:3:3], "state"), nil)
	descSwap     = prometheus.NewDesc("cdp_plugin_swap_latency_seconds", "Time from the plugin's last activation to the first batch it scored.", labels, nil)
	descActs     = prometheus.NewDesc("cdp_plugin_activations_total", "Switches of an active model (activations and rollbacks).", nil, nil)
	descAuto     = prometheus.NewDesc("cdp_plugin_auto_rollbacks_total", "Automatic rollbacks after an active plugin's breaker opened.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPairs, descVehicles, descBatches, descSeconds, descNsPair, descFailures,
		descFallback, descState, descSwap, descActs, descAuto} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descActs, prometheus.CounterValue, float64(c.m.activations.Load()))
	ch <- prometheus.MustNewConstMetric(descAuto, prometheus.CounterValue, float64(c.m.autoRollbacks.Load()))
	for _, in := range c.m.List() {
		l := []string{in.ID[:12], in.Name, in.Version}
		k := in.Counters
		ch <- prometheus.MustNewConstMetric(descPairs, prometheus.CounterValue, float64(k.Pairs), l...)
		ch <- prometheus.MustNewConstMetric(descVehicles, prometheus.CounterValue, float64(k.Vehicles), l...)
		ch <- prometheus.MustNewConstMetric(descBatches, prometheus.CounterValue, float64(k.Batches), l...)
		ch <- prometheus.MustNewConstMetric(descSeconds, prometheus.CounterValue, float64(k.Nanos)/1e9, l...)
		ch <- prometheus.MustNewConstMetric(descNsPair, prometheus.GaugeValue, in.Metrics.NsPerPair, l...)
		ch <- prometheus.MustNewConstMetric(descFallback, prometheus.CounterValue, float64(k.Fallbacks), l...)
		f := k.FailuresByReason
		for reason, v := range map[string]uint64{"timeout": f.Timeout, "trap": f.Trap, "exit": f.Exit,
			"guest_error": f.GuestError, "malformed": f.Malformed, "instance": f.Instance} {
			ch <- prometheus.MustNewConstMetric(descFailures, prometheus.CounterValue, float64(v), append(l, reason)...)
		}
		ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, 1, append(l, string(in.State))...)
		ch <- prometheus.MustNewConstMetric(descSwap, prometheus.GaugeValue, in.Metrics.SwapLatencyMS/1e3, l...)
	}
}

var _ prometheus.Collector = (*collector)(nil)
