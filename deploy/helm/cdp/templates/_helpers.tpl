{{- define "cdp.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cdp.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cdp.labels" -}}
app.kubernetes.io/name: {{ include "cdp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cdp.selector" -}}
app.kubernetes.io/name: {{ include "cdp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cdp.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "cdp.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "cdp.fullname" .)) -}}
{{- end -}}

{{/* The pod spec shared by both roles; .role is "api" or "compute". */}}
{{- define "cdp.pod" -}}
{{- $ := .root -}}
{{- $r := index $.Values .role -}}
metadata:
  labels:
    {{- include "cdp.selector" $ | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") $ | sha256sum }}
    {{- if $.Values.metrics.annotations }}
    prometheus.io/scrape: "true"
    prometheus.io/port: {{ $.Values.config.api.port | default 8080 | quote }}
    prometheus.io/path: /metrics
    {{- end }}
spec:
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets: {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext: {{- toYaml $.Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: 30
  containers:
    - name: cdp
      image: {{ include "cdp.image" $ }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      args: ["serve", "--config", "/etc/cdp/cdp.yaml"]
      env:
        # The node id is the pod's name: logs, metrics (cdp_build_info) and
        # system events say which node spoke.
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: CDP_SYSTEM_NAME
          value: $(POD_NAME)
        - name: CDP_SYSTEM_DATA_DIR
          value: /var/lib/cdp
        {{- if eq .role "api" }}
        - name: CDP_MESSAGING_KAFKA_CONSUMER_GROUP
          value: cdp-api-$(POD_NAME)
        - name: CDP_API_ADMIN_ENABLED
          value: {{ $r.admin.enabled | quote }}
        - name: CDP_API_ADMIN_ALLOW
          value: {{ join "," $r.admin.allow | quote }}
        {{- end }}
      ports:
        - {name: http, containerPort: {{ $.Values.config.api.port | default 8080 }}}
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 2
        failureThreshold: 30
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: 10
        failureThreshold: 3
      readinessProbe:
        # 503 while draining, or while the configured Kafka does not answer.
        httpGet: {path: /readyz, port: http}
        periodSeconds: 5
        failureThreshold: 2
      resources: {{- toYaml $r.resources | nindent 8 }}
      securityContext: {{- toYaml $.Values.securityContext | nindent 8 }}
      volumeMounts:
        - {name: config, mountPath: /etc/cdp/cdp.yaml, subPath: cdp.yaml, readOnly: true}
        - {name: secrets, mountPath: /etc/cdp/secrets, readOnly: true}
        - {name: data, mountPath: /var/lib/cdp}
        - {name: tmp, mountPath: /tmp}
  volumes:
    - name: config
      configMap: {name: {{ include "cdp.fullname" $ }}}
    - name: secrets
      secret: {secretName: {{ include "cdp.secretName" $ }}, optional: true}
    - name: tmp
      emptyDir: {}
    {{- if eq .role "api" }}
    - name: data
      emptyDir: {}
    {{- else if not $.Values.compute.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- end }}
  {{- with $.Values.nodeSelector }}
  nodeSelector: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.tolerations }}
  tolerations: {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.affinity }}
  affinity: {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
