// Package k8stest checks the deployment files that need heavy libraries: it
// lints and renders the Helm chart with the helm Go module, decodes every
// rendered and hand-written Kubernetes manifest strictly into the
// Kubernetes API types, and loads the compose stack with compose-go. It is a
// module of its own so that cdp's go.mod does not carry helm and the
// Kubernetes client libraries; `make test` runs it.
package k8stest
