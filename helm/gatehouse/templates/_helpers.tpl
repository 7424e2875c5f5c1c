{{/* Chart name, overridable with nameOverride. */}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: <release>-<chart> unless the release name already contains the chart name. */}}
{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gatehouse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: must never change between upgrades (Deployment selectors are immutable). */}}
{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Selector of the server pods (Deployment and Service). The component label keeps the migrate Job's pod,
which carries the same name/instance labels, out of the Service's endpoints during an upgrade.
*/}}
{{- define "gatehouse.serverSelectorLabels" -}}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ include "gatehouse.chart" . }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "gatehouse.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* The Secret with DATABASE_URL, REDIS_URL, COOKIE_SECRETS, KEY_ENCRYPTION_KEY. */}}
{{- define "gatehouse.secretName" -}}
{{- default (include "gatehouse.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "gatehouse.configMapName" -}}
{{- include "gatehouse.fullname" . }}
{{- end }}

{{/*
Pod-level security context, shared by the Deployment and the migrate Job. 10001 is the USER of the image.
*/}}
{{- define "gatehouse.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security context, shared by the Deployment and the migrate Job. */}}
{{- define "gatehouse.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Environment shared by the Deployment and the migrate Job: the ConfigMap, then the Secret (wins on a clash). */}}
{{- define "gatehouse.envFrom" -}}
- configMapRef:
    name: {{ include "gatehouse.configMapName" . }}
- secretRef:
    name: {{ include "gatehouse.secretName" . }}
{{- end }}

{{- /* CLIENTS_FILE: where the clients file is mounted, and its volume, when clientsFile names an object. */}}
{{- define "gatehouse.clientsFilePath" -}}/etc/gatehouse/clients/clients.yaml{{- end }}

{{- define "gatehouse.clientsVolumeMount" -}}
{{- if or .Values.clientsFile.configMap .Values.clientsFile.secret }}
- name: clients
  mountPath: /etc/gatehouse/clients
  readOnly: true
{{- end }}
{{- end }}

{{- define "gatehouse.clientsVolume" -}}
{{- if .Values.clientsFile.configMap }}
- name: clients
  configMap:
    name: {{ .Values.clientsFile.configMap }}
    items:
      - key: clients.yaml
        path: clients.yaml
{{- else if .Values.clientsFile.secret }}
- name: clients
  secret:
    secretName: {{ .Values.clientsFile.secret }}
    items:
      - key: clients.yaml
        path: clients.yaml
{{- end }}
{{- end }}

{{- /* NODE_EXTRA_CA_CERTS: where the private CA bundle is mounted, and its volume, when extraCaCerts names an object. */}}
{{- define "gatehouse.extraCaCertsPath" -}}/etc/gatehouse/ca/ca.crt{{- end }}

{{- define "gatehouse.extraCaCertsVolumeMount" -}}
{{- if or .Values.extraCaCerts.configMap .Values.extraCaCerts.secret }}
- name: extra-ca-certs
  mountPath: /etc/gatehouse/ca
  readOnly: true
{{- end }}
{{- end }}

{{- define "gatehouse.extraCaCertsVolume" -}}
{{- if .Values.extraCaCerts.configMap }}
- name: extra-ca-certs
  configMap:
    name: {{ .Values.extraCaCerts.configMap }}
    items:
      - key: {{ .Values.extraCaCerts.key }}
        path: ca.crt
{{- else if .Values.extraCaCerts.secret }}
- name: extra-ca-certs
  secret:
    secretName: {{ .Values.extraCaCerts.secret }}
    items:
      - key: {{ .Values.extraCaCerts.key }}
        path: ca.crt
{{- end }}
{{- end }}

{{- /* The separate /metrics port (METRICS_PORT), or nothing when /metrics is off or on the http port. */}}
{{- define "gatehouse.metricsPort" -}}
{{- if and .Values.metrics.enabled .Values.metrics.port }}{{ .Values.metrics.port | int64 }}{{ end }}
{{- end }}

{{/*
Checks that values.schema.json cannot express (it compares no two values). Included by the Deployment,
so `helm install/upgrade/template` stops with the message instead of deploying a pod that would be
killed mid-drain.
*/}}
{{- define "gatehouse.validate" -}}
{{- $drain := add .Values.shutdownDelaySeconds .Values.shutdownTimeoutSeconds }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int $drain) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed shutdownDelaySeconds + shutdownTimeoutSeconds (%d): Kubernetes would SIGKILL pods while they drain" (int .Values.terminationGracePeriodSeconds) (int $drain)) }}
{{- end }}
{{- if eq (int .Values.metrics.port) (int .Values.containerPort) }}
{{- fail "metrics.port must differ from containerPort (0 serves /metrics on the http port)" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.enabled: there is no /metrics to scrape" }}
{{- end }}
{{- if and .Values.clientsFile.configMap .Values.clientsFile.secret }}
{{- fail "set clientsFile.configMap or clientsFile.secret, not both" }}
{{- end }}
{{- if and .Values.extraCaCerts.configMap .Values.extraCaCerts.secret }}
{{- fail "set extraCaCerts.configMap or extraCaCerts.secret, not both" }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.tls.enabled (not .Values.ingress.tls.secretName) }}
{{- fail "ingress.tls.secretName is required when the Ingress terminates TLS (or set ingress.tls.enabled=false when TLS ends in front of it)" }}
{{- end }}
{{- end }}

{{- /* The host the Ingress serves: ingress.host, or the issuer's. */}}
{{- define "gatehouse.ingressHost" -}}
{{- .Values.ingress.host | default (urlParse .Values.issuer).hostname }}
{{- end }}
