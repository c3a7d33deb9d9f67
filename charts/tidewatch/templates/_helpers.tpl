{{/* Name of the chart, shortened to the 63 characters of a label value. */}}
{{- define "tidewatch.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the release's objects: the release name, with the chart name unless the release name contains it. */}}
{{- define "tidewatch.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels that select the operator's pods; never a version. */}}
{{- define "tidewatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tidewatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of every object of the chart. */}}
{{- define "tidewatch.labels" -}}
{{ include "tidewatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tidewatch
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of the chart's ServiceMonitor and PrometheusRule: chart labels, monitoring labels, then the object's own. */}}
{{- define "tidewatch.monitoringLabels" -}}
{{- $labels := merge (dict) .extra .root.Values.monitoringLabels -}}
{{ include "tidewatch.labels" .root }}
{{- range $key, $value := $labels }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{- define "tidewatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tidewatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Leader election is on when more than one replica runs. */}}
{{- define "tidewatch.leaderElection" -}}
{{- if gt (int .Values.replicaCount) 1 }}true{{ else }}false{{ end }}
{{- end }}

{{- define "tidewatch.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
