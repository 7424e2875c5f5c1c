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
