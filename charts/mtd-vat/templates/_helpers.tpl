{{/* Chart name, truncated to the 63 characters Kubernetes allows. */}}
{{- define "mtd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-qualified name: the release name alone when it already holds the chart name. */}}
{{- define "mtd.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Kubernetes name of a component: hmrc_gateway -> <fullname>-hmrc-gateway. Call with (list $ "hmrc_gateway"). */}}
{{- define "mtd.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "mtd.fullname" $root) (index . 1 | replace "_" "-") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "mtd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mtd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mtd-vat
{{- end -}}

{{/* Selector labels of a component. Call with (list $ "auth"). */}}
{{- define "mtd.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "mtd.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 | replace "_" "-" }}
{{- end -}}

{{/* Labels of a component's objects. Call with (list $ "auth"). */}}
{{- define "mtd.componentLabels" -}}
{{ include "mtd.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 | replace "_" "-" }}
{{- end -}}

{{/* Environment variable prefix of a service: hmrc_gateway -> HMRC_GATEWAY_. */}}
{{- define "mtd.envPrefix" -}}
{{- printf "%s_" (upper .) -}}
{{- end -}}

{{/* The image reference: repository:tag, or repository:tag@digest when a digest is set. */}}
{{- define "mtd.image" -}}
{{- $image := .Values.image -}}
{{- if $image.digest -}}
{{- printf "%s:%s@%s" $image.repository $image.tag $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository $image.tag -}}
{{- end -}}
{{- end -}}

{{/* A service's settings: `defaults` overlaid with its own entry. Call with (list $ "auth"); returns YAML. */}}
{{- define "mtd.serviceValues" -}}
{{- $root := index . 0 -}}
{{- $own := index $root.Values.services (index . 1) -}}
{{- toYaml (mergeOverwrite (deepCopy $root.Values.defaults) (deepCopy $own)) -}}
{{- end -}}

{{/* In-cluster base URL of a component's Service. Call with (list $ "auth"). */}}
{{- define "mtd.serviceUrl" -}}
{{- $root := index . 0 -}}
{{- printf "http://%s:%v" (include "mtd.componentName" .) $root.Values.containerPort -}}
{{- end -}}

{{/* Whether auth and the gateway talk to the in-cluster HMRC simulator. */}}
{{- define "mtd.useSimulator" -}}
{{- if .Values.services.hmrc_sandbox.enabled -}}true{{- end -}}
{{- end -}}

{{/* HMRC base URL for auth and the gateway. */}}
{{- define "mtd.hmrcBaseUrl" -}}
{{- if include "mtd.useSimulator" . -}}
{{- include "mtd.serviceUrl" (list . "hmrc_sandbox") -}}
{{- else -}}
{{- .Values.hmrc.baseUrl -}}
{{- end -}}
{{- end -}}

{{/* The pod-level settings every workload shares (security context, no token, pull secrets). */}}
{{- define "mtd.podCommon" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml $svc.podSecurityContext | nindent 2 }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $svc.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Vault settings of one service's container (empty unless vault.enabled). Call with (list $ name). */}}
{{- define "mtd.vaultEnv" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- with $root.Values.vault }}
{{- if .enabled }}
- name: MTD_VAULT_ADDR
  value: {{ .address | quote }}
- name: MTD_VAULT_MOUNT
  value: {{ .mount | quote }}
- name: MTD_VAULT_PATH
  value: {{ printf "%s/%s" .pathPrefix $name | quote }}
- name: MTD_VAULT_AUTH_MOUNT
  value: {{ .authMount | quote }}
- name: MTD_VAULT_ROLE
  value: {{ printf "%s%s" .rolePrefix ($name | replace "_" "-") | quote }}
- name: MTD_VAULT_JWT_FILE
  value: /var/run/secrets/vault/token
- name: MTD_VAULT_CACHE_SECONDS
  value: {{ .cacheSeconds | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Common container environment: OTLP resource attributes from the downward API, HOME in /tmp. */}}
{{- define "mtd.commonEnv" -}}
- name: HOME
  value: /tmp
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_RESOURCE_ATTRIBUTES
  value: k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)
{{- end -}}

{{/*
The secrets volume at /run/secrets/mtd: the database URL from its Secret, renamed to the
setting's name (AUTH_DATABASE_URL), plus every key of the service's own Secret when it has
one. Call with (list "auth" $svc "<database secret key>").
*/}}
{{- define "mtd.secretsVolume" -}}
{{- $name := index . 0 -}}
{{- $svc := index . 1 -}}
projected:
  defaultMode: 0440
  sources:
    - secret:
        name: {{ $svc.database.secretName }}
        items:
          - key: {{ index . 2 }}
            path: {{ include "mtd.envPrefix" $name }}DATABASE_URL
    {{- if $svc.secretName }}
    - secret:
        name: {{ $svc.secretName }}
    {{- end }}
{{- end -}}
