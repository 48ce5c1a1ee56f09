// Package deploy holds cdp's deployment files — the container image
// (Dockerfile), the compose stack (compose.yaml), Kubernetes manifests and
// the Helm chart, Prometheus rules and the Grafana dashboard, the example
// configuration — and the tests that check them against the real tools and a
// running cdp: promtool, Prometheus itself, and the node's /metrics.
package deploy
