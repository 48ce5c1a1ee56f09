package k8stest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	release "helm.sh/helm/v4/pkg/release/v1"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes/cdp.yaml from the chart")

const (
	chartDir     = "../helm/cdp"
	manifestFile = "../kubernetes/cdp.yaml"
	namespace    = "cdp"
)

// render is `helm template cdp deploy/helm/cdp --namespace cdp` with vals.
func render(t *testing.T, vals map[string]any) string {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	in := action.NewInstall(&action.Configuration{})
	in.DryRunStrategy = action.DryRunClient
	in.ReleaseName = "cdp"
	in.Namespace = namespace
	in.Replace = true
	r, err := in.Run(ch, vals)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		t.Fatalf("helm template returned a %T", r)
	}
	return rel.Manifest
}

// decodeStrict decodes every document of a manifest stream into its typed
// Kubernetes API object, refusing unknown fields, wrong types and malformed
// quantities: the manifests are checked against the API's schema, not only
// parsed as YAML.
func decodeStrict(t *testing.T, manifest string) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(manifest, -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		var tm struct{ APIVersion, Kind string }
		if err := json.Unmarshal(js, &tm); err != nil || tm.Kind == "" {
			t.Fatalf("document %d has no kind: %v\n%s", i, err, doc)
		}
		gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
		obj, err := scheme.Scheme.New(gvk)
		if err != nil {
			t.Fatalf("document %d: %s is not a Kubernetes API type: %v", i, gvk, err)
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("document %d (%s): %v\n%s", i, gvk.Kind, err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

func TestHelmLint(t *testing.T) {
	l := action.NewLint()
	l.Strict = true
	l.Namespace = namespace
	res := l.Run([]string{chartDir}, nil)
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			t.Errorf("helm lint: %s", m)
		} else {
			t.Logf("helm lint: %s", m)
		}
	}
	for _, err := range res.Errors {
		t.Errorf("helm lint: %v", err)
	}
}

// The chart renders the objects a production deployment needs, and they
// hold together: probes on /healthz and /readyz, the node id from the pod,
// non-root read-only containers with resource requests, selectors that
// select, an HPA on the API Deployment, PDBs and a NetworkPolicy.
func TestChartRendersAValidDeployment(t *testing.T) {
	objs := decodeStrict(t, render(t, nil))
	kinds := map[string]int{}
	var workloads []workload
	for _, o := range objs {
		kind := fmt.Sprintf("%T", o)
		kinds[kind[strings.LastIndex(kind, ".")+1:]]++
		switch w := o.(type) {
		case *appsv1.Deployment:
			workloads = append(workloads, workload{w.Name, w.Spec.Selector.MatchLabels, w.Spec.Template})
		case *appsv1.StatefulSet:
			workloads = append(workloads, workload{w.Name, w.Spec.Selector.MatchLabels, w.Spec.Template})
			if len(w.Spec.VolumeClaimTemplates) != 1 || w.Spec.VolumeClaimTemplates[0].Name != "data" {
				t.Errorf("StatefulSet %s: want a data volume claim", w.Name)
			}
		}
	}
	for kind, n := range map[string]int{"ConfigMap": 1, "Deployment": 1, "StatefulSet": 1, "Service": 2,
		"HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 2, "NetworkPolicy": 1} {
		if kinds[kind] != n {
			t.Errorf("%d %s, want %d (rendered %v)", kinds[kind], kind, n, kinds)
		}
	}
	if len(workloads) != 2 {
		t.Fatalf("workloads: %v", workloads)
	}
	for _, w := range workloads {
		w.check(t)
	}
	for _, o := range objs {
		switch x := o.(type) {
		case *corev1.Service:
			if !selectsOne(x.Spec.Selector, workloads) {
				t.Errorf("Service %s selects no workload: %v", x.Name, x.Spec.Selector)
			}
		case *policyv1.PodDisruptionBudget:
			if !selectsOne(x.Spec.Selector.MatchLabels, workloads) || x.Spec.MaxUnavailable == nil {
				t.Errorf("PodDisruptionBudget %s: %v", x.Name, x.Spec)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if x.Spec.ScaleTargetRef.Kind != "Deployment" || x.Spec.ScaleTargetRef.Name != "cdp-api" || x.Spec.MinReplicas == nil || *x.Spec.MinReplicas < 2 {
				t.Errorf("HPA %s: %+v", x.Name, x.Spec)
			}
		case *networkingv1.NetworkPolicy:
			if !selectsAll(x.Spec.PodSelector.MatchLabels, workloads) || len(x.Spec.Ingress) == 0 || len(x.Spec.Egress) == 0 {
				t.Errorf("NetworkPolicy %s: %+v", x.Name, x.Spec)
			}
		case *corev1.ConfigMap:
			checkConfig(t, x.Data["cdp.yaml"], nil)
		}
	}
}

type workload struct {
	name     string
	selector map[string]string
	pod      corev1.PodTemplateSpec
}

func (w workload) check(t *testing.T) {
	t.Helper()
	if !labels.SelectorFromSet(w.selector).Matches(labels.Set(w.pod.Labels)) {
		t.Errorf("%s: selector %v does not select its pods %v", w.name, w.selector, w.pod.Labels)
	}
	ps := w.pod.Spec
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		t.Errorf("%s: pods may run as root", w.name)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%s: %d containers", w.name, len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("%s: liveness probe %+v, want GET /healthz", w.name, c.LivenessProbe)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("%s: readiness probe %+v, want GET /readyz", w.name, c.ReadinessProbe)
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		t.Errorf("%s: root filesystem not read-only", w.name)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources %+v, want cpu and memory requests and a memory limit", w.name, c.Resources)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" }) {
		t.Errorf("%s: no port named http", w.name)
	}
	var podName, nodeName bool
	for _, e := range c.Env {
		podName = podName || e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		nodeName = nodeName || e.Name == "CDP_SYSTEM_NAME" && e.Value == "$(POD_NAME)"
	}
	if !podName || !nodeName {
		t.Errorf("%s: the node id (system.name) does not come from the pod's name: %+v", w.name, c.Env)
	}
	mounted := map[string]bool{}
	for _, m := range c.VolumeMounts {
		mounted[m.MountPath] = true
	}
	if !mounted["/etc/cdp/cdp.yaml"] || !mounted["/var/lib/cdp"] || !mounted["/tmp"] {
		t.Errorf("%s: mounts %v, want the config, the data dir and /tmp", w.name, c.VolumeMounts)
	}
	// Every variable the pod sets is a cdp configuration key.
	env := map[string]string{}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "CDP_") {
			env[e.Name] = strings.ReplaceAll(e.Value, "$(POD_NAME)", "cdp-pod-0")
		}
	}
	checkEnv(t, w.name, env)
}

func selectsOne(sel map[string]string, ws []workload) bool {
	n := 0
	for _, w := range ws {
		if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.pod.Labels)) {
			n++
		}
	}
	return n == 1
}

func selectsAll(sel map[string]string, ws []workload) bool {
	for _, w := range ws {
		if !labels.SelectorFromSet(sel).Matches(labels.Set(w.pod.Labels)) {
			return false
		}
	}
	return len(sel) > 0
}

// checkConfig loads the rendered cdp.yaml with cdp's own configuration code
// (strict: an unknown key or a bad value is an error naming it) and returns
// the flat keys; want are values it must hold.
func checkConfig(t *testing.T, text string, want map[string]string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "cdp.yaml")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Sources{File: f, NoEnv: true})
	if err != nil {
		t.Fatalf("cdp refuses the rendered cdp.yaml: %v\n%s", err, text)
	}
	flat := config.Flat(cfg)
	for k, v := range want {
		if got := fmt.Sprint(flat[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
}

// checkEnv sets the CDP_ variables and checks that cdp takes each one as a
// configuration key (cdp ignores CDP_ variables that name no key).
func checkEnv(t *testing.T, who string, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	_, prov, err := config.Origins(config.Sources{})
	if err != nil {
		t.Errorf("%s: cdp refuses its environment: %v", who, err)
		return
	}
	used := map[string]bool{}
	for _, src := range prov {
		used[strings.TrimPrefix(src, "env ")] = true
	}
	for k := range env {
		if !used[k] {
			t.Errorf("%s sets %s, which is no cdp configuration key", who, k)
		}
	}
	for k := range env {
		os.Unsetenv(k)
	}
}

// The chart's values map onto cdp's configuration keys: a value under
// config reaches cdp.yaml and cdp reads it; a key cdp does not know is
// refused by cdp, by name.
func TestChartValuesAreConfigKeys(t *testing.T) {
	vals := map[string]any{"config": map[string]any{
		"compute":             map[string]any{"processing_interval": 0.05},
		"collision_detection": map[string]any{"prediction_time": 45},
		"messaging":           map[string]any{"kafka": map[string]any{"bootstrap_servers": []any{"kafka-0.kafka:9092"}}},
	}}
	var cm *corev1.ConfigMap
	for _, o := range decodeStrict(t, render(t, vals)) {
		if c, ok := o.(*corev1.ConfigMap); ok {
			cm = c
		}
	}
	if cm == nil {
		t.Fatal("no ConfigMap rendered")
	}
	checkConfig(t, cm.Data["cdp.yaml"], map[string]string{
		"compute.processing_interval":         "50ms",
		"collision_detection.prediction_time": "45s",
		"messaging.kafka.bootstrap_servers":   "[kafka-0.kafka:9092]",
		"api.host":                            "0.0.0.0",
	})

	bad := render(t, map[string]any{"config": map[string]any{"grid": map[string]any{"shardz": 8}}})
	i := strings.Index(bad, "cdp.yaml: |")
	if i < 0 {
		t.Fatal("no cdp.yaml in the ConfigMap")
	}
	var doc struct {
		Data map[string]string `json:"data"`
	}
	for _, d := range strings.Split(bad, "\n---") {
		if strings.Contains(d, "kind: ConfigMap") {
			if err := yaml.Unmarshal([]byte(d), &doc); err != nil {
				t.Fatal(err)
			}
		}
	}
	f := filepath.Join(t.TempDir(), "cdp.yaml")
	os.WriteFile(f, []byte(doc.Data["cdp.yaml"]), 0o644)
	if _, err := config.Load(config.Sources{File: f, NoEnv: true}); err == nil || !strings.Contains(err.Error(), "grid.shardz") {
		t.Errorf("an unknown key in values.config: %v, want cdp to refuse grid.shardz", err)
	}
}

// deploy/kubernetes/cdp.yaml is the chart rendered with its defaults, plus
// the namespace: `kubectl apply -f deploy/kubernetes/cdp.yaml` without helm.
// Regenerate with `go test -run TestPlainManifests -update`.
func TestPlainManifests(t *testing.T) {
	want := "# Generated from deploy/helm/cdp with its default values (cd deploy/k8stest && go test -run TestPlainManifests -update).\n" +
		"# kubectl apply -f deploy/kubernetes/cdp.yaml\n" +
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + namespace + "\n" + render(t, nil)
	if *update {
		if err := os.WriteFile(manifestFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(manifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from the chart's rendering; regenerate it with -update", manifestFile)
	}
	objs := decodeStrict(t, string(got))
	if _, ok := objs[0].(*corev1.Namespace); !ok {
		t.Fatalf("first object %T, want the Namespace", objs[0])
	}
}
